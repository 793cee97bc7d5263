package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
)

func TestAdminTasks(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ctx := context.Background()
	ok(t, home, "groups", "create", "team", "--config", `{"timezone":"Europe/Paris"}`)
	s := openHome(t, home)
	g, _ := s.Group(ctx, "team")
	mg, _ := s.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	sess, _, _ := s.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, ThreadID: "t1", Mode: data.SessionPerThread})
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	task, err := s.CreateTask(ctx, data.Task{SessionID: sess.ID, AgentGroupID: g.ID, ChannelType: "slack", PlatformID: "C1", ThreadID: "t1",
		Prompt: "the digest", Kind: "interval", Expr: "1h0m0s", Timezone: "Europe/Paris", CreatedBy: "slack:U1", CreatedVia: data.ViaChat,
		NextRun: next, Grace: time.Hour}, data.TaskLimits{})
	if err != nil {
		t.Fatal(err)
	}
	var ts []taskJSON
	decode(t, home, &ts, "tasks", "list")
	if len(ts) != 1 || ts[0].ID != task.ID || ts[0].State != data.TaskActive || ts[0].NextRun == nil || !ts[0].NextRun.Equal(next) ||
		ts[0].Group != "team" || ts[0].Schedule != "every 1h (Europe/Paris)" || ts[0].LastResult != "" {
		t.Fatalf("tasks list --json: %+v", ts)
	}
	// A run that failed shows as the last result.
	if ok, err := s.ClaimRun(ctx, data.Claim{TaskID: task.ID, Due: next, Next: next.Add(time.Hour)}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, _, err := s.FinishRun(ctx, task.ID, next, data.RunFailed, "the turn limit", 3); err != nil {
		t.Fatal(err)
	}
	decode(t, home, &ts, "tasks", "list", "--group", "team")
	if len(ts) != 1 || ts[0].LastResult != "failed: the turn limit" || ts[0].Failures != 1 || !ts[0].LastRun.Equal(next) {
		t.Fatalf("tasks list after a failure: %+v", ts)
	}
	if out := ok(t, home, "tasks", "list"); !strings.Contains(out, "LAST RESULT") || !strings.Contains(out, "failed: the turn limit") {
		t.Errorf("tasks list table:\n%s", out)
	}
	var one taskJSON
	decode(t, home, &one, "tasks", "show", task.ID)
	if len(one.Runs) != 1 || one.Runs[0].State != data.RunFailed {
		t.Errorf("tasks show: %+v", one)
	}
	decode(t, home, &one, "tasks", "pause", task.ID)
	if one.State != data.TaskPaused {
		t.Errorf("tasks pause: %+v", one)
	}
	if _, errOut, code := cli(t, home, "tasks", "pause", task.ID); code != 1 {
		t.Errorf("pausing a paused task: exit %d, %s", code, errOut)
	}
	decode(t, home, &one, "tasks", "resume", task.ID)
	if one.State != data.TaskActive || one.NextRun == nil || !one.NextRun.After(time.Now()) || one.Failures != 0 {
		t.Errorf("tasks resume: %+v", one)
	}
	ok(t, home, "tasks", "cancel", task.ID)
	decode(t, home, &ts, "tasks", "list")
	if len(ts) != 0 {
		t.Errorf("a cancelled task is listed without --all: %+v", ts)
	}
	decode(t, home, &ts, "tasks", "list", "--all")
	if len(ts) != 1 || ts[0].State != data.TaskCancelled || ts[0].NextRun != nil {
		t.Errorf("tasks list --all: %+v", ts)
	}
	if _, _, code := cli(t, home, "tasks", "show", "tzzzzz"); code != 1 {
		t.Errorf("an unknown task: exit %d, want 1", code)
	}
	if _, _, code := cli(t, home, "tasks", "show"); code != 2 {
		t.Errorf("no task named: exit %d, want 2", code)
	}
}
