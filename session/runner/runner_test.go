package runner

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/session/sessiondb"
)

// TestHeartbeatIsProgressRateLimited: progress touches the heartbeat file
// unless it was touched less than the interval ago; a beat (claim,
// finish) always touches it.
func TestHeartbeatIsProgressRateLimited(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, sessiondb.Heartbeat)
	h := &heartbeat{dir: dir, every: time.Hour, log: slog.New(slog.DiscardHandler)}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	setOld := func() {
		if err := os.Chtimes(file, old, old); err != nil {
			t.Fatal(err)
		}
	}
	touched := func() bool {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime().After(old)
	}
	h.beat("claimed")
	if !touched() {
		t.Fatal("a beat did not create the heartbeat")
	}
	for _, tt := range []struct {
		name string
		last time.Time // when the file was last touched, as h knows
		want bool
	}{
		{"within the interval", time.Now(), false},
		{"after the interval", time.Now().Add(-2 * time.Hour), true},
		{"never touched", time.Time{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setOld()
			h.mu.Lock()
			h.last = tt.last
			h.mu.Unlock()
			h.progress("step")
			if got := touched(); got != tt.want {
				t.Errorf("touched = %v, want %v", got, tt.want)
			}
		})
	}
	setOld()
	h.beat("finished")
	if !touched() {
		t.Error("a beat within the interval did not touch the heartbeat")
	}
}

// TestEchoProgressDirectives: trickle reports progress n times, then
// answers; hang reports none and returns only when its turn is stopped.
func TestEchoProgressDirectives(t *testing.T) {
	tests := []struct {
		text     string
		progress int64
		reply    string
		err      string
	}{
		{"trickle 3 1ms", 3, "echo: trickled 3", ""},
		{"trickle 1 1ns", 1, "echo: trickled 1", ""},
		{"trickle 0 1ms", 0, "", "trickle needs a count and an interval"},
		{"trickle 3", 0, "", "trickle needs a count and an interval"},
		{"trickle 3 soon", 0, "", "trickle needs a count and an interval"},
		{"hang", 0, "", context.DeadlineExceeded.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			var n atomic.Int64
			replies, err := Echo{}.Turn(ctx, Turn{Messages: []sessiondb.InMessage{{ID: "m1", Trigger: true,
				Content: sessiondb.Content{Text: tt.text}}}, Progress: func(string) { n.Add(1) }})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if tt.text == "hang" && !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("hang returned %v before its turn was stopped", err)
				}
			} else if err != nil || len(replies) != 1 || replies[0].Text != tt.reply {
				t.Fatalf("replies %+v, err %v; want %q", replies, err, tt.reply)
			}
			if got := n.Load(); got != tt.progress {
				t.Errorf("progress reported %d times, want %d", got, tt.progress)
			}
		})
	}
}
