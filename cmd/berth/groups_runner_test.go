package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data/paths"
)

// TestGroupsRunner: diff shows how a group's runner-src/ differs from the
// stock source, groups show says what its containers run, and reset puts
// the stock source back (removing a planted symlink, not following it).
func TestGroupsRunner(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ok(t, home, "groups", "create", "team")
	src := filepath.Join(home, "groups", "team", "runner-src")
	if out := ok(t, home, "groups", "runner", "diff", "team"); !strings.Contains(out, "is berth's stock source") {
		t.Fatalf("diff of a new group: %q", out)
	}
	var g groupJSON
	decode(t, home, &g, "groups", "show", "team")
	if g.Runner == nil || g.Runner.State != "stock" {
		t.Fatalf("show of a new group: runner %+v", g.Runner)
	}

	echo := filepath.Join(src, "echo.go")
	b, err := os.ReadFile(echo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(echo, []byte(strings.Replace(string(b), `"echo: " + text`, `"custom: " + text`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "agents", "mine.go"), []byte("package agents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := ok(t, home, "groups", "runner", "diff", "team")
	for _, want := range []string{"--- stock/echo.go", "+++ group/echo.go", `+		out = append(out, Reply{InReplyTo: m.ID, Text: "custom: " + text})`, "added: agents/mine.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff has no %q:\n%s", want, out)
		}
	}
	decode(t, home, &g, "groups", "show", "team")
	if g.Runner.State != "changed" || g.Runner.Hash == runnerbuild.StockHash() {
		t.Fatalf("show of a changed source: %+v", g.Runner)
	}
	// What the gateway recorded of this source is what show says.
	if err := runnerbuild.WriteStatus(paths.Home(home), "team", runnerbuild.Status{State: runnerbuild.StateFailed, Hash: g.Runner.Hash, Problem: "echo.go:1: boom"}); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, home, "groups", "show", "team"); !strings.Contains(out, "does not compile") || !strings.Contains(out, "echo.go:1: boom") {
		t.Fatalf("show of a failed build:\n%s", out)
	}

	// A symlink planted in the source: diff refuses (exit 1) naming it,
	// reset removes it; the decoy is untouched.
	decoy := filepath.Join(t.TempDir(), "decoy.go")
	if err := os.WriteFile(decoy, []byte("decoy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(decoy, filepath.Join(src, "link.go")); err != nil {
		t.Fatal(err)
	}
	if errOut, code := refused(home, "groups", "runner", "diff", "team"); code != 1 || !strings.Contains(errOut, "link.go is a symlink") {
		t.Fatalf("diff with a symlink: exit %d, %q", code, errOut)
	}
	decode(t, home, &g, "groups", "show", "team")
	if g.Runner.State != "refused" {
		t.Fatalf("show with a symlink: %+v", g.Runner)
	}
	ok(t, home, "groups", "runner", "reset", "team")
	if out := ok(t, home, "groups", "runner", "diff", "team"); !strings.Contains(out, "is berth's stock source") {
		t.Fatalf("diff after reset: %q", out)
	}
	if b, err := os.ReadFile(decoy); err != nil || string(b) != "decoy\n" {
		t.Fatalf("the decoy changed: %q, %v", b, err)
	}
	if errOut, code := refused(home, "groups", "runner", "reset", "nosuch"); code != 1 || !strings.Contains(errOut, "nosuch") {
		t.Fatalf("reset of no group: exit %d, %q", code, errOut)
	}
}

// refused runs a command expected to fail: its error output and message,
// and its exit code.
func refused(home string, args ...string) (string, int) {
	var errb bytes.Buffer
	err := run(context.Background(), append(args, "--home", home), strings.NewReader(""), &bytes.Buffer{}, &errb)
	msg := errb.String()
	if err != nil {
		msg += err.Error()
	}
	return msg, exitCode(err)
}

// TestDoctorRunnerBuild: without Go on PATH, doctor warns (berth still
// runs: every group on the stock runner) and says what to install.
func TestDoctorRunnerBuild(t *testing.T) {
	if r := checkRunnerBuild(context.Background()); r.status != checkOK {
		t.Logf("this host cannot build a group's runner source: %s", r.detail)
	}
	t.Setenv("PATH", t.TempDir())
	r := checkRunnerBuild(context.Background())
	if r.status != checkWarn || !strings.Contains(r.detail, "go is not on PATH") || !strings.Contains(r.fix, "gcc") {
		t.Fatalf("without go: %+v", r)
	}
}
