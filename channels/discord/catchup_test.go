package discord

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/discord/discordtest"
)

// catchUps records each time the adapter asked for a catch-up, with how
// many messages the handler had by then.
type catchUps struct {
	mu     sync.Mutex // guards at
	at     []int
	handed func() int
}

func (c *catchUps) hook(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, c.handed())
}

func (c *catchUps) calls() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.at...)
}

// startWith is start with a configuration and the catch-up hook set.
func startWith(t *testing.T, cfg Config) (*discordtest.Server, *Adapter, *channelstest.Recorder, *catchUps) {
	t.Helper()
	return startHandled(t, cfg, nil)
}

// startHandled is startWith with the recorder's handler wrapped.
func startHandled(t *testing.T, cfg Config, wrap func(channels.Handler) channels.Handler) (*discordtest.Server, *Adapter, *channelstest.Recorder, *catchUps) {
	t.Helper()
	fake := discordtest.New(t)
	cfg.Token, cfg.APIURL = token, fake.APIURL()
	logs := &channelstest.Buffer{}
	a, err := New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	rec := &channelstest.Recorder{}
	cu := &catchUps{handed: func() int { return len(rec.All()) }}
	a.OnReconnect(cu.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := channels.Handler(rec.Handle)
	if wrap != nil {
		h = wrap(h)
	}
	go func() { done <- a.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if strings.Contains(logs.String(), token) {
			t.Error("the token appears in the logs")
		}
	})
	select {
	case <-a.ready:
	case err := <-done:
		t.Fatalf("run ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("never connected")
	}
	return fake, a, rec, cu
}

func until(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %s", what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A resume the gateway refuses makes discordgo identify again: that new
// READY, and only it, asks for one catch-up, and Missed then finds what
// was posted while the gateway was down, in the channel and in a thread
// created meanwhile.
func TestReidentifyAsksForOneCatchUp(t *testing.T) {
	t.Parallel()
	fake, a, rec, cu := startWith(t, Config{DeafAfter: -1})
	seen := fake.Mention("C1", "G1", "200", "before")
	rec.Wait(t, 1)
	if _, err := a.Missed(context.Background(), "C1", seen, time.Time{}); err != nil { // the gateway's start-up catch-up
		t.Fatal(err)
	}
	if got := cu.calls(); len(got) != 0 {
		t.Fatalf("catch-ups asked for before any reconnect: %v", got)
	}
	fake.GoDown()
	during := fake.Mention("C1", "G1", "200", "while down")
	fake.ThreadQuiet("T1", "C1", "G1")
	inThread := fake.Mention("T1", "G1", "201", "in a thread while down")
	fake.Message("C9", "G1", "200", "an unwired channel") // not asked for
	fake.ComeUp()
	state := func() string {
		return fmt.Sprintf("catch-ups %v, identifies %d, invalid sessions %d", cu.calls(), fake.Identifies(), fake.InvalidSessions())
	}
	until(t, state, func() bool { return len(cu.calls()) == 1 })
	if fake.InvalidSessions() != 1 || fake.Identifies() != 2 {
		t.Fatalf("the resume was not refused and identified again: %s", state())
	}
	got, err := a.Missed(context.Background(), "C1", seen, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].MessageID != during || got[0].PlatformID != "C1" || got[0].ParentID != "" ||
		got[1].MessageID != inThread || got[1].PlatformID != "T1" || got[1].ParentID != "C1" || !got[1].Mentioned {
		t.Fatalf("missed = %+v", got)
	}
	// The new connection delivers; nothing more is asked for.
	fake.Mention("C1", "G1", "200", "after")
	if all := rec.Wait(t, 2); all[1].Text != "after" || len(all) != 2 {
		t.Fatalf("after the reconnect: %+v", all)
	}
	if got := cu.calls(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("catch-ups %v, want one, before the new connection's first message", got)
	}
}

// A lost dispatch (a gap in the sequence numbers on a live connection)
// asks for a catch-up before the message after the gap is handed on.
func TestSequenceGapAsksForCatchUpFirst(t *testing.T) {
	t.Parallel()
	fake, a, rec, cu := startWith(t, Config{DeafAfter: -1})
	first := fake.DM("D1", "200", "one")
	rec.Wait(t, 1)
	fake.LoseNext(1)
	lost := fake.DM("D1", "200", "lost on the way")
	fake.DM("D1", "200", "after the gap")
	rec.Wait(t, 2)
	if got := cu.calls(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("catch-ups %v, want one before the message after the gap", got)
	}
	got, err := a.Missed(context.Background(), "D1", first, time.Time{})
	if err != nil || len(got) != 2 || got[0].MessageID != lost {
		t.Fatalf("missed = %+v, %v", got, err)
	}
	// A resume that replays in order is no gap.
	fake.Reconnect()
	until(t, func() string { return fmt.Sprintf("%d resumes", fake.Resumes()) }, func() bool { return fake.Resumes() >= 1 })
	fake.DM("D1", "200", "after the resume")
	rec.Wait(t, 3)
	if got := cu.calls(); len(got) != 1 {
		t.Fatalf("catch-ups %v after a clean resume", got)
	}
}

// A connection that answers heartbeats but dispatches nothing, while a
// wired channel has a newer message, is replaced by exactly one new
// connection, which asks for a catch-up; a quiet channel is not deaf.
func TestDeafConnectionReplacedOnce(t *testing.T) {
	t.Parallel()
	fake, a, rec, cu := startWith(t, Config{DeafAfter: 300 * time.Millisecond})
	if _, err := a.Missed(context.Background(), "C1", "", time.Now().Add(-time.Hour)); err != nil { // wires C1
		t.Fatal(err)
	}
	seen := fake.Mention("C1", "G1", "200", "heard")
	rec.Wait(t, 1)
	// Quiet: the watchdog looks, finds nothing newer, leaves it.
	reads := fake.ChannelReads()
	until(t, func() string { return "the watchdog never looked" }, func() bool { return fake.ChannelReads() > reads })
	if st := a.State(); st.DeafReconnects != 0 || fake.Connections() != 1 {
		t.Fatalf("a quiet connection was replaced: %+v, %d connections", st, fake.Connections())
	}
	fake.Deafen()
	missed := fake.Mention("C1", "G1", "200", "nobody hears this")
	state := func() string {
		return fmt.Sprintf("state %+v, %d connections, catch-ups %v, lost %d", a.State(), fake.Connections(), cu.calls(), fake.Lost())
	}
	until(t, state, func() bool { return len(cu.calls()) == 1 })
	if st := a.State(); st.DeafReconnects != 1 || fake.Connections() != 2 || fake.Lost() != 1 {
		t.Fatalf("deaf connection not replaced by one: %s", state())
	}
	if h := a.Health(); h.DeafReconnects != 1 || !strings.Contains(h.String(), "1 deaf reconnects") {
		t.Fatalf("health %q", a.Health())
	}
	got, err := a.Missed(context.Background(), "C1", seen, time.Time{})
	if err != nil || len(got) != 1 || got[0].MessageID != missed {
		t.Fatalf("missed = %+v, %v", got, err)
	}
	fake.Mention("C1", "G1", "200", "heard again")
	if all := rec.Wait(t, 2); all[1].Text != "heard again" {
		t.Fatalf("the new connection: %+v", all)
	}
	// Its reply is berth's own message, not news: still one replacement
	// after the watchdog looked again.
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: "answer"}); err != nil {
		t.Fatal(err)
	}
	reads = fake.ChannelReads()
	until(t, func() string { return "the watchdog never looked again" }, func() bool { return fake.ChannelReads() > reads })
	if st := a.State(); st.DeafReconnects != 1 || fake.Connections() != 2 {
		t.Fatalf("replaced again: %s", state())
	}
}

