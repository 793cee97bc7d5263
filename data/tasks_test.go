package data

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/data/paths"
)

// taskFixture is a store with one group, one session and a task template.
func taskFixture(t *testing.T) (*Store, Task) {
	t.Helper()
	ctx := context.Background()
	s := openTest(t)
	g := &AgentGroup{Name: "team", Folder: "team"}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	sess, _, err := s.ResolveSession(ctx, SessionKey{AgentGroupID: g.ID, MessagingGroupID: "mg1", ThreadID: "100.1", Mode: SessionPerThread})
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return s, Task{SessionID: sess.ID, AgentGroupID: g.ID, ChannelType: "slack", PlatformID: "C1", ThreadID: "100.1",
		Prompt: "say hi", Kind: "cron", Expr: "0 9 * * *", Timezone: "Europe/Paris", CreatedBy: "slack:U1", CreatedByName: "ann",
		CreatedVia: ViaChat, NextRun: due, Grace: time.Hour}
}

func TestTaskCreateAndLimits(t *testing.T) {
	ctx := context.Background()
	s, tmpl := taskFixture(t)
	lim := TaskLimits{PerConversation: 2, PerGroup: 3}
	a, err := s.CreateTask(ctx, tmpl, lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 6 || a.ID[0] != 't' || a.State != TaskActive {
		t.Fatalf("created %+v: want an id like t7f3k2 and state active", a)
	}
	got, err := s.Task(ctx, " "+a.ID+" ")
	if err != nil || got.Prompt != "say hi" || !got.NextRun.Equal(tmpl.NextRun) || got.Grace != time.Hour || got.CreatedVia != ViaChat {
		t.Fatalf("Task = %+v, %v", got, err)
	}
	if _, err := s.CreateTask(ctx, tmpl, lim); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateTask(ctx, tmpl, lim)
	var le *TaskLimitError
	if !errors.Is(err, ErrTaskLimit) || !errors.As(err, &le) || le.Scope != "conversation" || le.Limit != 2 {
		t.Fatalf("third task in one conversation: %v, want the conversation limit of 2", err)
	}
	// Another conversation of the group: the group's limit of 3 holds.
	sess2, _, err := s.ResolveSession(ctx, SessionKey{AgentGroupID: tmpl.AgentGroupID, MessagingGroupID: "mg1", ThreadID: "200.1", Mode: SessionPerThread})
	if err != nil {
		t.Fatal(err)
	}
	other := tmpl
	other.SessionID = sess2.ID
	if _, err := s.CreateTask(ctx, other, lim); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTask(ctx, other, lim); !errors.As(err, &le) || le.Scope != "group" {
		t.Fatalf("fourth task in the group: %v, want the group limit", err)
	}
	// A cancelled task no longer counts.
	if _, ok, err := s.SetTaskState(ctx, a.ID, []TaskState{TaskActive, TaskPaused}, TaskCancelled, time.Time{}, "cancelled by ann"); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	if _, err := s.CreateTask(ctx, other, lim); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
	if _, ok, err := s.SetTaskState(ctx, a.ID, []TaskState{TaskActive, TaskPaused}, TaskPaused, time.Time{}, ""); err != nil || ok {
		t.Fatalf("pausing a cancelled task: ok=%v %v, want refused", ok, err)
	}
	if _, err := s.Task(ctx, "tzzzzz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown task: %v", err)
	}
	live, err := s.Tasks(ctx, TaskFilter{AgentGroupID: tmpl.AgentGroupID, Live: true})
	if err != nil || len(live) != 3 {
		t.Fatalf("live tasks = %d, %v; want 3", len(live), err)
	}
}

// TestClaimRunOnce: a due time is claimed by exactly one of many
// concurrent claimers, across two stores on one file (two gateways).
func TestClaimRunOnce(t *testing.T) {
	ctx := context.Background()
	s, tmpl := taskFixture(t)
	task, err := s.CreateTask(ctx, tmpl, TaskLimits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ClaimRun(ctx, Claim{TaskID: task.ID, Due: task.NextRun, Next: task.NextRun.Add(24 * time.Hour)})
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d claimers won one due time, want 1", won)
	}
	got, _ := s.Task(ctx, task.ID)
	if !got.NextRun.Equal(task.NextRun.Add(24*time.Hour)) || !got.LastRun.Equal(task.NextRun) {
		t.Fatalf("after the claim next=%s last=%s", got.NextRun, got.LastRun)
	}
	runs, err := s.OpenRuns(ctx)
	if err != nil || len(runs) != 1 || runs[0].State != RunClaimed {
		t.Fatalf("open runs = %+v, %v", runs, err)
	}
	id := TaskRunMessageID(task.ID, task.NextRun)
	if id != TaskRunMessageID(task.ID, task.NextRun.In(time.FixedZone("x", 3600))) || id == TaskRunMessageID(task.ID, got.NextRun) {
		t.Fatalf("run ids are not derived from task and due time: %s", id)
	}
	if err := s.FireRun(ctx, task.ID, task.NextRun, task.SessionID, id); err != nil {
		t.Fatal(err)
	}
	runs, _ = s.OpenRuns(ctx)
	if len(runs) != 1 || runs[0].State != RunFired || runs[0].MessageID != id {
		t.Fatalf("fired run = %+v", runs)
	}
}

