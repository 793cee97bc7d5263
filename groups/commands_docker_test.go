package groups_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// chatChannel is a TEST-ONLY channel of type "terminal": the test injects
// messages from two people (the terminal operator, who is owner, and Bob,
// who is not) and reads what berth sent back.
type chatChannel struct {
	ready chan struct{} // closed once Run has the handler
	sentC chan struct{} // signalled on every send

	mu   sync.Mutex
	h    channels.Handler
	sent []channels.Outbound
}

func newChatChannel() *chatChannel {
	return &chatChannel{ready: make(chan struct{}), sentC: make(chan struct{}, 1000)}
}

func (c *chatChannel) Type() string { return "terminal" }

func (c *chatChannel) Run(ctx context.Context, h channels.Handler) error {
	c.mu.Lock()
	c.h = h
	c.mu.Unlock()
	close(c.ready)
	<-ctx.Done()
	return nil
}

func (c *chatChannel) Send(ctx context.Context, out channels.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, out)
	select {
	case c.sentC <- struct{}{}:
	default:
	}
	return "p" + strconv.Itoa(len(c.sent)), nil
}

func (c *chatChannel) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

func (c *chatChannel) since(n int) []channels.Outbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]channels.Outbound(nil), c.sent[n:]...)
}

// send hands in to the gateway as an adapter would and returns the texts
// berth answered with while handling it (a command's answer).
func (c *chatChannel) send(t *testing.T, in channels.Inbound) string {
	t.Helper()
	n := c.count()
	c.mu.Lock()
	h := c.h
	c.mu.Unlock()
	if err := h(context.Background(), in); err != nil {
		t.Fatalf("handle %.40q: %v", in.Text, err)
	}
	var texts []string
	for _, o := range c.since(n) {
		texts = append(texts, o.Text)
	}
	return strings.Join(texts, "\n")
}

// waitFor waits for a reply containing want sent after the n-th send.
func (c *chatChannel) waitFor(t *testing.T, n int, want string, timeout time.Duration) channels.Outbound {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, o := range c.since(n) {
			if strings.Contains(o.Text, want) {
				return o
			}
		}
		select {
		case <-c.sentC:
		case <-deadline:
			t.Fatalf("no reply containing %q after %v; got %+v", want, timeout, c.since(n))
		}
	}
}

// chat is a test gateway with the command handler installed.
type chat struct {
	t   *testing.T
	g   *gatewaytest.Gateway
	ch  *chatChannel
	mu  sync.Mutex
	now time.Time // the commands' clock
}

func startChat(t *testing.T) *chat {
	t.Helper()
	c := &chat{t: t, ch: newChatChannel(), now: time.Now()}
	c.g = gatewaytest.Start(t, gatewaytest.Options{
		Channels: []channels.Channel{c.ch},
		Commands: func(g *gatewaytest.Gateway) session.Commands {
			cmds := groups.NewCommands(g.Store, g.Layout, g.Manager, nil)
			cmds.Now = c.clock
			return cmds
		},
	})
	<-c.ch.ready
	return c
}

func (c *chat) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *chat) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// say sends text from who in a channel (a DM when dm is set), mentioning
// the bot, and returns berth's immediate answer.
func (c *chat) say(who, room string, dm bool, text string) string {
	c.t.Helper()
	return c.ch.send(c.t, inbound(who, room, "", dm, text))
}

func (c *chat) sessionsOf(group string) []data.Session {
	c.t.Helper()
	g, err := c.g.Store.Group(context.Background(), group)
	if err != nil {
		c.t.Fatal(err)
	}
	var out []data.Session
	for _, s := range c.g.Sessions() {
		if s.AgentGroupID == g.ID {
			out = append(out, s)
		}
	}
	return out
}

