package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
)

// TestTaskRunsOnceAcrossKill: a task scheduled through the fake Slack by
// a real `berth run`, which is SIGKILLed before the task is due and
// started again after, runs exactly once; `berth tasks list --json`
// shows its state, next run and last result before and after.
func TestTaskRunsOnceAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite")
	}
	t.Parallel()
	home := t.TempDir()
	fake := slacktest.New(t)
	wireChannels(t, home, 1)
	logf, err := os.Create(filepath.Join(home, "berth-stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start := func() *exec.Cmd {
		cmd := berthCmd(t, home, "run")
		cmd.Env = append(cmd.Env, "SLACK_BOT_TOKEN=xoxb-crash", "SLACK_APP_TOKEN=xapp-crash", "SLACK_API_URL="+fake.URL())
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	waitPost := func(want string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			for _, p := range fake.Posted() {
				if strings.Contains(p.Text, want) {
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		b, _ := os.ReadFile(paths.Home(home).GatewayLog())
		t.Fatalf("no post with %q within %s; posts %+v\nlog: %s", want, timeout, fake.Posted(), tail(string(b), 15))
	}
	listed := func() []taskJSON {
		t.Helper()
		var ts []taskJSON
		decode(t, home, &ts, "tasks", "list", "--all")
		return ts
	}

	berth := start()
	fake.Post("C00", "U1", "!schedule in 20s say once")
	waitPost("Scheduled task", 2*time.Minute)
	ts := listed()
	if len(ts) != 1 || ts[0].State != data.TaskActive || ts[0].NextRun == nil || ts[0].LastResult != "" {
		t.Fatalf("tasks list --json before the run: %+v", ts)
	}
	due := *ts[0].NextRun
	if err := berth.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	berth.Wait()
	if !time.Now().Before(due) {
		t.Fatalf("berth was killed at %s, after the task's due time %s: the machine is too slow for this test's 20 s", time.Now(), due)
	}
	// Down over the due time (well within the one-hour grace).
	for time.Now().Before(due.Add(2 * time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(fake.Posted()); n != 1 {
		t.Fatalf("%d posts while berth was down, want only the command's answer", n)
	}
	berth = start()
	defer func() {
		berth.Process.Signal(syscall.SIGTERM)
		berth.Wait()
	}()
	waitPost("echo: say once", 2*time.Minute)
	deadline := time.Now().Add(time.Minute)
	for {
		if ts = listed(); len(ts) == 1 && ts[0].State == data.TaskDone || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(ts) != 1 || ts[0].State != data.TaskDone || ts[0].LastResult != "completed" || ts[0].NextRun != nil ||
		ts[0].LastRun == nil || !ts[0].LastRun.Equal(due) {
		t.Fatalf("tasks list --json after the run: %+v", ts)
	}
	st := openHome(t, home)
	runs, err := st.TaskRuns(context.Background(), ts[0].ID, 10)
	if err != nil || len(runs) != 1 || runs[0].State != data.RunCompleted {
		t.Fatalf("runs = %+v, %v; want one, completed", runs, err)
	}
	n := 0
	for _, p := range fake.Posted() {
		if p.Text == "echo: say once" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the task was answered %d times, want once", n)
	}
	berth.Process.Signal(syscall.SIGTERM)
	berth.Wait()
	assertNoContainers(t, home)
}
