package session_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/sessiondb"
)

// fakeDesk is a TEST-ONLY TaskDesk: it records what it is asked and
// schedules nothing.
type fakeDesk struct {
	mu    sync.Mutex // guards calls
	calls []deskCall
}

var _ session.TaskDesk = (*fakeDesk)(nil)

type deskCall struct {
	session, behalf string
	req             sessiondb.TaskRequest
}

func (f *fakeDesk) AgentRequest(ctx context.Context, sessionID, onBehalfOf string, req sessiondb.TaskRequest) sessiondb.TaskReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, deskCall{sessionID, onBehalfOf, req})
	id := fmt.Sprintf("t%d", len(f.calls))
	if req.Op == sessiondb.TaskList {
		return sessiondb.TaskReply{OK: true, Text: "1 task in this conversation",
			Tasks: []sessiondb.TaskInfo{{ID: "t0", Prompt: "stretch", Schedule: "every 1h", Timezone: "Europe/Paris", State: "active"}}}
	}
	return sessiondb.TaskReply{OK: true, Text: "scheduled " + id + " for " + req.When,
		Tasks: []sessiondb.TaskInfo{{ID: id, Prompt: req.Prompt, Schedule: req.When, Timezone: "Europe/Paris", State: "active"}}}
}

func (f *fakeDesk) Calls() []deskCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]deskCall(nil), f.calls...)
}

// TestTaskRequestAnsweredOnceInProcess: the agent's schedule request
// reaches the desk with its session and the sender of the message its
// turn claimed, the desk's answer reaches the agent, and the request is
// never answered again, by this gateway or by the next on the same home.
func TestTaskRequestAnsweredOnceInProcess(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ch := newFakeChannel()
	g := startInProc(t, rt, ch, "", nil)
	g.Wire("fake", "room", berthWireDM)
	desk := &fakeDesk{}
	g.Manager.SetTasks(desk)

	handle(t, g, msg("task schedule in 20m | say hi"))
	got := ch.waitSent(t, 1, inProcTimeout)
	if want := "echo: task ok: scheduled t1 for in 20m (1 tasks)"; got[0].Text != want {
		t.Fatalf("reply %q, want %q", got[0].Text, want)
	}
	calls := desk.Calls()
	if len(calls) != 1 {
		t.Fatalf("desk asked %d times, want once: %+v", len(calls), calls)
	}
	s := onlySession(t, g)
	c := calls[0]
	if c.session != s.ID || c.behalf != channels.UserKey("fake", "u1") || c.req.Op != sessiondb.TaskSchedule ||
		c.req.When != "in 20m" || c.req.Prompt != "say hi" {
		t.Fatalf("desk asked %+v, want session %s on behalf of fake:u1", c, s.ID)
	}

	// More passes, then a new gateway on the same home: nothing is asked again.
	handle(t, g, msg("hello"))
	ch.waitSent(t, 2, inProcTimeout)
	g.Stop()
	ch2 := newFakeChannel()
	g2 := startInProc(t, rt, ch2, g.Home, nil)
	desk2 := &fakeDesk{}
	g2.Manager.SetTasks(desk2)
	handle(t, g2, msg("hello again"))
	ch2.waitSent(t, 1, inProcTimeout)
	g2.WaitIdle(inProcTimeout)
	if n, n2 := len(desk.Calls()), len(desk2.Calls()); n != 1 || n2 != 0 {
		t.Fatalf("the request was answered again: %d and %d calls", n, n2)
	}
}

