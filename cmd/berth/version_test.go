package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuildInfo(t *testing.T) {
	const rev = "47306d15e6f5a1952bd5327f08803db5a0344fa6"
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want buildInfo
		line string
	}{
		{"nothing recorded", nil, buildInfo{Version: "devel", Go: runtime.Version(), Platform: platform},
			"berth devel " + runtime.Version() + " " + platform},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			buildInfo{Version: "devel", Go: "go1.26.0", Platform: platform}, "berth devel go1.26.0 " + platform},
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.3.0"}},
			buildInfo{Version: "v0.3.0", Go: "go1.26.0", Platform: platform}, "berth v0.3.0 go1.26.0 " + platform},
		{"checkout, modified", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261201111527-47306d15e6f5+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}},
			buildInfo{Version: "v0.0.0-20261201111527-47306d15e6f5+dirty", Commit: rev, Modified: true, Go: "go1.26.0", Platform: platform},
			"berth v0.0.0-20261201111527-47306d15e6f5+dirty (commit 47306d15e6f5, modified) go1.26.0 " + platform},
		{"checkout, clean", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}},
			buildInfo{Version: "devel", Commit: rev, Go: "go1.26.0", Platform: platform}, "berth devel (commit 47306d15e6f5) go1.26.0 " + platform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readBuildInfo(tt.bi)
			if got != tt.want {
				t.Errorf("readBuildInfo = %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.line {
				t.Errorf("line = %q, want %q", got.String(), tt.line)
			}
		})
	}
}

// TestVersionCommand checks `berth version --json` of a built binary
// names the commit it was built from and the toolchain that built it.
func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "berth ") || !strings.HasSuffix(out.String(), " "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
		t.Errorf("berth version = %q", out.String())
	}

	b, err := exec.Command(berthBinary(t), "version", "--json").Output()
	if err != nil {
		t.Fatalf("berth version --json: %v", err)
	}
	var v buildInfo
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("berth version --json = %q: %v", b, err)
	}
	if v.Go != runtime.Version() || v.Version == "" {
		t.Errorf("berth version --json = %+v, want go %s and a version", v, runtime.Version())
	}
	// go build records the commit of a checkout whose .git is a folder
	// (not of a git worktree's .git file, nor of an export).
	if fi, err := os.Stat(filepath.Join("..", "..", ".git")); err != nil || !fi.IsDir() {
		t.Log("no .git folder at the module root: go build records no commit to check")
		return
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	if want := strings.TrimSpace(string(head)); v.Commit != want {
		t.Errorf("commit = %q, want HEAD %s", v.Commit, want)
	}
}
