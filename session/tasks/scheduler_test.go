package tasks

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/sessiondb"
)

// fakeSessions is a TEST-ONLY stand-in for the session manager: it
// stores rows by id once, as inbound.db does, and settles them as the
// test says.
type fakeSessions struct {
	mu       sync.Mutex // guards the fields below
	rows     map[string]sessiondb.InMessage
	order    []string // ids in the order first stored
	calls    int
	status   map[string]sessiondb.Status
	reason   map[string]string
	told     []string
	failNext error
}

func newFake() *fakeSessions {
	return &fakeSessions{rows: map[string]sessiondb.InMessage{}, status: map[string]sessiondb.Status{}, reason: map[string]string{}}
}

func (f *fakeSessions) Trigger(ctx context.Context, sessionID string, msg sessiondb.InMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failNext != nil {
		err := f.failNext
		f.failNext = nil
		return err
	}
	if _, ok := f.rows[msg.ID]; !ok {
		f.rows[msg.ID] = msg
		f.order = append(f.order, msg.ID)
		f.status[msg.ID] = sessiondb.StatusPending
	}
	return nil
}

func (f *fakeSessions) Outcome(ctx context.Context, sessionID, id string) (sessiondb.Status, string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[id]
	return st, f.reason[id], ok, nil
}

func (f *fakeSessions) Address(ctx context.Context, sessionID string) (sessiondb.Address, error) {
	return sessiondb.Address{ChannelType: "slack", PlatformID: "C1", ThreadID: "100.1"}, nil
}

func (f *fakeSessions) Tell(ctx context.Context, channelType, platformID, threadID, mention, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.told = append(f.told, "<@"+mention+"> "+text)
	return nil
}

func (f *fakeSessions) stored() []sessiondb.InMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sessiondb.InMessage
	for _, id := range f.order {
		out = append(out, f.rows[id])
	}
	return out
}

func (f *fakeSessions) settle(status sessiondb.Status, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, st := range f.status {
		if st == sessiondb.StatusPending {
			f.status[id], f.reason[id] = status, reason
		}
	}
}

// rig is a real store with one group (config as given), one user who is
// a member, one wired conversation and its session, and a scheduler on
// an injected clock.
type rig struct {
	t     *testing.T
	ctx   context.Context
	store *data.Store
	fake  *fakeSessions
	sched *Scheduler
	now   time.Time
	sess  data.Session
	group data.AgentGroup
}

func newRig(t *testing.T, config string, start time.Time) *rig {
	t.Helper()
	ctx := context.Background()
	store, err := data.Open(ctx, paths.Home(t.TempDir()).Store())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	g := &data.AgentGroup{Name: "team", Folder: "team", ContainerConfig: config}
	if err := store.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	mg, err := store.EnsureMessagingGroup(ctx, "slack", "C1", "general", false)
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, ThreadID: "100.1", Mode: data.SessionPerThread})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureUser(ctx, "slack:U1", "ann"); err != nil {
		t.Fatal(err)
	}
	if err := store.Grant(ctx, data.Role{UserID: "slack:U1", Role: data.RoleMember, GroupID: g.ID}); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, store: store, fake: newFake(), now: start, sess: sess, group: *g}
	r.sched = New(store, r.fake, Config{Now: func() time.Time { return r.now }})
	return r
}

func (r *rig) schedule(when string) data.Task {
	r.t.Helper()
	t, err := r.sched.Schedule(r.ctx, data.Task{SessionID: r.sess.ID, AgentGroupID: r.group.ID, ChannelType: "slack", PlatformID: "C1",
		ThreadID: "100.1", CreatedBy: "slack:U1", CreatedByName: "ann", CreatedVia: data.ViaChat}, when)
	if err != nil {
		r.t.Fatalf("schedule %q: %v", when, err)
	}
	return t
}

func (r *rig) pass(at time.Time) {
	r.t.Helper()
	r.now = at
	if err := r.sched.Pass(r.ctx); err != nil {
		r.t.Fatalf("pass at %s: %v", at, err)
	}
}

