package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/data/logs"
	"github.com/berth-dev/berth/data/paths"
)

const (
	sessA = "aaaa111122223333"
	sessB = "bbbb444455556666"
)

// logLine is one gateway log line to write.
type logLine struct {
	at    time.Time
	level slog.Level
	msg   string
	attrs []any
}

// writeGatewayLog appends lines in slog's JSON form, as berth writes them.
func writeGatewayLog(t *testing.T, path string, lines ...logLine) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o700)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})
	for _, l := range lines {
		r := slog.NewRecord(l.at, l.level, l.msg, 0)
		r.Add(l.attrs...)
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// logsFixture writes a gateway log with lines of two sessions, two groups and
// two channels, one minute apart, starting base.
func logsFixture(t *testing.T, home string, base time.Time) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	writeGatewayLog(t, paths.Home(home).GatewayLog(),
		logLine{at(0), slog.LevelInfo, "metrics", []any{"addr", "http://127.0.0.1:9464/metrics"}},
		logLine{at(1), slog.LevelInfo, "routed", []any{"channel", "slack", "group", "main", "session", sessA, "message", "m1"}},
		logLine{at(2), slog.LevelInfo, "woke", []any{"session", sessA, "group", "main", "container", "c0ffee", "cold", true}},
		logLine{at(3), slog.LevelInfo, "routed", []any{"channel", "discord", "group", "ops", "session", sessB, "message", "m2"}},
		logLine{at(4), slog.LevelInfo, "delivered", []any{"channel", "slack", "session", sessA, "group", "main", "reply", "r1"}},
		logLine{at(5), slog.LevelError, "delivery-failed", []any{"channel", "discord", "session", sessB, "group", "ops", "err", "429 too many"}},
		logLine{at(6), slog.LevelInfo, "dropped", []any{"channel", "slack", "reason", "unwired channel"}},
		logLine{at(7), slog.LevelDebug, "dropped", []any{"channel", "slack", "reason", "duplicate"}},
	)
}

