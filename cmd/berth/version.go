package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// buildInfo is what `berth version` says of this binary.
type buildInfo struct {
	Version  string `json:"version"`            // the module version, or "devel" for a build from a checkout
	Commit   string `json:"commit,omitempty"`   // vcs.revision: the commit built, when the build recorded it
	Modified bool   `json:"modified,omitempty"` // vcs.modified: the checkout had changes not committed
	Go       string `json:"go"`                 // the Go toolchain that built it
	Platform string `json:"platform"`           // GOOS/GOARCH
}

// versionCommand is `berth version`.
func (c *commandLine) versionCommand() *ffcli.Command {
	fs := c.flagSet("version")
	asJSON := fs.Bool("json", false, "print JSON")
	return c.command(leaf{fs: fs, usage: "version [--json]", help: "print berth's version, commit and Go version",
		run: func(context.Context, []string) error {
			bi, _ := debug.ReadBuildInfo()
			v := readBuildInfo(bi)
			if *asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			_, err := fmt.Fprintln(c.stdout, v)
			return err
		}})
}

// readBuildInfo reads what the Go toolchain recorded in the binary; bi is
// nil when it recorded nothing.
func readBuildInfo(bi *debug.BuildInfo) buildInfo {
	v := buildInfo{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
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

// String is the one line `berth version` prints:
// "berth v1.2.3 (commit 0123456789ab, modified) go1.26.0 linux/amd64".
func (v buildInfo) String() string {
	s := "berth " + v.Version
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

// version is the module version, for `berth status`.
func version() string {
	bi, _ := debug.ReadBuildInfo()
	return readBuildInfo(bi).Version
}
