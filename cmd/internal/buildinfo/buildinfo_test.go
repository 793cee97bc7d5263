package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestRead(t *testing.T) {
	const rev = "47306d15e6f5a1952bd5327f08803db5a0344fa6"
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want Info
		line string
	}{
		{"nothing recorded", nil, Info{Version: "devel", Go: runtime.Version(), Platform: platform},
			"berth devel " + runtime.Version() + " " + platform},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			Info{Version: "devel", Go: "go1.26.0", Platform: platform}, "berth devel go1.26.0 " + platform},
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.3.0"}},
			Info{Version: "v0.3.0", Go: "go1.26.0", Platform: platform}, "berth v0.3.0 go1.26.0 " + platform},
		{"checkout, modified", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261201111527-47306d15e6f5+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "v0.0.0-20261201111527-47306d15e6f5+dirty", Commit: rev, Modified: true, Go: "go1.26.0", Platform: platform},
			"berth v0.0.0-20261201111527-47306d15e6f5+dirty (commit 47306d15e6f5, modified) go1.26.0 " + platform},
		{"checkout, clean", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}},
			Info{Version: "devel", Commit: rev, Go: "go1.26.0", Platform: platform}, "berth devel (commit 47306d15e6f5) go1.26.0 " + platform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Read(tt.bi)
			if got != tt.want {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
			if got.Line("berth") != tt.line {
				t.Errorf("line = %q, want %q", got.Line("berth"), tt.line)
			}
		})
	}
}
