package gatewaytest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/berth-dev/berth/data/paths"
)

// keepLog is how much of a gateway's log a test keeps to print if it
// fails: enough for the last few container lives of one session.
const keepLog = 256 << 10

// testLogger logs to the test's output when BERTH_TEST_LOG=1. Otherwise
// it keeps the tail of the gateway's info-level log and prints it only
// if the test fails, so a failure seen once in CI says what the gateway
// did.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("BERTH_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	tail := &logTail{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the gateway's log (its last %d KiB at most):\n%s", keepLog>>10, tail.bytes())
		}
	})
	return slog.New(slog.NewTextHandler(tail, nil))
}

// logTail is an io.Writer that keeps only the last keepLog bytes written.
type logTail struct {
	mu  sync.Mutex // guards buf
	buf []byte
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - keepLog; over > 0 {
		// Drop whole lines, so the tail starts at a record.
		cut := over
		if i := bytes.IndexByte(l.buf[over:], '\n'); i >= 0 {
			cut = over + i + 1
		}
		l.buf = append(l.buf[:0], l.buf[cut:]...)
	}
	return len(p), nil
}

func (l *logTail) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf)
}

// gatewayLogFile opens the home's gateway log for appending.
func gatewayLogFile(home paths.Home) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(home.GatewayLog()), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(home.GatewayLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// teeHandler sends each record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, x := range []slog.Handler{h.a, h.b} {
		if x.Enabled(ctx, r.Level) {
			errs = append(errs, x.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h.a.WithGroup(name), h.b.WithGroup(name)}
}