// logsRun runs `berth logs` in-process and returns its output lines.
func logsRun(t *testing.T, home string, args ...string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := cmdLogs(context.Background(), append([]string{"--home", home}, args...), &out, &errOut); err != nil {
		t.Fatalf("berth logs %v: %v\n%s", args, err, errOut.String())
	}
	s := strings.TrimSuffix(out.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestLogsFilters(t *testing.T) {
	home := t.TempDir()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	logsFixture(t, home, base)
	tests := []struct {
		name string
		args []string
		want []string // message of each line, in order
	}{
		{"all", nil, []string{"metrics", "routed", "woke", "routed", "delivered", "delivery-failed", "dropped", "dropped"}},
		{"session", []string{"--session", sessA}, []string{"routed", "woke", "delivered"}},
		{"session prefix", []string{"--session", "bbbb"}, []string{"routed", "delivery-failed"}},
		{"unknown session", []string{"--session", "cccc"}, nil},
		{"group", []string{"--group", "ops"}, []string{"routed", "delivery-failed"}},
		{"channel", []string{"--channel", "slack"}, []string{"routed", "delivered", "dropped", "dropped"}},
		{"level", []string{"--level", "error"}, []string{"delivery-failed"}},
		{"level and channel", []string{"--level", "info", "--channel", "slack"}, []string{"routed", "delivered", "dropped"}},
		{"since", []string{"--since", base.Add(150 * time.Second).Format(time.RFC3339)}, []string{"routed", "delivered", "delivery-failed", "dropped", "dropped"}},
		{"last n", []string{"-n", "2"}, []string{"dropped", "dropped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := logsRun(t, home, tt.args...)
			var got []string
			for _, l := range lines {
				f := strings.Fields(l) // date time level msg …
				if len(f) < 4 {
					t.Fatalf("short line %q", l)
				}
				got = append(got, f[3])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %q\nwant %q\n%s", got, tt.want, strings.Join(lines, "\n"))
			}
		})
	}
}

// TestLogsSessionExactLines checks --session shows exactly that session's
// lines, byte for byte with --json and readably without.
func TestLogsSessionExactLines(t *testing.T) {
	home := t.TempDir()
	logsFixture(t, home, time.Now().Add(-time.Hour))
	raw, _ := os.ReadFile(paths.Home(home).GatewayLog())
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.Contains(l, `"session":"`+sessA+`"`) {
			want = append(want, l)
		}
	}
	if got := logsRun(t, home, "--session", sessA, "--json"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("--json got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got := logsRun(t, home, "--session", sessA[:6])
	if len(got) != len(want) {
		t.Fatalf("%d readable lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, l := range got {
		if !strings.Contains(l, "session="+sessA) || strings.Contains(l, sessB) {
			t.Errorf("line not of session %s: %q", sessA, l)
		}
	}
	if !strings.Contains(got[1], "INFO  woke session="+sessA+" group=main container=c0ffee cold=true") {
		t.Errorf("readable form: %q", got[1])
	}
}

// TestLogsContainersMerged checks container output is interleaved with
// the gateway's lines in time order and tagged with its session.
func TestLogsContainersMerged(t *testing.T) {
	home := t.TempDir()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	logsFixture(t, home, base)
	dir := paths.Home(home).SessionLogs()
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, sessA+".log"), []byte(
		base.Add(90*time.Second).Format(time.RFC3339Nano)+` stderr {"time":"x","level":"INFO","msg":"runner started","provider":"echo"}`+"\n"+
			base.Add(210*time.Second).Format(time.RFC3339Nano)+" stdout plain output\n"), 0o600)
	os.WriteFile(filepath.Join(dir, sessB+".log"), []byte(base.Add(200*time.Second).Format(time.RFC3339Nano)+" stdout other session\n"), 0o600)

	got := logsRun(t, home, "--session", sessA, "--containers")
	want := []string{"routed", "runner started", "woke", "plain output", "delivered"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) || !strings.Contains(got[i], sessA) {
			t.Errorf("line %d = %q, want %q of session %s", i, got[i], w, sessA)
		}
	}
	if !strings.Contains(got[1], "stderr runner started session="+sessA+" level=INFO provider=echo") {
		t.Errorf("container line form: %q", got[1])
	}
	all := logsRun(t, home, "--containers", "--json")
	if n := len(all); n != 8+3 {
		t.Fatalf("all sessions: %d lines, want 11:\n%s", n, strings.Join(all, "\n"))
	}
	if !strings.Contains(strings.Join(all, "\n"), `"session":"`+sessB+`","stream":"stdout","line":"other session"`) {
		t.Errorf("--json container line missing:\n%s", strings.Join(all, "\n"))
	}
}

// TestLogsSinceReadsRotatedFiles checks --since reads backups in order,
// and skips backups written before it.
func TestLogsSinceReadsRotatedFiles(t *testing.T) {
	home := t.TempDir()
	dir := paths.Home(home).Logs()
	now := time.Now()
	mk := func(name string, at time.Time, msg string) {
		p := filepath.Join(dir, name)
		writeGatewayLog(t, p, logLine{at, slog.LevelInfo, msg, nil})
		os.Chtimes(p, at, at)
	}
	mk("berth-2020-01-01T00-00-00.000.log", now.Add(-48*time.Hour), "ancient")
	mk("berth-2020-01-02T00-00-00.000.log", now.Add(-50*time.Minute), "older")
	mk("berth-2020-01-03T00-00-00.000.log", now.Add(-30*time.Minute), "old")
	mk("berth.log", now.Add(-time.Minute), "new")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--since", "1h"}, "older old new"},
		{[]string{"--since", "40m"}, "old new"},
		{[]string{"--since", "3d"}, "ancient older old new"},
		{nil, "new"},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range logsRun(t, home, tt.args...) {
			got = append(got, strings.Fields(l)[3])
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%v: got %q, want %q", tt.args, got, tt.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until the buffer holds want.
func waitOutput(t *testing.T, b *lockedBuffer, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %v; output:\n%s", want, timeout, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLogsFollowAcrossRotation follows the log while lines are appended,
// the file is renamed away (with a last line written just before) and a
// new one is created, as lumberjack rotates.
func TestLogsFollowAcrossRotation(t *testing.T) {
	home := t.TempDir()
	path := paths.Home(home).GatewayLog()
	line := func(p, msg string) {
		writeGatewayLog(t, p, logLine{time.Now(), slog.LevelInfo, msg, []any{"session", sessA}})
	}
	line(path, "before-start")
	writeGatewayLog(t, path, logLine{time.Now(), slog.LevelInfo, "other-session", []any{"session", sessB}})

	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- cmdLogs(ctx, []string{"--home", home, "-f", "--session", sessA}, &out, &out) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("berth logs -f: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("berth logs -f did not stop")
		}
	}()
	waitOutput(t, &out, "before-start", 5*time.Second)
	line(path, "appended")
	waitOutput(t, &out, "appended", 5*time.Second)

	// Rotate: one last line into the old file, rename it, start a new one.
	line(path, "last-before-rotation")
	rotated := filepath.Join(paths.Home(home).Logs(), "berth-2030-01-01T00-00-00.000.log")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * logsPoll) // let it see the file gone for a moment
	line(path, "after-rotation")
	waitOutput(t, &out, "after-rotation", 5*time.Second)
	line(path, "second-after-rotation")
	waitOutput(t, &out, "second-after-rotation", 5*time.Second)

	got := out.String()
	for _, w := range []string{"before-start", "appended", "last-before-rotation", "after-rotation", "second-after-rotation"} {
		if n := strings.Count(got, " "+w+" "); n != 1 {
			t.Errorf("%q appears %d times, want once:\n%s", w, n, got)
		}
	}
	if strings.Contains(got, "other-session") {
		t.Errorf("a line of another session was shown:\n%s", got)
	}
	if i, j := strings.Index(got, "last-before-rotation"), strings.Index(got, " after-rotation "); i > j {
		t.Errorf("lines out of order:\n%s", got)
	}
}

// TestLogsFollowTruncated checks a truncated file is read again from its start.
func TestLogsFollowTruncated(t *testing.T) {
	home := t.TempDir()
	path := paths.Home(home).GatewayLog()
	writeGatewayLog(t, path, logLine{time.Now(), slog.LevelInfo, "first-line-that-is-long", nil})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	go cmdLogs(ctx, []string{"--home", home, "-f"}, &out, &out)
	waitOutput(t, &out, "first-line-that-is-long", 5*time.Second)
	os.Truncate(path, 0)
	writeGatewayLog(t, path, logLine{time.Now(), slog.LevelInfo, "fresh", nil})
	waitOutput(t, &out, "fresh", 5*time.Second)
}

func TestLogsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--level", "loud"}, {"--since", "yesterday-ish"}, {"extra"}} {
		var out bytes.Buffer
		if err := cmdLogs(context.Background(), append([]string{"--home", t.TempDir()}, args...), &out, &out); err != errUsage {
			t.Errorf("%v: err = %v, want errUsage", args, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"2h", now.Add(-2 * time.Hour)},
		{"3d", now.Add(-72 * time.Hour)},
		{"2025-03-01T10:00:00Z", time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := logs.ParseSince(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("logs.ParseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestLogsManyLinesStreams reads a large log with a filter matching few
// lines; it must not hold the file in memory (checked loosely by time).
func TestLogsManyLinesStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("large file")
	}
	home := t.TempDir()
	path := paths.Home(home).GatewayLog()
	os.MkdirAll(filepath.Dir(path), 0o700)
	f, _ := os.Create(path)
	base := time.Now().Add(-time.Hour)
	const n = 200_000
	for i := 0; i < n; i++ {
		s := sessB
		if i%50_000 == 0 {
			s = sessA
		}
		fmt.Fprintf(f, `{"time":%q,"level":"INFO","msg":"routed","channel":"slack","group":"main","session":%q,"message":"m%d"}`+"\n",
			base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), s, i)
	}
	f.Close()
	if got := logsRun(t, home, "--session", sessA); len(got) != n/50_000 {
		t.Fatalf("%d lines, want %d", len(got), n/50_000)
	}
}

func TestParseGatewayLine(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		parsed bool
		msg    string
		fields string // k=v joined by spaces
	}{
		{"flat", `{"time":"2025-01-02T03:04:05.6Z","level":"INFO","msg":"routed","channel":"slack","n":3,"ok":true,"x":null}`,
			true, "routed", "channel=slack n=3 ok=true x=null"},
		{"escapes", `{"time":"2025-01-02T03:04:05Z","level":"WARN","msg":"say \"hi\"\n","err":"a\\b \u00e9\t"}`,
			true, "say \"hi\"\n", "err=a\\b é\t"},
		{"groups", `{"time":"2025-01-02T03:04:05Z","level":"INFO","msg":"m","req":{"id":7,"h":{"a":"b"}},"after":1}`,
			true, "m", "req.id=7 req.h.a=b after=1"},
		{"arrays", `{"time":"2025-01-02T03:04:05Z","level":"INFO","msg":"m","list":["a,b","c]"],"nested":[[1,2],{"k":"v"}]}`,
			true, "m", `list=["a,b","c]"] nested=[[1,2],{"k":"v"}]`},
		{"spaces", ` { "time" : "2025-01-02T03:04:05Z" , "level":"INFO", "msg" : "m" , "k" : 1.5e3 } `,
			true, "m", "k=1.5e3"},
		{"no time", `{"level":"INFO","msg":"m"}`, false, "", ""},
		{"not json", `panic: runtime error`, false, "", ""},
		{"truncated", `{"time":"2025-01-02T03:04:05Z","level":"INFO","msg":"m","k":"unterminat`, false, "", ""},
		{"trailing junk", `{"time":"2025-01-02T03:04:05Z","msg":"m"} extra`, false, "", ""},
	}
	for _, tt := range tests {
		e := logs.ParseGatewayLine([]byte(tt.line))
		var fs []string
		for _, f := range e.Fields {
			fs = append(fs, f.Key+"="+f.Val)
		}
		if e.Parsed != tt.parsed || (tt.parsed && (e.Msg != tt.msg || strings.Join(fs, " ") != tt.fields)) {
			t.Errorf("%s: parsed=%v msg=%q fields=%q; want %v %q %q", tt.name, e.Parsed, e.Msg, strings.Join(fs, " "), tt.parsed, tt.msg, tt.fields)
		}
	}
}