func TestChatRegisterRoutesToNewGroup(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	if got := c.say(operator, "room", false, "!register team"); !strings.Contains(got, "Created agent group team") {
		t.Fatalf("register: %q", got)
	}
	if _, err := os.Stat(filepath.Join(c.g.Layout.Dir("team"), groups.MemoryFile)); err != nil {
		t.Fatalf("group folder: %v", err)
	}
	n := c.ch.count()
	c.say(operator, "room", false, "hello team")
	c.ch.waitFor(t, n, "echo: hello team", 60*time.Second)
	ss := c.sessionsOf("team")
	if len(ss) != 1 || len(c.g.Sessions()) != 1 {
		t.Fatalf("sessions of team: %+v; all: %+v", ss, c.g.Sessions())
	}
}

func TestChatMemberRefusedThenGranted(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	c.say(operator, "room", false, "!register team")
	before := snapshot(t, c.g.Store, c.g.Layout.Root)
	if got := c.say(bob, "room", false, "!register bobs"); !strings.Contains(got, "needs the admin role") {
		t.Fatalf("bob's register: %q", got)
	}
	if after := snapshot(t, c.g.Store, c.g.Layout.Root); after != before {
		t.Fatalf("a refused !register changed the store:\n%s\n%s", before, after)
	}
	if _, err := c.g.Store.Group(context.Background(), "bobs"); err == nil {
		t.Fatal("group bobs exists")
	}
	// The store has no owner but the operator: pair one, so admin roles count.
	code, err := groups.NewPairCode(context.Background(), c.g.Store, c.clock(), groups.PairCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.say(operator, "dm-op", true, "!pair "+code); !strings.Contains(got, "now an owner") {
		t.Fatalf("pair: %q", got)
	}
	if got := c.say(operator, "room", false, "!grant bob admin"); !strings.Contains(got, "now admin") {
		t.Fatalf("grant: %q", got)
	}
	if got := c.say(bob, "bobroom", false, "!register bobs --engage all --session shared"); !strings.Contains(got, "Created agent group bobs") {
		t.Fatalf("bob's register after the grant: %q", got)
	}
	n := c.ch.count()
	c.ch.send(t, channels.Inbound{ChannelType: "terminal", PlatformID: "bobroom", MessageID: msgID(), Sender: channels.User{ID: bob, Name: "Bob"},
		Text: "not even a mention", Time: time.Now()})
	c.ch.waitFor(t, n, "echo: not even a mention", 60*time.Second)
}

func TestChatUnwireStopsRouting(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	c.say(operator, "dm", true, "!register team")
	n := c.ch.count()
	c.say(operator, "dm", true, "first")
	c.ch.waitFor(t, n, "echo: first", 60*time.Second)
	c.g.WaitIdle(30 * time.Second)
	if got := c.say(operator, "dm", true, "!unwire"); !strings.Contains(got, "Unwired this channel from agent group team") {
		t.Fatalf("unwire: %q", got)
	}
	n = c.ch.count()
	got := c.say(operator, "dm", true, "second")
	if !strings.Contains(got, "not registered") {
		t.Errorf("answer in the unwired channel = %q, want the hint", got)
	}
	time.Sleep(2 * time.Second)
	for _, o := range c.ch.since(n) {
		if strings.Contains(o.Text, "echo:") {
			t.Fatalf("an agent answered after !unwire: %q", o.Text)
		}
	}
	d := c.g.Dropped()
	if len(d) == 0 || d[0].Text != "second" || d[0].Reason != "unwired channel" {
		t.Fatalf("dropped = %+v", d)
	}
}

func TestChatUnwiredChannelHint(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	hints := 0
	for _, text := range []string{"anyone?", "hello?", "still nobody?"} {
		if strings.Contains(c.say(bob, "lonely", false, text), "not registered") {
			hints++
		}
	}
	if hints != 1 {
		t.Errorf("%d hints, want 1 per channel per hour", hints)
	}
	if got := c.say(bob, "other", false, "hi"); !strings.Contains(got, "not registered") {
		t.Errorf("another channel got no hint: %q", got)
	}
	var lonely int
	for _, d := range c.g.Dropped() {
		if d.PlatformID == "lonely" && d.Reason == "unwired channel" && d.SenderID == "terminal:bob" {
			lonely++
		}
	}
	if lonely != 3 {
		t.Errorf("%d dropped messages recorded, want 3: %+v", lonely, c.g.Dropped())
	}
	// A message that does not mention the bot is not answered at all.
	n := c.ch.count()
	c.ch.send(t, channels.Inbound{ChannelType: "terminal", PlatformID: "quiet", MessageID: msgID(), Sender: channels.User{ID: bob}, Text: "chatter"})
	if c.ch.count() != n {
		t.Errorf("berth answered chatter it was not addressed in: %+v", c.ch.since(n))
	}
}

func TestChatResetStartsNewSession(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	c.say(operator, "dm", true, "!register solo")
	n := c.ch.count()
	c.say(operator, "dm", true, "one")
	c.ch.waitFor(t, n, "echo: one", 60*time.Second)
	c.g.WaitIdle(30 * time.Second)
	first := c.sessionsOf("solo")
	if len(first) != 1 {
		t.Fatalf("sessions: %+v", first)
	}
	old := first[0]
	if got := c.say(operator, "dm", true, "!status"); !strings.Contains(got, old.ID[:8]) {
		t.Errorf("status lacks the session: %q", got)
	}
	if got := c.say(operator, "dm", true, "!reset"); !strings.Contains(got, "Closed session "+old.ID[:8]) {
		t.Fatalf("reset: %q", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(c.g.Containers(old.ID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the old session's container still exists: %+v", c.g.Containers(old.ID))
		}
		time.Sleep(100 * time.Millisecond)
	}
	n = c.ch.count()
	c.say(operator, "dm", true, "two")
	c.ch.waitFor(t, n, "echo: two", 60*time.Second)
	var active []data.Session
	for _, s := range c.sessionsOf("solo") {
		if s.Status == "active" {
			active = append(active, s)
		}
		if s.ID == old.ID && s.Status != "closed" {
			t.Errorf("old session status %s", s.Status)
		}
	}
	if len(active) != 1 || active[0].ID == old.ID {
		t.Fatalf("active sessions after reset: %+v (old %s)", active, old.ID)
	}
	if _, err := os.Stat(filepath.Join(paths.Home(c.g.Home).Session(old.AgentGroupID, old.ID), "in", "inbound.db")); err != nil {
		t.Errorf("the old session folder is gone: %v", err)
	}
	// !stop with nothing running stops the idle container; the session
	// stays and wakes again.
	c.g.WaitIdle(30 * time.Second)
	if got := c.say(operator, "dm", true, "!stop"); !strings.Contains(got, "Nothing was running in session "+active[0].ID[:8]) ||
		!strings.Contains(got, "its idle container is being stopped") {
		t.Fatalf("stop: %q", got)
	}
	c.waitStopped(active[0].ID)
	n = c.ch.count()
	c.say(operator, "dm", true, "three")
	c.ch.waitFor(t, n, "echo: three", 60*time.Second)
	if s, _ := c.g.Store.Session(context.Background(), active[0].ID); s.Status != "active" {
		t.Errorf("session status %s after !stop", s.Status)
	}
}

func TestChatPairing(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	ctx := context.Background()
	if got := c.say(bob, "room", false, "!help"); !strings.Contains(got, "no owner yet") {
		t.Errorf("help without an owner: %q", got)
	}
	code, err := groups.NewPairCode(ctx, c.g.Store, c.clock(), groups.PairCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.say(bob, "room", false, "!pair "+code); !strings.Contains(got, "now an owner") {
		t.Fatalf("pair: %q", got)
	}
	if ok, _ := groups.Allowed(ctx, c.g.Store, "terminal:bob", data.RoleOwner, ""); !ok {
		t.Fatal("bob is not an owner")
	}
	if got := c.say("carol", "room", false, "!pair "+code); !strings.Contains(got, "already been used") {
		t.Errorf("second use: %q", got)
	}
	late, err := groups.NewPairCode(ctx, c.g.Store, c.clock(), groups.PairCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	c.advance(groups.PairCodeTTL + time.Second)
	if got := c.say("carol", "room", false, "!pair "+late); !strings.Contains(got, "expired") {
		t.Errorf("after expiry: %q", got)
	}
	if ok, _ := groups.Allowed(ctx, c.g.Store, "terminal:carol", data.RoleOwner, ""); ok {
		t.Error("carol became an owner")
	}
	if got := c.say(bob, "room", false, "!help"); strings.Contains(got, "no owner") {
		t.Errorf("help still says there is no owner: %q", got)
	}
}

func TestChatBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	c.say(bob, "room", false, "!help") // Bob is known
	c.say(operator, "room", false, "!register team")
	before := snapshot(t, c.g.Store, c.g.Layout.Root)
	for _, tt := range badInputs {
		got := c.say(operator, "room", false, tt.text)
		if !strings.Contains(got, tt.want) {
			t.Errorf("%.40q: answer %q lacks %q", tt.text, got, tt.want)
		}
		if after := snapshot(t, c.g.Store, c.g.Layout.Root); after != before {
			t.Errorf("%.40q changed the store:\nbefore:\n%s\nafter:\n%s", tt.text, before, after)
		}
	}
	if n := len(c.g.Containers("")); n != 0 {
		t.Errorf("%d containers started by commands", n)
	}
}

// sessionFiles is the session's two databases.
func (c *chat) sessionFiles(s data.Session) sessiondb.Host {
	return sessiondb.Host{Dir: paths.Home(c.g.Home).Session(s.AgentGroupID, s.ID)}
}

// claimed waits until the session's runner claims a message, and returns
// its id and when the claim was acked.
func (c *chat) claimed(s data.Session, timeout time.Duration) (string, time.Time) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		acks, err := c.sessionFiles(s).Acks(context.Background())
		if err == nil {
			for id, a := range acks {
				if a.Status == sessiondb.StatusProcessing {
					return id, a.Changed
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no message of session %s claimed after %v", s.ID, timeout)
	return "", time.Time{}
}

// waitStopped waits until no container of the session runs (!stop stops
// it in the background, so the answer does not wait for the grace), and
// returns how long that took.
func (c *chat) waitStopped(sessionID string) time.Duration {
	c.t.Helper()
	start := time.Now()
	for deadline := start.Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		running := false
		for _, ct := range c.g.Containers(sessionID) {
			running = running || ct.Running()
		}
		if !running {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("a container of session %s still runs 20 s after !stop: %+v", sessionID, c.g.Containers(sessionID))
		}
	}
}

// peek runs one read-only query on a session database (TEST-ONLY: berth
// reads outbound.db only through its hostile-file defences).
func peek(t *testing.T, file, q string, args []any, dest ...any) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(q, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestChatStopCancelsTheTurn: !stop during a long turn answers "stopped";
// the message is cancelled, never answered and never run again (its claim
// is not renewed, though a fresh container runs the session's next
// message), and the next message is answered in the same session with the
// runner's state kept.
func TestChatStopCancelsTheTurn(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	c.say(operator, "dm", true, "!register solo")
	n := c.ch.count()
	c.say(operator, "dm", true, "count")
	c.ch.waitFor(t, n, "echo: turn 1", 60*time.Second)
	s := c.sessionsOf("solo")[0]

	const turn = 8 * time.Second // the stopped turn would answer after this
	n = c.ch.count()
	c.say(operator, "dm", true, "sleep "+turn.String()+" slow")
	id, at := c.claimed(s, 60*time.Second)
	asked := time.Now()
	got := c.say(operator, "dm", true, "!stop")
	answered := time.Since(asked)
	if !strings.Contains(got, "Stopped the turn of session "+s.ID[:8]) || !strings.Contains(got, "1 message will not be answered") {
		t.Fatalf("stop: %q", got)
	}
	gone := answered + c.waitStopped(s.ID)
	t.Logf("!stop answered in %v; its container stopped %v after it was asked", answered.Round(time.Millisecond), gone.Round(time.Millisecond))
	var status, why string
	peek(t, c.sessionFiles(s).InboundPath(), `SELECT status, error FROM messages_in WHERE id = ?`, []any{id}, &status, &why)
	if sessiondb.Status(status) != sessiondb.StatusCancelled {
		t.Fatalf("stopped message is %s (%q), want cancelled", status, why)
	}

	m := c.ch.count()
	c.say(operator, "dm", true, "count")
	c.ch.waitFor(t, m, "echo: turn 2", 60*time.Second)
	if ss := c.sessionsOf("solo"); len(ss) != 1 || ss[0].ID != s.ID {
		t.Fatalf("sessions after !stop: %+v, want only %s", ss, s.ID)
	}
	// Past the time the stopped turn would have answered in, even had it
	// been run again at once.
	time.Sleep(time.Until(at.Add(turn + 2*time.Second)))
	for _, o := range c.ch.since(n) {
		if strings.Contains(o.Text, "echo: slow") {
			t.Errorf("the stopped message was answered: %q", o.Text)
		}
	}
	var ack, changed string
	peek(t, c.sessionFiles(s).OutboundPath(), `SELECT status, status_changed FROM processing_ack WHERE message_id = ?`, []any{id}, &ack, &changed)
	if ts, err := time.Parse(time.RFC3339Nano, changed); sessiondb.Status(ack) != sessiondb.StatusProcessing || err != nil || !ts.Equal(at) {
		t.Errorf("the stopped message's ack is %s at %s; want the one claim at %s: it ran again", ack, changed, at.UTC())
	}
	peek(t, c.sessionFiles(s).InboundPath(), `SELECT status FROM messages_in WHERE id = ?`, []any{id}, &status)
	if sessiondb.Status(status) != sessiondb.StatusCancelled {
		t.Errorf("stopped message is %s after the next turn", status)
	}
}

// TestChatResetDuringATurn: !reset during a turn closes the session: its
// container goes and no new one is ever started for it, the message
// waiting behind the turn fails with the reason told, and the next
// message opens a new session.
func TestChatResetDuringATurn(t *testing.T) {
	t.Parallel()
	c := startChat(t)
	c.say(operator, "dm", true, "!register solo")
	n := c.ch.count()
	c.say(operator, "dm", true, "sleep 1m slow")
	old := c.sessionsOf("solo")[0]
	id, _ := c.claimed(old, 60*time.Second)
	c.say(operator, "dm", true, "behind it")
	got := c.say(operator, "dm", true, "!reset")
	for _, want := range []string{"Closed session " + old.ID[:8], "The turn it was working on was stopped",
		"1 message waiting for it will not be answered either"} {
		if !strings.Contains(got, want) {
			t.Errorf("reset: %q lacks %q", got, want)
		}
	}
	c.ch.waitFor(t, n, "the session was reset", 30*time.Second)
	var status string
	peek(t, c.sessionFiles(old).InboundPath(), `SELECT status FROM messages_in WHERE id = ?`, []any{id}, &status)
	if sessiondb.Status(status) != sessiondb.StatusCancelled {
		t.Errorf("the reset turn's message is %s, want cancelled", status)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(c.g.Containers(old.ID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the old session's container still exists: %+v", c.g.Containers(old.ID))
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := c.ch.count()
	c.say(operator, "dm", true, "two")
	c.ch.waitFor(t, m, "echo: two", 60*time.Second)
	// Through many sweeps (every 500 ms here), nothing wakes the old one.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if cs := c.g.Containers(old.ID); len(cs) > 0 {
			t.Fatalf("a container for the closed session: %+v", cs)
		}
	}
	if s, _ := c.g.Store.Session(context.Background(), old.ID); s.Status != data.SessionClosed {
		t.Errorf("old session status %s", s.Status)
	}
	for _, s := range c.sessionsOf("solo") {
		if s.ID != old.ID && s.Status != data.SessionActive {
			t.Errorf("new session %s is %s", s.ID, s.Status)
		}
	}
	if len(c.sessionsOf("solo")) != 2 {
		t.Errorf("sessions %+v, want the old and one new", c.sessionsOf("solo"))
	}
	for _, o := range c.ch.since(n) {
		if strings.Contains(o.Text, "echo: slow") || strings.Contains(o.Text, "echo: behind it") {
			t.Errorf("the closed session answered: %q", o.Text)
		}
	}
}
