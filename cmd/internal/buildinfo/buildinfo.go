// Package buildinfo reads what the Go toolchain recorded in a berth
// binary (its module version, commit and toolchain), so `berth version`
// and `berth-runner --version` say the same thing the same way.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is what a binary says of itself.
type Info struct {
	Version  string `json:"version"`            // the module version, or "devel" for a build from a checkout
	Commit   string `json:"commit,omitempty"`   // vcs.revision: the commit built, when the build recorded it
	Modified bool   `json:"modified,omitempty"` // vcs.modified: the checkout had changes not committed
	Go       string `json:"go"`                 // the Go toolchain that built it
	Platform string `json:"platform"`           // GOOS/GOARCH
}

// Current is the running binary's Info.
func Current() Info {
	bi, _ := debug.ReadBuildInfo()
	return Read(bi)
}

// Read reads what the Go toolchain recorded in a binary; bi is nil when
// it recorded nothing.
func Read(bi *debug.BuildInfo) Info {
	v := Info{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return v
	}
	// go install …@v1.2.3 records the version; a build from a checkout
	// records "(devel)", or since Go 1.24 a pseudo-version from the commit.
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// Line is the one line a binary named program prints of itself:
// "berth v1.2.3 (commit 0123456789ab, modified) go1.26.0 linux/amd64".
func (v Info) Line(program string) string {
	s := program + " " + v.Version
	if v.Commit != "" {
		commit := v.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		s += " (commit " + commit
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + v.Go + " " + v.Platform
}
