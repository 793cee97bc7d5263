package session_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
)

// TestGroupRunnerSourceRuns changes a group's runner-src/ and checks that
// what runs is what it says, container after container: a change runs
// (built once; the next container of the same source builds nothing), a
// source that does not compile leaves the stock runner answering and the
// conversation told once, a reset brings the stock runner back, and a
// symlink planted in the source is refused, never followed.
func TestGroupRunnerSourceRuns(t *testing.T) {
	t.Parallel()
	g, ch := start(t, func(c *session.Config) { c.IdleTimeout = 1500 * time.Millisecond; c.Poll = 200 * time.Millisecond })
	src := filepath.Join(g.Layout.Dir("main"), groups.RunnerSrc)
	echo := filepath.Join(src, "echo.go")
	stock, err := os.ReadFile(echo)
	if err != nil {
		t.Fatal(err)
	}
	const stockLine, customLine = `Text: "echo: " + text}`, `Text: "custom: " + text}`
	if !bytes.Contains(stock, []byte(stockLine)) {
		t.Fatalf("echo.go has no %q", stockLine)
	}
	custom := bytes.Replace(stock, []byte(stockLine), []byte(customLine), 1)
	write := func(b []byte) {
		t.Helper()
		if err := os.Remove(echo); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(echo, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// ask sends text once the session's last container is gone (so a new
	// one runs it) and returns what came back, and how long it took.
	sent := 0
	ask := func(text string, replies int) ([]channels.Outbound, time.Duration) {
		t.Helper()
		if ss := g.Sessions(); len(ss) > 0 {
			deadline := time.Now().Add(60 * time.Second)
			for len(g.Containers(ss[0].ID)) > 0 {
				if time.Now().After(deadline) {
					t.Fatal("the session's container is still there long after its idle timeout")
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		began := time.Now()
		handle(t, g, msg(text))
		got := ch.waitSent(t, sent+replies, 5*time.Minute)
		took := time.Since(began)
		out := got[sent:]
		sent = len(got)
		return out, took
	}
	builds := func() map[string]os.FileInfo {
		t.Helper()
		out := map[string]os.FileInfo{}
		root := paths.Home(g.Home).Runners("main")
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if fi, err := os.Stat(filepath.Join(root, e.Name(), "berth-runner")); err == nil {
				out[e.Name()] = fi
			}
		}
		return out
	}

	// A changed source runs in the next container.
	write(custom)
	got, first := ask("one", 1)
	if got[0].Text != "custom: one" {
		t.Fatalf("reply after the source changed = %q, want the group's own runner's", got[0].Text)
	}
	built := builds()
	if len(built) != 1 {
		t.Fatalf("%d builds of the changed source", len(built))
	}
	// The next container of the same source builds nothing.
	got, cached := ask("two", 1)
	if got[0].Text != "custom: two" {
		t.Fatalf("second container's reply = %q", got[0].Text)
	}
	again := builds()
	for k, fi := range built {
		if a, ok := again[k]; !ok || !os.SameFile(a, fi) || !a.ModTime().Equal(fi.ModTime()) {
			t.Fatalf("the unchanged source was built again: %v then %v", built, again)
		}
	}
	t.Logf("wake to reply: first container of a changed source (build included) %v; next container, built source %v", first, cached)

	// A source that does not compile: the stock runner answers, and the
	// conversation is told, once, with the compiler's words.
	write(bytes.Replace(stock, []byte(stockLine), []byte(`Text: "custom: " + text + undefinedName}`), 1))
	got, _ = ask("three", 2)
	if !strings.Contains(got[0].Text, "does not compile") || !strings.Contains(got[0].Text, "undefinedName") {
		t.Fatalf("notice of the failed build = %q", got[0].Text)
	}
	if got[1].Text != "echo: three" {
		t.Fatalf("reply while the source does not compile = %q, want the stock runner's", got[1].Text)
	}
	got, _ = ask("four", 1)
	if got[0].Text != "echo: four" {
		t.Fatalf("the failure was told twice, or the stock runner did not answer: %q", got[0].Text)
	}

	// berth groups runner reset brings the stock runner back.
	write(custom)
	if got, _ = ask("five", 1); got[0].Text != "custom: five" {
		t.Fatalf("reply = %q", got[0].Text)
	}
	if err := runnerbuild.Reset(src, g.Layout.UID); err != nil {
		t.Fatal(err)
	}
	if got, _ = ask("six", 1); got[0].Text != "echo: six" {
		t.Fatalf("reply after reset = %q, want the stock runner's", got[0].Text)
	}

	// A symlink in the source, to a decoy that would run if followed, is
	// refused: the stock runner answers, and the refusal is told.
	decoy := filepath.Join(t.TempDir(), "echo.go")
	if err := os.WriteFile(decoy, custom, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(echo); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(decoy, echo); err != nil {
		t.Fatal(err)
	}
	got, _ = ask("seven", 2)
	if !strings.Contains(got[0].Text, "was refused") || !strings.Contains(got[0].Text, "symlink") {
		t.Fatalf("notice of the refused source = %q", got[0].Text)
	}
	if got[1].Text != "echo: seven" {
		t.Fatalf("reply with a symlink in the source = %q: it was followed", got[1].Text)
	}
}