func (r *rig) task(id string) data.Task {
	r.t.Helper()
	t, err := r.store.Task(r.ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return t
}

func TestOnceRunsOnceAtItsTime(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, `{"timezone":"UTC"}`, start)
	task := r.schedule("in 20m check the oven")
	r.pass(start.Add(19 * time.Minute))
	if n := len(r.fake.stored()); n != 0 {
		t.Fatalf("%d runs before the due time", n)
	}
	r.pass(start.Add(20 * time.Minute))
	r.pass(start.Add(21 * time.Minute))
	rows := r.fake.stored()
	if len(rows) != 1 {
		t.Fatalf("%d runs, want 1", len(rows))
	}
	m := rows[0]
	if m.ID != data.TaskRunMessageID(task.ID, start.Add(20*time.Minute)) || m.Kind != sessiondb.KindTask || !m.Trigger ||
		m.Content.Text != "check the oven" || m.Content.Event != "task" || m.SenderID != "slack:U1" || m.ThreadID != "100.1" ||
		!strings.Contains(m.Content.SenderName, task.ID) || !strings.Contains(m.Content.SenderName, "no one is waiting") {
		t.Fatalf("the run's row: %+v", m)
	}
	if got := r.task(task.ID); got.State != data.TaskActive || !got.NextRun.IsZero() {
		t.Fatalf("while it runs: %s, next %s", got.State, got.NextRun)
	}
	r.fake.settle(sessiondb.StatusCompleted, "")
	r.pass(start.Add(22 * time.Minute))
	if got := r.task(task.ID); got.State != data.TaskDone || got.LastResult != "completed" {
		t.Fatalf("after it answered: %s, %q", got.State, got.LastResult)
	}
	if len(r.fake.told) != 0 {
		t.Fatalf("a success was told: %q", r.fake.told)
	}
}

// TestDailyTaskAcrossDSTRunsAtNineLocal: a daily 09:00 task of a group in
// Europe/Paris runs at 09:00 Paris time each day across the spring change
// (UTC 08:00, then 07:00).
func TestDailyTaskAcrossDSTRunsAtNineLocal(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 27, 12, 0, 0, 0, paris)
	r := newRig(t, `{"timezone":"Europe/Paris"}`, start)
	task := r.schedule("every day at 09:00 the digest")
	if task.Timezone != "Europe/Paris" {
		t.Fatalf("timezone %s", task.Timezone)
	}
	// Step the clock a minute at a time around each 09:00 and every hour otherwise.
	for at := start; at.Before(start.Add(4 * 24 * time.Hour)); {
		r.pass(at)
		r.fake.settle(sessiondb.StatusCompleted, "")
		if l := at.In(paris); l.Hour() >= 8 && l.Hour() < 10 {
			at = at.Add(time.Minute)
		} else {
			at = at.Add(time.Hour)
		}
	}
	rows := r.fake.stored()
	if len(rows) != 4 {
		t.Fatalf("%d runs in four days, want 4", len(rows))
	}
	offsets := map[int]bool{}
	for _, m := range rows {
		l := m.Timestamp.In(paris)
		if l.Hour() != 9 || l.Minute() != 0 {
			t.Errorf("a run at %s, want 09:00 Paris time", l)
		}
		_, off := l.Zone()
		offsets[off] = true
	}
	if len(offsets) != 2 {
		t.Errorf("runs saw offsets %v, want both sides of the change", offsets)
	}
}

func TestIntervalRunsEveryInterval(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, "", start)
	task := r.schedule("every 30m ping")
	for i := 1; i <= 4; i++ {
		r.pass(start.Add(time.Duration(i)*30*time.Minute + 5*time.Second)) // a pass a little late
		r.fake.settle(sessiondb.StatusCompleted, "")
		r.pass(start.Add(time.Duration(i)*30*time.Minute + 10*time.Second))
	}
	rows := r.fake.stored()
	if len(rows) != 4 {
		t.Fatalf("%d runs in two hours of every 30m, want 4", len(rows))
	}
	got := r.task(task.ID)
	if want := start.Add(150 * time.Minute); !got.NextRun.Equal(want) || got.State != data.TaskActive || got.Failures != 0 {
		t.Fatalf("after four runs next=%s (want %s, the grid kept) state=%s", got.NextRun, want, got.State)
	}
}

