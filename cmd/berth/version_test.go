package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-dev/berth/cmd/internal/buildinfo"
)

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
	var v buildinfo.Info
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
