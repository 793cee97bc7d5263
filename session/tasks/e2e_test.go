package tasks_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// slackGateway is the real gateway with the real Slack adapter against
// the fake Slack, through real containers (or rt, when not nil): channel C1 wired
// mention-sticky per thread to group "main" (members access), with the
// chat commands installed and U1 a member of the group.
func slackGateway(t *testing.T, rt session.Runtime) (*slacktest.Server, *gatewaytest.Gateway) {
	t.Helper()
	fake := slacktest.New(t)
	a, err := slack.New(slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL(), PingTimeout: 3 * time.Second},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{a}, Runtime: rt,
		Commands: func(g *gatewaytest.Gateway) session.Commands {
			return groups.NewCommands(g.Store, g.Layout, g.Manager, nil)
		}})
	w := g.Wire("slack", "C1", gatewaytest.Wire{Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread, Access: data.AccessMembers})
	if err := g.Store.Grant(context.Background(), data.Role{UserID: "slack:U1", Role: data.RoleMember, GroupID: w.AgentGroupID}); err != nil {
		t.Fatal(err)
	}
	return fake, g
}

// waitFor waits, with a generous deadline, for a post in thread whose
// text contains want, and returns it.
func waitFor(t *testing.T, fake *slacktest.Server, thread, want string, timeout time.Duration) slacktest.Post {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, p := range fake.Posted() {
			if p.ThreadTS == thread && strings.Contains(p.Text, want) {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got []string
	for _, p := range fake.Posted() {
		got = append(got, p.ThreadTS+": "+p.Text)
	}
	t.Fatalf("no post with %q in thread %s within %s; posts: %q", want, thread, timeout, got)
	return slacktest.Post{}
}

func onlyTask(t *testing.T, g *gatewaytest.Gateway) data.Task {
	t.Helper()
	ts, err := g.Store.Tasks(context.Background(), data.TaskFilter{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("tasks = %+v, %v; want one", ts, err)
	}
	return ts[0]
}

// scheduleInTwoSeconds is TestSlackScheduleInTwoSeconds on gateway g.
func scheduleInTwoSeconds(t *testing.T, fake *slacktest.Server, g *gatewaytest.Gateway) {
	root := fake.Mention("C1", "U1", "!schedule in 2s say hi")
	ack := waitFor(t, fake, root, "Scheduled task", 30*time.Second)
	acked := time.Now()
	task := onlyTask(t, g)
	if !strings.Contains(ack.Text, task.ID) || task.ThreadID != root || task.CreatedBy != "slack:U1" {
		t.Fatalf("the answer %q, the task %+v", ack.Text, task)
	}
	answer := waitFor(t, fake, root, "say hi", 90*time.Second)
	if answer.Text != "echo: say hi" || answer.Channel != "C1" {
		t.Fatalf("the task's answer: %+v", answer)
	}
	t.Logf("the task's answer came %s after the command's", time.Since(acked).Round(10*time.Millisecond))
	// The run settles: the task is done, its last result completed, and
	// nothing else was said in the thread.
	deadline := time.Now().Add(30 * time.Second)
	for onlyTask(t, g).State != data.TaskDone && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := onlyTask(t, g); got.State != data.TaskDone || got.LastResult != "completed" {
		t.Fatalf("after the run: %s, %q", got.State, got.LastResult)
	}
	g.WaitIdle(30 * time.Second)
	n := 0
	for _, p := range fake.Posted() {
		if p.ThreadTS == root {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d posts in the thread, want the command's answer and the task's", n)
	}
}

// failedTaskIsTold is TestSlackFailedTaskIsTold on gateway g.
func failedTaskIsTold(t *testing.T, fake *slacktest.Server, g *gatewaytest.Gateway) {
	root := fake.Mention("C1", "U1", "!schedule in 2s fail")
	waitFor(t, fake, root, "Scheduled task", 30*time.Second)
	task := onlyTask(t, g)
	told := waitFor(t, fake, root, "scheduled task "+task.ID, 90*time.Second)
	if !strings.HasPrefix(told.Text, "<@U1> ") || !strings.Contains(told.Text, "failed") || !strings.Contains(told.Text, "will not run again") {
		t.Fatalf("the failure notice: %q", told.Text)
	}
	if got := onlyTask(t, g); got.State != data.TaskFailed || !strings.HasPrefix(got.LastResult, "failed") {
		t.Fatalf("after the failed run: %s, %q", got.State, got.LastResult)
	}
}
