package session_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// threadedChannel is a TEST-ONLY channel with a history and threads, like
// Slack's: Missed serves top-level messages, MissedInThreads the replies.
// Each call waits for the test to let it answer (gate), and answers from
// the history as it stood when the call was let through.
type threadedChannel struct {
	*fakeChannel
	gate chan struct{} // one receive per Missed call; nil: answer at once

	mu      sync.Mutex // guards history and asked
	history []channels.Inbound
	asked   []string // "C after" or "T thread after", in order
}

var (
	_ channels.Backfiller       = (*threadedChannel)(nil)
	_ channels.ThreadBackfiller = (*threadedChannel)(nil)
)

func (c *threadedChannel) post(in channels.Inbound) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history = append(c.history, in)
}

func (c *threadedChannel) Missed(ctx context.Context, platformID, after string, since time.Time) ([]channels.Inbound, error) {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, "C "+after)
	var out []channels.Inbound
	for _, in := range c.history {
		if in.PlatformID == platformID && in.ThreadID == "" && channels.CompareIDs(in.MessageID, after) > 0 {
			out = append(out, in)
		}
	}
	return out, nil
}

func (c *threadedChannel) MissedInThreads(ctx context.Context, platformID string, threads []channels.ThreadMark, since time.Time) ([]channels.Inbound, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []channels.Inbound
	for _, t := range threads {
		c.asked = append(c.asked, "T "+t.ThreadID+" "+t.After)
		for _, in := range c.history {
			if in.PlatformID == platformID && in.ThreadID == t.ThreadID && in.MessageID != t.ThreadID && channels.CompareIDs(in.MessageID, t.After) > 0 {
				out = append(out, in)
			}
		}
	}
	return out, nil
}

func (c *threadedChannel) askedFor() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// roomMsg is a message in channel "room" (thread "" for top level).
func roomMsg(id, thread, text string) channels.Inbound {
	in := msg(text)
	in.MessageID, in.ThreadID, in.IsDM = id, thread, false
	return in
}

// A reconnect while a catch-up runs: the catch-up runs again after, and
// the first never moves a mark past the second gap, though a message
// after that gap was handled live meanwhile. Every message is answered
// once.
func TestReconnectCatchUpNeverPassesAGap(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ch := &threadedChannel{fakeChannel: newFakeChannel(), gate: make(chan struct{})}
	g := startInProc(t, rt, ch, "", nil)
	g.Wire("fake", "room", gatewaytest.Wire{})
	ctx := context.Background()
	mark := func() string {
		t.Helper()
		hw, err := g.Store.HighWater(ctx, "fake", "room")
		if err != nil {
			t.Fatal(err)
		}
		return hw
	}
	m := map[string]channels.Inbound{}
	for _, id := range []string{"100", "200", "300", "400", "500"} {
		m[id] = roomMsg("1700000000.000"+id, "", "m"+id)
		ch.post(m[id])
	}
	handle(t, g, m["100"])
	ch.waitSent(t, 1, inProcTimeout)
	// 200 falls in the first gap; the first reconnect freezes the mark.
	g.Manager.Reconnected(ctx, ch)
	handle(t, g, m["300"]) // live on the second connection
	// 400 falls in a second gap; the second reconnect comes while the
	// first catch-up waits on the platform, then 500 is live.
	g.Manager.Reconnected(ctx, ch)
	handle(t, g, m["500"])
	if got := mark(); got != m["100"].MessageID {
		t.Fatalf("mark moved to %s while caught up, want it frozen at %s", got, m["100"].MessageID)
	}
	// The first catch-up reads the history as it stood before 400 was
	// posted.
	ch.mu.Lock()
	full := ch.history
	ch.history = slices.DeleteFunc(slices.Clone(full), func(in channels.Inbound) bool {
		return channels.CompareIDs(in.MessageID, m["400"].MessageID) >= 0
	})
	ch.mu.Unlock()
	ch.gate <- struct{}{}
	waitUntil(t, "the first catch-up's replies", func() bool { return len(ch.Sent()) >= 3 }) // 100, 300, 500 live; 200 caught up
	g.WaitIdle(inProcTimeout)
	if got := mark(); channels.CompareIDs(got, m["300"].MessageID) > 0 {
		t.Fatalf("after the first catch-up the mark is %s: past the second gap (400 unanswered)", got)
	}
	ch.mu.Lock()
	ch.history = full
	ch.mu.Unlock()
	ch.gate <- struct{}{}
	got := ch.waitSent(t, 5, inProcTimeout)
	g.WaitIdle(inProcTimeout)
	var answered []string
	for _, o := range ch.Sent() {
		answered = append(answered, o.Text)
	}
	slices.Sort(answered)
	if want := []string{"echo: m100", "echo: m200", "echo: m300", "echo: m400", "echo: m500"}; !slices.Equal(answered, want) {
		t.Fatalf("answered %q, want each once: %q (%d sends)", answered, want, len(got))
	}
	waitUntil(t, "the mark to reach 500", func() bool { return mark() == m["500"].MessageID })
	if a := ch.askedFor(); len(a) != 2 || a[0] != "C "+m["100"].MessageID || a[1] != "C "+m["100"].MessageID {
		t.Fatalf("asked %q, want twice from the frozen mark", a)
	}
}

// Thread replies have marks of their own: a reply handled live moves its
// thread's mark, not the channel's, and a reconnect asks for the replies
// after it.
func TestReconnectCatchesUpThreads(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ch := &threadedChannel{fakeChannel: newFakeChannel()}
	g := startInProc(t, rt, ch, "", nil)
	g.Wire("fake", "room", gatewaytest.Wire{})
	ctx := context.Background()
	root := roomMsg("1700000000.000100", "", "root")
	reply1 := roomMsg("1700000000.000200", root.MessageID, "reply one")
	top := roomMsg("1700000000.000300", "", "top")
	reply2 := roomMsg("1700000000.000400", root.MessageID, "reply two, in the gap")
	for _, in := range []channels.Inbound{root, reply1, top, reply2} {
		ch.post(in)
	}
	for _, in := range []channels.Inbound{root, reply1, top} {
		handle(t, g, in)
	}
	ch.waitSent(t, 3, inProcTimeout)
	if hw, _ := g.Store.HighWater(ctx, "fake", "room"); hw != top.MessageID {
		t.Fatalf("channel mark %q, want %q: a reply does not move it", hw, top.MessageID)
	}
	if hw, _ := g.Store.ThreadHighWater(ctx, "fake", "room", root.MessageID); hw != reply1.MessageID {
		t.Fatalf("thread mark %q, want %q", hw, reply1.MessageID)
	}
	g.Manager.Reconnected(ctx, ch)
	got := ch.waitSent(t, 4, inProcTimeout)
	if got[3].Text != "echo: reply two, in the gap" {
		t.Fatalf("caught up %q", got[3].Text)
	}
	waitUntil(t, "the thread mark to move", func() bool {
		hw, _ := g.Store.ThreadHighWater(ctx, "fake", "room", root.MessageID)
		return hw == reply2.MessageID
	})
	if a := ch.askedFor(); !slices.Contains(a, "T "+root.MessageID+" "+reply1.MessageID) {
		t.Fatalf("asked %q, want the thread after its mark", a)
	}
	g.WaitIdle(inProcTimeout)
	if n := len(ch.Sent()); n != 4 {
		t.Fatalf("%d replies, want 4", n)
	}
}
