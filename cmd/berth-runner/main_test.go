package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersionFlag builds the runner and checks that --version prints its
// one line (the toolchain that built it) and exits without starting.
func TestVersionFlag(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "berth-runner")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// No /workspace here: a runner that did not exit at the flag would
	// fail to open its databases instead.
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("berth-runner --version: %v", err)
	}
	line := strings.TrimSuffix(string(out), "\n")
	if !strings.HasPrefix(line, "berth-runner ") || !strings.Contains(line, " "+runtime.Version()+" ") ||
		strings.Contains(line, "\n") {
		t.Errorf("berth-runner --version = %q, want one line naming berth-runner and %s", out, runtime.Version())
	}
}
