package main

import (
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
	closeFile := func() {
		if err := file.Close(); err != nil {
			fmt.Fprintln(stderr, "berth: close the log:", err)
		}
	}
	return slog.New(newRedactHandler(slog.NewMultiHandler(handlers...), newRedactor(secrets))), closeFile, nil
}
