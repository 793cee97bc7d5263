package session_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// peek runs one read-only query on a session file (TEST-ONLY: berth reads
// outbound.db only through its hostile-file defences).
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

// inStatus is an inbound message's status and error in inbound.db.
func inStatus(t *testing.T, g *gatewaytest.Gateway, s data.Session, id string) (sessiondb.Status, string) {
	t.Helper()
	var st, why string
	peek(t, sessiondb.Host{Dir: g.SessionDir(s)}.InboundPath(), `SELECT status, error FROM messages_in WHERE id = ?`, []any{id}, &st, &why)
	return sessiondb.Status(st), why
}

// claimedID waits until the runner claims a message, and returns its id.
func claimedID(t *testing.T, g *gatewaytest.Gateway, s data.Session) string {
	t.Helper()
	waitClaimed(t, g, s)
	acks, err := sessiondb.Host{Dir: g.SessionDir(s)}.Acks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range acks {
		if a.Status == sessiondb.StatusProcessing {
			return id
		}
	}
	t.Fatal("no claimed message")
	return ""
}

// TestStopCancelsTheTurnInProcess: !stop's path cancels the claimed
// message (not requeued, never run again), a reply the agent still writes
// to it is dropped, and the next message is answered by a fresh turn in
// the same session with the runner's state kept.
func TestStopCancelsTheTurnInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, ch, rt := startRoom(t, nil)
	handle(t, g, msg("count"))
	if got := ch.waitSent(t, 1, inProcTimeout)[0].Text; got != "echo: turn 1" {
		t.Fatalf("first reply %q", got)
	}
	handle(t, g, msg("sleep 1m slow"))
	s := onlySession(t, g)
	id := claimedID(t, g, s)

	h, err := g.Manager.StopTurn(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (groups.Halted{Cancelled: 1, Container: true}); h != want {
		t.Fatalf("StopTurn = %+v, want %+v", h, want)
	}
	if st, why := inStatus(t, g, s, id); st != sessiondb.StatusCancelled || !strings.Contains(why, "stopped") {
		t.Fatalf("stopped message is %s (%q), want cancelled", st, why)
	}
	// Stopped in the background; nothing else waits, so nothing wakes it.
	waitUntil(t, "the container still runs after the stop", func() bool { return rt.Live() == 0 })
	// A second stop finds nothing running.
	if h, err := g.Manager.StopTurn(ctx, s.ID); err != nil || h != (groups.Halted{}) {
		t.Fatalf("second StopTurn = %+v, %v; want nothing done", h, err)
	}

	// The agent's late answer to the stopped turn, as a runner that
	// finished just before its kill would write it.
	agent := sessiondb.Container{InDir: filepath.Join(g.SessionDir(s), sessiondb.InDir), OutDir: g.OutDir(s)}
	late := sessiondb.OutMessage{ID: "late-answer", InReplyTo: id, Kind: sessiondb.KindChat, ChannelType: "fake", PlatformID: "room",
		Content: sessiondb.OutContent{Text: "echo: slow"}}
	if err := agent.Finish(ctx, []string{id}, sessiondb.StatusCompleted, "", late); err != nil {
		t.Fatal(err)
	}

	// The next message: a fresh turn, the same session, its state kept.
	handle(t, g, msg("count"))
	sent := ch.waitSent(t, 2, inProcTimeout)
	if got := sent[1].Text; got != "echo: turn 2" {
		t.Fatalf("reply after the stop %q, want echo: turn 2 (state kept)", got)
	}
	g.WaitIdle(inProcTimeout)
	if ss := g.Sessions(); len(ss) != 1 || ss[0].ID != s.ID {
		t.Fatalf("sessions after the stop: %+v, want only %s", ss, s.ID)
	}
	for _, o := range ch.Sent() {
		if o.Text == "echo: slow" {
			t.Errorf("the cancelled message was answered: %+v", o)
		}
	}
	var status string
	peek(t, sessiondb.Host{Dir: g.SessionDir(s)}.InboundPath(), `SELECT status FROM delivered WHERE message_out_id = ?`, []any{late.ID}, &status)
	if sessiondb.DeliveryStatus(status) != sessiondb.DeliveryCancelled {
		t.Errorf("late reply recorded %q, want %q", status, sessiondb.DeliveryCancelled)
	}
	// Never run again: its status stays cancelled, and the ack the test
	// wrote as the agent was not replaced by a new claim.
	if st, _ := inStatus(t, g, s, id); st != sessiondb.StatusCancelled {
		t.Errorf("stopped message is %s after the next turn", st)
	}
	var ack string
	peek(t, sessiondb.Host{Dir: g.SessionDir(s)}.OutboundPath(), `SELECT status FROM processing_ack WHERE message_id = ?`, []any{id}, &ack)
	if sessiondb.Status(ack) != sessiondb.StatusCompleted {
		t.Errorf("stopped message's ack is %q: it was claimed again", ack)
	}
	if n := rt.Started(); n != 2 {
		t.Errorf("%d containers started, want 2 (one before the stop, one for the next message)", n)
	}
}

