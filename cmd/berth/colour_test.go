package main

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestTextHandler(t *testing.T) {
	tests := []struct {
		name   string
		colour bool
		log    func(*slog.Logger)
		want   string // after the time
	}{
		{"plain", false, func(l *slog.Logger) { l.Info("routed", "channel", "slack", "session", "ab12") },
			"INFO  routed channel=slack session=ab12\n"},
		{"quoted", false, func(l *slog.Logger) { l.Warn("dropped", "reason", "message is empty", "empty", "") },
			`WARN  dropped reason="message is empty" empty=""` + "\n"},
		{"error value", false, func(l *slog.Logger) { l.Error("delivery-failed", "err", errors.New("boom")) },
			"ERROR delivery-failed err=boom\n"},
		{"groups and with", false, func(l *slog.Logger) {
			l.With("group", "main").WithGroup("req").Info("x", "id", 7, slog.Group("g", "a", true))
		}, "INFO  x group=main req.id=7 req.g.a=true\n"},
		{"newline in message", false, func(l *slog.Logger) { l.Info("two\nlines") }, `INFO  two\nlines` + "\n"},
		{"debug filtered", false, func(l *slog.Logger) { l.Debug("hidden") }, ""},
		{"colour", true, func(l *slog.Logger) { l.Error("failed", "k", "v") },
			ansiRed + "ERROR" + ansiReset + " " + ansiBold + "failed" + ansiReset + " " + ansiDim + "k=" + ansiReset + "v\n"},
	}
	stamp := regexp.MustCompile(`^(\x1b\[2m)?\d\d:\d\d:\d\d\.\d{3}(\x1b\[0m)? `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.log(slog.New(newTextHandler(&b, slog.LevelInfo, tt.colour)))
			got := b.String()
			if tt.want == "" {
				if got != "" {
					t.Fatalf("got %q, want nothing", got)
				}
				return
			}
			loc := stamp.FindStringIndex(got)
			if loc == nil {
				t.Fatalf("no time stamp: %q", got)
			}
			if got[loc[1]:] != tt.want {
				t.Fatalf("got  %q\nwant %q", got[loc[1]:], tt.want)
			}
			if !tt.colour && strings.Contains(got, "\x1b") {
				t.Fatalf("plain output has escapes: %q", got)
			}
		})
	}
}

func TestWantColourNotForBuffers(t *testing.T) {
	if wantColour(&bytes.Buffer{}) {
		t.Fatal("a buffer is not a terminal")
	}
}