// TestGraceWindow: after downtime a recurring task runs at most once (its
// latest due time within the grace), the rest recorded missed; a run
// missed by more than the grace never runs.
func TestGraceWindow(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	t.Run("hourly, five hours down", func(t *testing.T) {
		r := newRig(t, `{"task_grace":"1h"}`, start)
		task := r.schedule("every 1h ping")
		r.pass(start.Add(5*time.Hour + 10*time.Minute)) // due at 15:00 … 19:00
		rows := r.fake.stored()
		if len(rows) != 1 {
			t.Fatalf("%d runs after five missed, want exactly one catch-up", len(rows))
		}
		if want := data.TaskRunMessageID(task.ID, start.Add(5*time.Hour)); rows[0].ID != want {
			t.Errorf("the catch-up ran a due time other than the latest within the grace")
		}
		runs, err := r.store.TaskRuns(r.ctx, task.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var missed int
		for _, run := range runs {
			if run.State == data.RunMissed {
				missed++
				if !strings.Contains(run.Outcome, "4 runs skipped") {
					t.Errorf("missed outcome %q, want the four skipped counted", run.Outcome)
				}
			}
		}
		if missed != 1 {
			t.Errorf("%d missed records, want one for the skipped stretch", missed)
		}
		if got := r.task(task.ID); !got.NextRun.Equal(start.Add(6 * time.Hour)) {
			t.Errorf("next run %s, want the next future one", got.NextRun)
		}
	})
	t.Run("hourly, five hours down, all within a long grace: no burst", func(t *testing.T) {
		r := newRig(t, `{"task_grace":"10h"}`, start)
		task := r.schedule("every 1h ping")
		for range 3 {
			r.pass(start.Add(5*time.Hour + 10*time.Minute))
		}
		if n := len(r.fake.stored()); n != 1 {
			t.Fatalf("%d runs after five due times passed within the grace, want one", n)
		}
		if got := r.task(task.ID); !got.NextRun.Equal(start.Add(6 * time.Hour)) {
			t.Errorf("next run %s, want the next future one", got.NextRun)
		}
	})
	t.Run("daily, missed by more than the grace", func(t *testing.T) {
		r := newRig(t, `{"timezone":"UTC","task_grace":"1h"}`, start)
		task := r.schedule("every day at 15:00 digest")
		r.pass(start.Add(3 * time.Hour)) // 17:00: two hours late
		if n := len(r.fake.stored()); n != 0 {
			t.Fatalf("a run two hours late with a one-hour grace ran (%d)", n)
		}
		got := r.task(task.ID)
		if !got.NextRun.Equal(start.Add(25*time.Hour)) || got.State != data.TaskActive || !strings.Contains(got.LastResult, "grace") {
			t.Fatalf("after the miss: next %s state %s last %q", got.NextRun, got.State, got.LastResult)
		}
	})
	t.Run("within the grace", func(t *testing.T) {
		r := newRig(t, `{"task_grace":"1h"}`, start)
		r.schedule("in 10m remind")
		r.pass(start.Add(65 * time.Minute)) // 55 min late
		if n := len(r.fake.stored()); n != 1 {
			t.Fatalf("a run 55 min late with a one-hour grace: %d runs, want 1", n)
		}
	})
	t.Run("once, past the grace", func(t *testing.T) {
		r := newRig(t, `{"task_grace":"30m"}`, start)
		task := r.schedule("in 10m remind")
		r.pass(start.Add(2 * time.Hour))
		if n := len(r.fake.stored()); n != 0 {
			t.Fatalf("%d runs", n)
		}
		if got := r.task(task.ID); got.State != data.TaskMissed {
			t.Fatalf("state %s, want missed", got.State)
		}
	})
}

func TestThreeFailuresPause(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, "", start)
	task := r.schedule("every 1h ping")
	for i := 1; i <= 3; i++ {
		r.pass(start.Add(time.Duration(i) * time.Hour))
		r.fake.settle(sessiondb.StatusFailed, "the turn limit")
		r.pass(start.Add(time.Duration(i)*time.Hour + time.Minute))
	}
	got := r.task(task.ID)
	if got.State != data.TaskPaused || got.Failures != 3 || !strings.Contains(got.LastResult, "the turn limit") {
		t.Fatalf("after three failures: %s, %d failures, %q", got.State, got.Failures, got.LastResult)
	}
	if len(r.fake.told) != 3 {
		t.Fatalf("told %d times, want each failure: %q", len(r.fake.told), r.fake.told)
	}
	for _, text := range r.fake.told {
		if !strings.Contains(text, task.ID) || !strings.Contains(text, "<@U1>") || !strings.Contains(text, "the turn limit") {
			t.Errorf("a failure notice that does not name the task, mention its creator and say why: %q", text)
		}
	}
	if last := r.fake.told[2]; !strings.Contains(last, "paused") || !strings.Contains(last, "!resume "+task.ID) {
		t.Errorf("the third notice does not say the task is paused: %q", last)
	}
	r.pass(start.Add(5 * time.Hour))
	if n := len(r.fake.stored()); n != 3 {
		t.Fatalf("a paused task ran: %d runs", n)
	}
	resumed, err := r.sched.SetState(r.ctx, task.ID, data.TaskActive, "ann")
	if err != nil || resumed.State != data.TaskActive || resumed.Failures != 0 || !resumed.NextRun.Equal(start.Add(6*time.Hour)) {
		t.Fatalf("resume: %+v, %v", resumed, err)
	}
}

