package session_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
)

// fakeChannel is a TEST-ONLY channel: the test injects messages and reads
// what berth sent back.
type fakeChannel struct {
	mu    sync.Mutex
	sent  []channels.Outbound
	n     int
	ready chan struct{}         // signalled on every send
	fail  int                   // fail this many sends before succeeding
	files map[string][]sentFile // reply key -> the files sent with it (fakefiles_test.go)
}

func newFakeChannel() *fakeChannel { return &fakeChannel{ready: make(chan struct{}, 1000)} }

func (f *fakeChannel) Type() string { return "fake" }

func (f *fakeChannel) Run(ctx context.Context, h channels.Handler) error {
	<-ctx.Done()
	return nil
}

func (f *fakeChannel) Send(ctx context.Context, out channels.Outbound) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return "", context.DeadlineExceeded
	}
	f.sent = append(f.sent, out)
	f.n++
	f.ready <- struct{}{}
	return "p" + strconv.Itoa(f.n), nil
}

func (f *fakeChannel) Sent() []channels.Outbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]channels.Outbound(nil), f.sent...)
}

// waitSent waits until n messages were sent in all.
func (f *fakeChannel) waitSent(t testing.TB, n int, timeout time.Duration) []channels.Outbound {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if s := f.Sent(); len(s) >= n {
			return s
		}
		select {
		case <-f.ready:
		case <-deadline:
			t.Fatalf("got %d replies after %v, want %d: %+v", len(f.Sent()), timeout, n, f.Sent())
		}
	}
}

var msgSeq struct {
	sync.Mutex
	n int
}

// msg is an inbound message in the fake channel's one conversation.
func msg(text string) channels.Inbound {
	msgSeq.Lock()
	msgSeq.n++
	id := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(msgSeq.n)
	msgSeq.Unlock()
	return channels.Inbound{ChannelType: "fake", PlatformID: "room", MessageID: id, Sender: channels.User{ID: "u1", Name: "Ann"},
		Text: text, Mentioned: true, IsDM: true, Time: time.Now()}
}
