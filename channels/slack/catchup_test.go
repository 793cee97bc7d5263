package slack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
)

// texts are the texts of ins, in order.
func texts(ins []channels.Inbound) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.Text)
	}
	return out
}

// Thread replies are not in conversations.history: Missed finds them
// through their parent's latest_reply, MissedInThreads through the
// threads asked for, each after its own mark, oldest first, never the
// parent twice.
func TestMissedIncludesThreadReplies(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	old := fake.Offline("C1", "U1", "<@UBOT> an old thread")
	oldSeen := fake.PostInThread("C1", old, "U1", "old reply, handled")
	mark := fake.Offline("C1", "U1", "the channel's mark")
	fake.PostInThread("C1", old, "U2", "old thread, while away")
	root := fake.Offline("C1", "U1", "<@UBOT> new thread while away")
	fake.PostInThread("C1", root, "U2", "new thread reply 1")
	fake.PostInThread("C1", root, "U1", "new thread reply 2")

	got, err := a.Missed(context.Background(), "C1", mark, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// The old thread's parent is before the mark: history does not show
	// it, so its reply is not found here.
	if want := []string{"new thread while away", "new thread reply 1", "new thread reply 2"}; !slices.Equal(texts(got), want) {
		t.Fatalf("Missed = %q, want %q", texts(got), want)
	}
	if got[1].ThreadID != root || got[0].ThreadID != root {
		t.Fatalf("thread ids %q %q, want %q", got[0].ThreadID, got[1].ThreadID, root)
	}
	got, err = a.MissedInThreads(context.Background(), "C1", []channels.ThreadMark{{ThreadID: old, After: oldSeen}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"old thread, while away"}; !slices.Equal(texts(got), want) || got[0].ThreadID != old {
		t.Fatalf("MissedInThreads = %+v, want %q in thread %s", got, want, old)
	}
}

// reconnects records each call of the reconnect hook, with how many
// messages the recorder had been handed by then.
type reconnects struct {
	mu    sync.Mutex // guards calls
	calls []int
}

func (r *reconnects) hook(rec interface{ All() []channels.Inbound }) func(context.Context) {
	return func(context.Context) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, len(rec.All()))
	}
}

func (r *reconnects) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// The reconnect hook runs once per new connection, before any message of
// that connection is handed in: after a disconnect request (the client
// reconnects itself) and after a dropped socket.
func TestReconnectHookRunsBeforeNewEvents(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t, nil)
	var r reconnects
	a.OnReconnect(r.hook(rec))
	fake.DM("D1", "U1", "one")
	rec.Wait(t, 1)
	if r.n() != 0 {
		t.Fatalf("hook ran %d times on the first connection", r.n())
	}
	fake.Disconnect()
	waitFor(t, func() bool { return r.n() == 1 && fake.LiveSockets() == 1 })
	fake.DM("D1", "U1", "two")
	rec.Wait(t, 2)
	fake.GoOffline()
	fake.GoOnline()
	waitFor(t, func() bool { return r.n() == 2 && fake.LiveSockets() == 1 })
	fake.DM("D1", "U1", "three")
	rec.Wait(t, 3)
	rec.Quiet(t, 3)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.calls, []int{1, 2}) {
		t.Fatalf("hook ran with %v messages handed in, want [1 2]: once per reconnect, before the new connection's", r.calls)
	}
}

