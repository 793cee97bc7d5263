// Package channelstest holds TEST-ONLY helpers for adapter tests: a
// handler that records what an adapter hands over, and a log buffer safe
// to share with the adapter's goroutines.
package channelstest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
)

// Recorder is a channels.Handler that remembers every message.
type Recorder struct {
	mu   sync.Mutex
	got  []channels.Inbound
	fail bool
}

// Handle implements channels.Handler; it fails while SetFail(true).
func (r *Recorder) Handle(ctx context.Context, in channels.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("store unavailable")
	}
	r.got = append(r.got, in)
	return nil
}

// SetFail makes Handle fail, as a store that cannot write would.
func (r *Recorder) SetFail(fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fail
}

// All returns what was handled, in order.
func (r *Recorder) All() []channels.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channels.Inbound(nil), r.got...)
}

// Wait waits until n messages were handled and returns them.
func (r *Recorder) Wait(t testing.TB, n int) []channels.Inbound {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.All()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("handled %d messages, want %d", len(r.All()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.All()
}

// Quiet asserts that, after a moment, exactly n messages were handled.
func (r *Recorder) Quiet(t testing.TB, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := len(r.All()); got != n {
		t.Fatalf("handled %d messages, want %d", got, n)
	}
}

// Buffer is a bytes.Buffer safe for concurrent writers (a log handler's).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