// TestResetNeverWakesInProcess: a reset cancels the turn, fails what
// waited (its sender told), and nothing wakes the closed session again,
// not a message that raced into it nor the sweep; the conversation's next
// message opens a new session.
func TestResetNeverWakesInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, ch, rt := startRoom(t, nil)
	handle(t, g, msg("sleep 1m slow"))
	s := onlySession(t, g)
	id := claimedID(t, g, s)
	queued := msg("behind it")
	handle(t, g, queued)

	h, err := g.Manager.ResetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (groups.Halted{Cancelled: 1, Failed: 1, Container: true}); h != want {
		t.Fatalf("ResetSession = %+v, want %+v", h, want)
	}
	if got, _ := g.Store.Session(ctx, s.ID); got.Status != data.SessionClosed {
		t.Fatalf("session status %s after the reset", got.Status)
	}
	if st, _ := inStatus(t, g, s, id); st != sessiondb.StatusCancelled {
		t.Errorf("the reset turn's message is %s, want cancelled", st)
	}
	told := ch.waitSent(t, 1, inProcTimeout)[0]
	if !strings.Contains(told.Text, "the session was reset") || told.ReplyTo != queued.MessageID {
		t.Errorf("the waiting message's sender was told %+v", told)
	}

	// A message the router stored in the session just before it closed.
	db := sessiondb.Host{Dir: g.SessionDir(s)}
	if _, err := db.Append(ctx, sessiondb.InMessage{ID: "raced", Kind: sessiondb.KindChat, Trigger: true, ChannelType: "fake",
		PlatformID: "room", Content: sessiondb.Content{Text: "raced in"}}); err != nil {
		t.Fatal(err)
	}
	if err := g.Manager.Wake(ctx, s.ID); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Wake of the closed session: %v, want ErrClosed", err)
	}
	waitUntil(t, "the raced message is not failed", func() bool {
		open, err := db.Open(ctx)
		return err == nil && len(open) == 0
	})
	if st, why := inStatus(t, g, s, "raced"); st != sessiondb.StatusFailed || !strings.Contains(why, "reset") {
		t.Errorf("raced message is %s (%q), want failed by the reset", st, why)
	}

	// The next message opens a new session; the old one stays without a
	// container through many sweeps.
	handle(t, g, msg("fresh"))
	waitUntil(t, "the new session does not answer", func() bool { return texts(ch.Sent())["echo: fresh"] == 1 })
	time.Sleep(20 * 50 * time.Millisecond) // twenty sweeps
	if n := rt.Started(); n != 2 {
		t.Errorf("%d containers started, want 2 (the old session's, the new one's)", n)
	}
	if cs := g.Containers(s.ID); len(cs) != 0 {
		t.Errorf("the closed session has containers: %+v", cs)
	}
	var active []data.Session
	for _, x := range g.Sessions() {
		if x.Status == data.SessionActive {
			active = append(active, x)
		}
	}
	if len(active) != 1 || active[0].ID == s.ID {
		t.Fatalf("active sessions %+v, want one new one", active)
	}
}

// TestResetCutShortByACrashInProcess: berth dies after closing a session
// but before its reset stopped the container. The next gateway removes
// the container and settles what the session left (the turn cancelled,
// the waiting message failed and told); nothing of it runs again.
func TestResetCutShortByACrashInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newRuntime(t)
	ch := newFakeChannel()
	g := startInProc(t, rt, ch, "", nil)
	g.Wire("fake", "room", berthWireDM)
	handle(t, g, msg("sleep 1m slow"))
	s := onlySession(t, g)
	id := claimedID(t, g, s)
	waiting := msg("behind it")
	handle(t, g, waiting)
	if err := g.Store.CloseSession(ctx, s.ID); err != nil { // the reset's first step, then the crash
		t.Fatal(err)
	}
	g.Crash()

	again := startInProc(t, rt, ch, g.Home, nil)
	told := ch.waitSent(t, 1, inProcTimeout)[0]
	if !strings.Contains(told.Text, "the session was reset") || told.ReplyTo != waiting.MessageID {
		t.Errorf("the waiting message's sender was told %+v", told)
	}
	if st, _ := inStatus(t, again, s, id); st != sessiondb.StatusCancelled {
		t.Errorf("the turn's message is %s after the restart, want cancelled", st)
	}
	time.Sleep(20 * 50 * time.Millisecond) // twenty sweeps
	if cs := again.Containers(s.ID); len(cs) != 0 {
		t.Errorf("the closed session has containers: %+v", cs)
	}
	if n := rt.Started(); n != 1 {
		t.Errorf("%d containers started, want the one before the crash", n)
	}
}
