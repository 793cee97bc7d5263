package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data/logs"
	"github.com/berth-dev/berth/data/paths"
)

// fakeOutput is a container runtime whose containers print fixed output.
type fakeOutput struct {
	mu      sync.Mutex
	stdout  []string // written in pieces
	stderr  []string
	created time.Time
	since   []time.Time // what each LogsSince call asked for
}

func (f *fakeOutput) LogsSince(ctx context.Context, id string, since time.Time, stdout, stderr io.Writer) error {
	f.mu.Lock()
	f.since = append(f.since, since)
	f.mu.Unlock()
	for _, s := range f.stdout {
		stdout.Write([]byte(s))
	}
	for _, s := range f.stderr {
		stderr.Write([]byte(s))
	}
	return nil
}

func (f *fakeOutput) Inspect(ctx context.Context, id string) (container.Info, error) {
	return container.Info{ID: id, Created: f.created}, nil
}

func TestCaptureWritesTaggedLines(t *testing.T) {
	home := t.TempDir()
	src := &fakeOutput{
		stdout:  []string{"hel", "lo\nwor", "ld\r\n", "no newline at the end"},
		stderr:  []string{`{"msg":"runner started"}` + "\n", "token xoxb-1234-abcdefgh leaked\n"},
		created: time.Now(),
	}
	c := newContainerLogs(home, src, nil, newRedactor(nil))
	c.Capture(sessA, "c1")
	c.close(time.Second)
	b, err := os.ReadFile(paths.Home(home).SessionLog(sessA))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []struct{ stream, text string }{
		{"stdout", "hello"}, {"stdout", "world"},
		{"stderr", `{"msg":"runner started"}`}, {"stderr", "token [redacted] leaked"},
		{"stdout", "no newline at the end"}, // a partial last line is written when the output ends
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), b)
	}
	for i, w := range want {
		e, ok := logs.ParseContainerLine(lines[i])
		if !ok || e.Level != w.stream || e.Msg != w.text || time.Since(e.Time) > time.Minute {
			t.Errorf("line %d = %q, want %s %q", i, lines[i], w.stream, w.text)
		}
	}
	if got := lastStamp(paths.Home(home).SessionLog(sessA)); got.IsZero() {
		t.Error("lastStamp found no time")
	}
}

// TestCaptureAdoptedContinues checks that capturing a container again
// (after a restart) asks only for output after the last captured line,
// while a container created later is read from its start.
func TestCaptureAdoptedContinues(t *testing.T) {
	home := t.TempDir()
	src := &fakeOutput{stdout: []string{"one\n"}, created: time.Now().Add(-time.Hour)}
	c := newContainerLogs(home, src, nil, nil)
	c.Capture(sessA, "c1")
	c.Capture(sessA, "c1") // adopted after a restart: same container
	src.created = time.Now().Add(time.Hour)
	c.Capture(sessA, "c2") // a new container of the session
	c.close(time.Second)
	if len(src.since) != 3 {
		t.Fatalf("%d captures", len(src.since))
	}
	if !src.since[0].IsZero() || src.since[1].IsZero() || !src.since[2].IsZero() {
		t.Fatalf("since = %v; want zero, the last line's time, zero", src.since)
	}
}

func TestCaptureRefusesBadSessionID(t *testing.T) {
	home := t.TempDir()
	c := newContainerLogs(home, &fakeOutput{stdout: []string{"x\n"}}, nil, nil)
	c.Capture("../escape", "c1")
	c.close(time.Second)
	if _, err := os.Stat(filepath.Join(paths.Home(home).Logs(), "escape.log")); err == nil {
		t.Fatal("wrote outside the sessions folder")
	}
}

func TestLineWriterSplitsLongLines(t *testing.T) {
	var out bytes.Buffer
	w := &lineWriter{out: &out, stream: "stdout"}
	w.Write(bytes.Repeat([]byte("y"), maxCapturedLine+10))
	w.flush()
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Fatalf("%d lines, want 2", n)
	}
}
