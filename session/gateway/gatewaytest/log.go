package gatewaytest

import (
	"bytes"
	"log/slog"
	"os"
	"sync"
	"testing"
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