// A 12-part reply keeps under each channel's route limit: discordgo waits
// on the fake's rate-limit headers, and the fake answers no 429. The
// fake does answer one to a client that ignores them.
func TestLongReplyNeverRateLimited(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := startWith(t, Config{DeafAfter: -1})
	fake.LimitRoute(5, time.Second)
	for range 6 {
		req, _ := http.NewRequest(http.MethodPost, fake.APIURL()+"/api/v9/channels/C7/messages", strings.NewReader(`{"content":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := fake.TooMany(); n != 1 {
		t.Fatalf("the fake answered %d 429s to six posts in a row, want 1", n)
	}
	text := strings.Repeat(strings.Repeat("word ", 399)+"end.\n\n", 12)
	parts := len(channels.Split(text, MaxChars))
	if parts != 12 {
		t.Fatalf("%d parts", parts)
	}
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: text}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range fake.Sent() {
		if s.ChannelID == "C1" {
			n++
		}
	}
	if n != 12 || fake.TooMany() != 1 {
		t.Fatalf("%d parts posted, %d 429s (1 expected, from the control)", n, fake.TooMany())
	}
}

// A message the handler does not accept (the store briefly unavailable)
// is handed to it again, not dropped, and nothing is asked of the
// gateway while a retry succeeds.
func TestNotAcceptedIsHandedAgain(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex // guards refused
	refused := 0
	fake, _, rec, cu := startHandled(t, Config{DeafAfter: -1}, func(h channels.Handler) channels.Handler {
		return func(ctx context.Context, in channels.Inbound) error {
			mu.Lock()
			defer mu.Unlock()
			if refused < 2 {
				refused++
				return fmt.Errorf("store unavailable (test)")
			}
			return h(ctx, in)
		}
	})
	id := fake.DM("D1", "200", "keep me")
	until(t, func() string { return fmt.Sprintf("handled %d", len(rec.All())) }, func() bool { return len(rec.All()) == 1 })
	mu.Lock()
	n := refused
	mu.Unlock()
	if got := rec.All(); got[0].MessageID != id || n != 2 || len(cu.calls()) != 0 {
		t.Fatalf("handled %+v after %d refusals, catch-ups %v", got, n, cu.calls())
	}
}

// Op 7 with the session gone (Discord restarted the node): the resume is
// refused, discordgo identifies, and that READY asks for one catch-up.
func TestReconnectWithoutResumeAsksForCatchUp(t *testing.T) {
	t.Parallel()
	fake, _, rec, cu := startWith(t, Config{DeafAfter: -1})
	fake.DM("D1", "200", "one")
	rec.Wait(t, 1)
	fake.ReconnectNoResume()
	until(t, func() string {
		return fmt.Sprintf("catch-ups %v, %d invalid sessions", cu.calls(), fake.InvalidSessions())
	},
		func() bool { return len(cu.calls()) == 1 })
	fake.DM("D1", "200", "two")
	if got := rec.Wait(t, 2); got[1].Text != "two" || fake.InvalidSessions() != 1 || fake.Identifies() != 2 || len(cu.calls()) != 1 {
		t.Fatalf("got %+v, %d invalid sessions, %d identifies, catch-ups %v", got, fake.InvalidSessions(), fake.Identifies(), cu.calls())
	}
}

// A catch-up reads from the mark, never from before its window.
func TestCatchUpFrom(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	window := snowflakeAt(at)
	older := snowflakeAt(at.Add(-time.Hour))
	newer := snowflakeAt(at.Add(time.Minute))
	for _, c := range []struct {
		name, after string
		since       time.Time
		want        string
	}{
		{"no mark: the window", "", at, window},
		{"a mark in the window", newer, at, newer},
		{"a mark before the window", older, at, window},
		{"no window: the mark", older, time.Time{}, older},
		{"nothing", "", time.Time{}, ""},
	} {
		if got := from(c.after, c.since); got != c.want {
			t.Errorf("%s: from(%q, %v) = %q, want %q", c.name, c.after, c.since, got, c.want)
		}
	}
	// Discord's own example: 175928847299117063 is 2016-04-30 11:18:25.796 UTC.
	if got, want := snowflakeAt(time.UnixMilli(1462015105796)), strconv.FormatInt(175928847299117063>>22<<22, 10); got != want {
		t.Errorf("snowflakeAt = %s, want %s", got, want)
	}
}

// A message posted a moment ago may still be on its way: only one older
// than the grace (a quarter of the threshold, at most 10 s) is evidence
// that the connection is deaf.
func TestOverdue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	snowflake := func(at time.Time) string { return strconv.FormatInt((at.UnixMilli()-1420070400000)<<22, 10) }
	tests := []struct {
		deafAfter time.Duration
		age       time.Duration
		want      bool
	}{
		{2 * time.Second, 100 * time.Millisecond, false},
		{2 * time.Second, time.Second, true},
		{2 * time.Minute, 5 * time.Second, false},
		{2 * time.Minute, 11 * time.Second, true},
	}
	for _, tt := range tests {
		a := &Adapter{deafAfter: tt.deafAfter}
		if got := a.overdue(snowflake(now.Add(-tt.age)), now); got != tt.want {
			t.Errorf("deafAfter %v, a message %v old: overdue %v, want %v", tt.deafAfter, tt.age, got, tt.want)
		}
	}
	if !(&Adapter{deafAfter: time.Second}).overdue("not-a-snowflake", now) {
		t.Error("an id that is not a snowflake, newer than the last seen, is evidence by itself")
	}
}