// A connection that stays up and answers pings but delivers nothing,
// while a wired channel gets a message, is replaced by exactly one new
// connection, the reconnect hook runs once, and the count shows in
// Health.
func TestDeafConnectionReplacedOnce(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t, func(c *Config) { c.DeafAfter = 400 * time.Millisecond })
	var r reconnects
	a.OnReconnect(r.hook(rec))
	if _, err := a.Missed(context.Background(), "C1", "", time.Now()); err != nil { // C1 is wired
		t.Fatal(err)
	}
	// Silent for longer than DeafAfter, with nothing new in C1: a quiet
	// channel is not a deaf connection.
	fake.Deafen()
	opens := fake.Opens()
	time.Sleep(1500 * time.Millisecond)
	if r.n() != 0 || fake.Opens() != opens || a.Health().DeafReconnects != 0 {
		t.Fatalf("a quiet connection was replaced: %d hooks, %d opens, %+v", r.n(), fake.Opens()-opens, a.Health())
	}
	fake.Post("C1", "U1", "<@UBOT> nobody heard this")
	waitForState(t, func() bool { return r.n() == 1 && fake.LiveSockets() == 1 && fake.DeafSockets() == 0 }, func() string {
		return fmt.Sprintf("%d hooks, %d live sockets, %d deaf, %d opens, health %+v", r.n(), fake.LiveSockets(), fake.DeafSockets(), fake.Opens()-opens, a.Health())
	})
	if got := a.Health(); got.DeafReconnects != 1 || !got.Connected {
		t.Fatalf("health after the deaf connection = %+v, want 1 deaf reconnect, connected", got)
	}
	if n := fake.Opens() - opens; n != 1 {
		t.Fatalf("%d connections opened to replace one deaf one, want 1", n)
	}
	// The new connection hears.
	fake.DM("D1", "U1", "heard")
	if got := rec.Wait(t, 1); got[0].Text != "heard" {
		t.Fatalf("handed in %q", got[0].Text)
	}
	time.Sleep(1500 * time.Millisecond) // the missed message is in history now; the new socket is not deaf
	if r.n() != 1 || fake.Opens()-opens != 1 {
		t.Fatalf("a healthy connection was replaced: %d hooks, %d opens", r.n(), fake.Opens()-opens)
	}
}

// A 12-part reply to a channel is paced under the fake's one post per
// interval: not one 429, and the parts in order.
func TestLongReplyPacedWithoutThrottling(t *testing.T) {
	t.Parallel()
	const every = 150 * time.Millisecond
	fake, a, _, _ := start(t, func(c *Config) { c.PostInterval = every })
	fake.LimitPosts(every)
	text := strings.Repeat("paced words ", (12*MaxChars-500)/12)
	if n := len(parts(text)); n != 12 {
		t.Fatalf("the text splits into %d parts, want 12", n)
	}
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: text}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Throttled(); got != 0 {
		t.Fatalf("%d posts answered 429", got)
	}
	if n := len(fake.Posted()); n != 12 {
		t.Fatalf("%d posts, want 12", n)
	}
}

// expiring is a context whose deadline passes when expire is called: a
// test decides the moment, not the clock.
type expiring struct {
	context.Context
	once sync.Once
	done chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) expire()               { e.once.Do(func() { close(e.done) }) }
func (e *expiring) Done() <-chan struct{} { return e.done }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Once a reply's first part is out, the rest follows even when pacing
// takes it past the caller's deadline for one attempt: a retry would
// confirm the first part and never send the rest. A cancellation
// (shutdown) still stops a send.
func TestLongReplyOutlivesTheAttemptDeadline(t *testing.T) {
	t.Parallel()
	const every = 300 * time.Millisecond
	fake, a, _, _ := start(t, func(c *Config) { c.PostInterval = every })
	fake.LimitPosts(every)
	text := strings.Repeat("paced words ", (6*MaxChars-500)/12)
	n := len(parts(text))
	ctx := newExpiring()
	go func() {
		// The attempt's deadline passes once the first part is out (its
		// call returned: the second is being posted).
		for len(fake.Posted()) < 2 { // part 1 returned: part 2 is on its way
			time.Sleep(time.Millisecond)
		}
		ctx.expire()
	}()
	if _, err := a.Send(ctx, channels.Outbound{PlatformID: "C1", Text: text, Key: "k"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := len(fake.Posted()); got != n {
		t.Fatalf("%d of %d parts posted", got, n)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Send(cctx, channels.Outbound{PlatformID: "C2", Text: text}); err == nil {
		t.Fatal("a cancelled send succeeded")
	}
}