// TestTaskRequestRefusedInProcess: without a desk the agent is told tasks
// are not available; requests written between turns (a hostile agent)
// are not read until a turn is claimed, and then a flood of them is
// answered within the session's budget, never all at once, each on
// behalf of the claimed turn's sender.
func TestTaskRequestRefusedInProcess(t *testing.T) {
	t.Parallel()
	t.Run("no desk", func(t *testing.T) {
		t.Parallel()
		g, ch, _ := startRoom(t, nil)
		g.Manager.SetTasks(nil) // the gateway sets its scheduler; a manager without one
		handle(t, g, msg("task list"))
		got := ch.waitSent(t, 1, inProcTimeout)
		if want := "echo: task refused: scheduled tasks are not available"; got[0].Text != want {
			t.Fatalf("reply %q, want %q", got[0].Text, want)
		}
	})
	t.Run("too old", func(t *testing.T) {
		t.Parallel()
		g, ch, _ := startRoom(t, nil)
		desk := &fakeDesk{}
		g.Manager.SetTasks(desk)
		handle(t, g, msg("hello"))
		ch.waitSent(t, 1, inProcTimeout)
		s := onlySession(t, g)
		dir := g.SessionDir(s)
		db := sessiondb.Container{InDir: filepath.Join(dir, sessiondb.InDir), OutDir: filepath.Join(dir, sessiondb.OutDir)}
		ctx := context.Background()
		// Left by a turn whose tool gave up long ago; read in this one.
		if _, err := db.RequestTask(ctx, sessiondb.TaskRequest{ID: "stale", Op: sessiondb.TaskSchedule, When: "in 1h", Prompt: "late",
			Created: time.Now().Add(-2 * session.TaskRequestExpiry)}); err != nil {
			t.Fatal(err)
		}
		handle(t, g, msg("sleep 1s then"))
		var r sessiondb.TaskReply
		waitUntil(t, "the stale request answered", func() bool {
			var found bool
			var err error
			r, found, err = db.TaskReply(ctx, "stale")
			return err == nil && found
		})
		if r.OK || !strings.Contains(r.Error, "too old") {
			t.Fatalf("a stale request got %+v", r)
		}
		if n := len(desk.Calls()); n != 0 {
			t.Fatalf("the desk was asked %d times for a stale request", n)
		}
	})
	t.Run("a flood between turns", func(t *testing.T) {
		t.Parallel()
		g, ch, _ := startRoom(t, nil)
		desk := &fakeDesk{}
		g.Manager.SetTasks(desk)
		handle(t, g, msg("hello"))
		ch.waitSent(t, 1, inProcTimeout)
		g.WaitIdle(inProcTimeout)
		s := onlySession(t, g)
		dir := g.SessionDir(s)
		db := sessiondb.Container{InDir: filepath.Join(dir, sessiondb.InDir), OutDir: filepath.Join(dir, sessiondb.OutDir)}
		host := sessiondb.Host{Dir: dir}
		const flood = session.TaskRequestBurst + 20
		ctx := context.Background()
		for i := range flood {
			if _, err := db.RequestTask(ctx, sessiondb.TaskRequest{ID: fmt.Sprint("r", i), Op: sessiondb.TaskSchedule, When: "every 1m", Prompt: "spam"}); err != nil {
				t.Fatal(err)
			}
		}
		// The next turn's passes read them: the first burst is answered.
		handle(t, g, msg("sleep 1s then"))
		waitUntil(t, "the first requests answered", func() bool {
			ok, err := host.TaskAnswered(ctx, fmt.Sprint("r", session.TaskRequestBurst-1))
			return err == nil && ok
		})
		ch.waitSent(t, 2, inProcTimeout)
		calls := desk.Calls()
		if len(calls) < session.TaskRequestBurst {
			t.Fatalf("the desk was asked %d times, want the burst of %d", len(calls), session.TaskRequestBurst)
		}
		for _, c := range calls {
			if c.behalf != channels.UserKey("fake", "u1") || c.session != s.ID {
				t.Fatalf("asked %+v", c)
			}
		}
		// Over the burst, the rest wait (one every TaskRequestEvery): the
		// last is not answered while the 1 s turn runs, however slow the
		// machine, unless it ran for minutes.
		if ok, err := host.TaskAnswered(ctx, fmt.Sprint("r", flood-1)); err != nil || ok {
			t.Fatalf("the whole flood was answered at once (answered %v, err %v)", ok, err)
		}
		if n := len(desk.Calls()); n >= flood {
			t.Fatalf("the desk was asked %d times for a flood of %d", n, flood)
		}
	})
}