// TestClaimedButNotFiredIsFiredOnce: a crash between the claim and the
// row leaves a claimed run; the next pass (another process) fires it, once.
func TestClaimedButNotFiredIsFiredOnce(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, "", start)
	task := r.schedule("in 5m hi")
	if ok, err := r.store.ClaimRun(r.ctx, data.Claim{TaskID: task.ID, Due: task.NextRun}); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	// The "crashed" process never wrote the row. A new scheduler does.
	other := New(r.store, r.fake, Config{Now: func() time.Time { return start.Add(6 * time.Minute) }})
	for range 3 {
		if err := other.Pass(r.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if rows := r.fake.stored(); len(rows) != 1 || rows[0].ID != data.TaskRunMessageID(task.ID, task.NextRun) {
		t.Fatalf("runs after recovery: %+v", rows)
	}
	// A trigger that fails is tried again on the next pass.
	task2 := r.schedule("in 10m again")
	r.fake.failNext = context.DeadlineExceeded
	r.now = start.Add(10 * time.Minute)
	if err := r.sched.Pass(r.ctx); err == nil {
		t.Fatal("a failed trigger was not reported")
	}
	r.pass(start.Add(11 * time.Minute))
	if rows := r.fake.stored(); len(rows) != 2 || rows[1].ID != data.TaskRunMessageID(task2.ID, task2.NextRun) {
		t.Fatalf("the failed trigger was not retried: %d rows", len(rows))
	}
}

// TestTwoSchedulersOneStore: two schedulers (two gateways) passing at once
// claim each due time once.
func TestTwoSchedulersOneStore(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, "", start)
	for range 10 {
		r.schedule("in 1m hi")
	}
	a := New(r.store, r.fake, Config{Now: func() time.Time { return start.Add(2 * time.Minute) }})
	b := New(r.store, r.fake, Config{Now: func() time.Time { return start.Add(2 * time.Minute) }})
	var wg sync.WaitGroup
	for _, s := range []*Scheduler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Pass(r.ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	runs := 0
	ts, _ := r.store.Tasks(r.ctx, data.TaskFilter{})
	for _, task := range ts {
		rs, err := r.store.TaskRuns(r.ctx, task.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 {
			t.Errorf("task %s has %d runs, want 1", task.ID, len(rs))
		}
		runs += len(rs)
	}
	if runs != 10 || len(r.fake.stored()) != 10 {
		t.Fatalf("%d runs recorded, %d rows stored; want 10 and 10", runs, len(r.fake.stored()))
	}
}

func TestScheduleRefusals(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, `{"max_tasks_per_conversation":2}`, start)
	for _, when := range []string{"every 30s too often", "in 20m", "whenever you like", "at 25:00 x"} {
		_, err := r.sched.Schedule(r.ctx, data.Task{SessionID: r.sess.ID, AgentGroupID: r.group.ID, ChannelType: "slack", PlatformID: "C1",
			CreatedVia: data.ViaChat}, when)
		if err == nil {
			t.Errorf("Schedule(%q) was accepted", when)
		}
	}
	r.schedule("in 1h a")
	r.schedule("in 2h b")
	_, err := r.sched.Schedule(r.ctx, data.Task{SessionID: r.sess.ID, AgentGroupID: r.group.ID, ChannelType: "slack", PlatformID: "C1",
		CreatedVia: data.ViaChat}, "in 3h c")
	if err == nil || !strings.Contains(err.Error(), "already has 2") {
		t.Fatalf("a third task over a limit of 2: %v", err)
	}
}

func TestAgentRequest(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := newRig(t, `{"timezone":"Europe/Paris"}`, start)
	rep := r.sched.AgentRequest(r.ctx, r.sess.ID, "slack:U1", sessiondb.TaskRequest{ID: "r1", Op: sessiondb.TaskSchedule, When: "tomorrow 9:00", Prompt: "the digest"})
	if !rep.OK || rep.RequestID != "r1" || len(rep.Tasks) != 1 || !strings.Contains(rep.Text, "2026-12-02 09:00 CET") {
		t.Fatalf("schedule: %+v", rep)
	}
	// The summary names the zone; a task's schedule does not, as its own
	// field does (the runner shows both: the zone was said twice).
	if info := rep.Tasks[0]; !strings.Contains(rep.Text, "(Europe/Paris)") || info.Timezone != "Europe/Paris" || strings.Contains(info.Schedule, "Europe/Paris") {
		t.Fatalf("the zone in %q and %+v", rep.Text, info)
	}
	id := rep.Tasks[0].ID
	got := r.task(id)
	if got.CreatedVia != data.ViaAgent || got.CreatedBy != "slack:U1" || got.CreatedByName != "ann" || got.ThreadID != "100.1" || got.PlatformID != "C1" {
		t.Fatalf("the agent's task: %+v", got)
	}
	if rep := r.sched.AgentRequest(r.ctx, r.sess.ID, "slack:U9", sessiondb.TaskRequest{ID: "r2", Op: sessiondb.TaskSchedule, When: "in 1h", Prompt: "x"}); rep.OK || rep.Error == "" {
		t.Fatalf("a stranger's schedule was accepted: %+v", rep)
	}
	if rep := r.sched.AgentRequest(r.ctx, r.sess.ID, "slack:U1", sessiondb.TaskRequest{ID: "r3", Op: sessiondb.TaskSchedule, When: "every 10s", Prompt: "x"}); rep.OK {
		t.Fatalf("an interval of 10s was accepted: %+v", rep)
	}
	if rep := r.sched.AgentRequest(r.ctx, r.sess.ID, "slack:U1", sessiondb.TaskRequest{ID: "r4", Op: sessiondb.TaskList}); !rep.OK || len(rep.Tasks) != 1 || rep.Tasks[0].State != "active" {
		t.Fatalf("list: %+v", rep)
	}
	// Another conversation's task is not the agent's to cancel for a member.
	other, _, err := r.store.ResolveSession(r.ctx, data.SessionKey{AgentGroupID: r.group.ID, MessagingGroupID: r.sess.MessagingGroupID, ThreadID: "200.1", Mode: data.SessionPerThread})
	if err != nil {
		t.Fatal(err)
	}
	if rep := r.sched.AgentRequest(r.ctx, other.ID, "slack:U1", sessiondb.TaskRequest{ID: "r5", Op: sessiondb.TaskCancel, TaskID: id}); rep.OK {
		t.Fatalf("cancelled another conversation's task: %+v", rep)
	}
	if rep := r.sched.AgentRequest(r.ctx, r.sess.ID, "slack:U1", sessiondb.TaskRequest{ID: "r6", Op: sessiondb.TaskCancel, TaskID: id}); !rep.OK {
		t.Fatalf("cancel: %+v", rep)
	}
	if got := r.task(id); got.State != data.TaskCancelled {
		t.Fatalf("state after cancel: %s", got.State)
	}
	if rep := r.sched.AgentRequest(r.ctx, r.sess.ID, "slack:U1", sessiondb.TaskRequest{ID: "r7", Op: "drop tables"}); rep.OK {
		t.Fatalf("an unknown op: %+v", rep)
	}
}
