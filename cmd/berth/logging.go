package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/berth-dev/berth/data/paths"
)

// newLogger logs JSON lines to BERTH_HOME/logs/berth.log, rotated by size,
// and, when toStderr is set, readable text to stderr too (coloured on a
// terminal). Every secret value, and anything shaped like a token, is
// replaced by "[redacted]" in both.
func newLogger(home string, stderr io.Writer, toStderr bool, secrets []string) (*slog.Logger, func(), error) {
	if err := os.MkdirAll(paths.Home(home).Logs(), 0o700); err != nil {
		return nil, nil, fmt.Errorf("create log folder: %w", err)
	}
	file := &lumberjack.Logger{Filename: paths.Home(home).GatewayLog(), MaxSize: 50, MaxBackups: 5}
	handlers := []slog.Handler{slog.NewJSONHandler(file, &slog.HandlerOptions{Level: slog.LevelDebug})}
	if toStderr {
		handlers = append(handlers, newTextHandler(stderr, slog.LevelInfo, wantColour(stderr)))
	}
	return slog.New(newRedactHandler(fanout(handlers), newRedactor(secrets))), func() { file.Close() }, nil
}

// fanout sends each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			h.Handle(ctx, r.Clone())
		}
	}
	return nil
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