// TestClaimRunAcrossProcesses: two stores on one file claim one due time once.
func TestClaimRunAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, paths.Home(dir).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, paths.Home(dir).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	g := &AgentGroup{Name: "team", Folder: "team"}
	if err := a.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	sess, _, err := a.ResolveSession(ctx, SessionKey{AgentGroupID: g.ID, MessagingGroupID: "mg", Mode: SessionShared})
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	task, err := a.CreateTask(ctx, Task{SessionID: sess.ID, AgentGroupID: g.ID, ChannelType: "slack", PlatformID: "C1", Prompt: "p",
		Kind: "interval", Expr: "1h0m0s", Timezone: "UTC", CreatedVia: ViaCLI, NextRun: due, Grace: time.Hour}, TaskLimits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]bool, 2)
	for i, st := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.ClaimRun(ctx, Claim{TaskID: task.ID, Due: due, Next: due.Add(time.Hour)})
			if err != nil {
				t.Error(err)
			}
			results[i] = ok
		}()
	}
	wg.Wait()
	if results[0] == results[1] {
		t.Fatalf("claims of one due time from two stores: %v, want exactly one", results)
	}
}

// TestFinishRunThreeFailuresPause: failures in a row pause a recurring
// task at the third; a success in between resets the count.
func TestFinishRunThreeFailuresPause(t *testing.T) {
	ctx := context.Background()
	s, tmpl := taskFixture(t)
	task, err := s.CreateTask(ctx, tmpl, TaskLimits{})
	if err != nil {
		t.Fatal(err)
	}
	due := task.NextRun
	run := func(state RunState) Task {
		t.Helper()
		if ok, err := s.ClaimRun(ctx, Claim{TaskID: task.ID, Due: due, Next: due.Add(time.Hour)}); err != nil || !ok {
			t.Fatalf("claim at %s: %v %v", due, ok, err)
		}
		got, ok, err := s.FinishRun(ctx, task.ID, due, state, "boom", 3)
		if err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		if _, again, _ := s.FinishRun(ctx, task.ID, due, state, "boom", 3); again {
			t.Fatal("a run was finished twice")
		}
		due = due.Add(time.Hour)
		return got
	}
	run(RunFailed)
	run(RunFailed)
	if got := run(RunCompleted); got.Failures != 0 || got.State != TaskActive || got.LastResult != "completed: boom" {
		t.Fatalf("after a success: %+v", got)
	}
	run(RunFailed)
	run(RunFailed)
	got := run(RunFailed)
	if got.State != TaskPaused || got.Failures != 3 {
		t.Fatalf("after three failures in a row: state %s, failures %d; want paused, 3", got.State, got.Failures)
	}
	if ok, _ := s.ClaimRun(ctx, Claim{TaskID: task.ID, Due: due, Next: due.Add(time.Hour)}); ok {
		t.Fatal("a paused task's run was claimed")
	}
	// Once tasks end done, failed or missed.
	for _, tc := range []struct {
		state  RunState
		missed bool
		want   TaskState
	}{{RunCompleted, false, TaskDone}, {RunFailed, false, TaskFailed}, {"", true, TaskMissed}} {
		o := tmpl
		o.Kind, o.Expr = "once", taskTime(tmpl.NextRun)
		ot, err := s.CreateTask(ctx, o, TaskLimits{})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ClaimRun(ctx, Claim{TaskID: ot.ID, Due: ot.NextRun, Missed: tc.missed, Outcome: "late"}); err != nil || !ok {
			t.Fatalf("claim once: %v %v", ok, err)
		}
		if !tc.missed {
			if _, _, err := s.FinishRun(ctx, ot.ID, ot.NextRun, tc.state, "", 3); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Task(ctx, ot.ID)
		if got.State != tc.want || !got.NextRun.IsZero() {
			t.Errorf("once task after %s/missed=%v: state %s next %s, want %s and no next run", tc.state, tc.missed, got.State, got.NextRun, tc.want)
		}
	}
}
