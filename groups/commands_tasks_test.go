package groups_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/tasks"
)

// sayIn sends text from user in a thread of a channel and returns the answer.
func (u *unit) sayIn(user, platformID, thread, text string) string {
	u.t.Helper()
	in := inbound(user, platformID, thread, false, text)
	if err := u.store.EnsureUser(context.Background(), channels.UserKey(in.ChannelType, in.Sender.ID), in.Sender.Name); err != nil {
		u.t.Fatal(err)
	}
	var replies []string
	if err := u.cmds.Handle(context.Background(), in, func(s string) { replies = append(replies, s) }); err != nil {
		u.t.Fatalf("Handle(%.40q): %v", text, err)
	}
	if len(replies) != 1 {
		u.t.Fatalf("Handle(%.40q): %d replies, want 1: %q", text, len(replies), replies)
	}
	return replies[0]
}

var taskIDIn = regexp.MustCompile(`Scheduled task (t[0-9a-z]{5})`)

func TestTaskCommands(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	// The real scheduler decides schedules and limits; it fires nothing here.
	u.cmds.SetTasks(tasks.New(u.store, nil, tasks.Config{}))
	u.say(operator, "room", false, "!register team")
	if got := u.sayIn(bob, "room", "t1", "!schedule in 20m say hi"); !strings.Contains(got, "needs the member role for group team") {
		t.Fatalf("a stranger's !schedule: %q", got)
	}
	u.say(operator, "room", false, "!grant bob member team")
	got := u.sayIn(bob, "room", "t1", "!schedule in 20m say hi")
	m := taskIDIn.FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "group team") || !strings.Contains(got, "next run") {
		t.Fatalf("!schedule answered %q", got)
	}
	id := m[1]
	task, err := u.store.Task(ctx, id)
	if err != nil || task.Prompt != "say hi" || task.CreatedBy != "terminal:bob" || task.CreatedVia != data.ViaChat || task.ThreadID != "t1" {
		t.Fatalf("stored task %+v, %v", task, err)
	}
	// The prompt is taken as it is: quotes, "--", and more words than a command's arguments.
	long := `don't "forget" -- the --milk ` + strings.Repeat("and more ", 20)
	got = u.sayIn(bob, "room", "t1", "!schedule every day at 08:30 "+long)
	m2 := taskIDIn.FindStringSubmatch(got)
	if m2 == nil {
		t.Fatalf("!schedule with a long prompt: %q", got)
	}
	if t2, _ := u.store.Task(ctx, m2[1]); t2.Prompt != strings.TrimSpace(long) || t2.Kind != "cron" || t2.Expr != "30 8 * * *" {
		t.Fatalf("the long prompt's task: %+v", t2)
	}
	for _, st := range []struct{ who, thread, text, want string }{
		{bob, "t1", "!schedule every 10s spam", "too short"},
		{bob, "t1", "!schedule", "usage: !schedule <when> <prompt>"},
		{bob, "t1", "!schedule in 5m", "no prompt"},
		{bob, "t1", "!schedule whenever x", "a schedule is one of"},
		{bob, "t1", "!tasks", id},
		{bob, "t1", "!tasks", "say hi"},
		{bob, "t2", "!tasks", "No scheduled tasks here"},
		{bob, "t2", "!cancel " + id, "belongs to another conversation"},
		{bob, "t2", "!tasks all", "needs the admin role"},
		{bob, "t1", "!cancel tzzzzz", "there is no task"},
		{bob, "t1", "!pause " + id, "Paused task " + id},
		{bob, "t1", "!pause " + id, "is paused"},
		{bob, "t1", "!tasks", "[paused]"},
		{bob, "t1", "!resume " + id, "Resumed task " + id},
		{bob, "t1", "!cancel " + id, "Cancelled task " + id},
		{bob, "t1", "!resume " + id, "is cancelled"},
		{operator, "t2", "!cancel " + m2[1], "Cancelled task " + m2[1]}, // an admin, from another conversation
		{operator, "t2", "!tasks all", "[cancelled]"},
	} {
		if got := u.sayIn(st.who, "room", st.thread, st.text); !strings.Contains(got, st.want) {
			t.Errorf("%s in %s: %q: answer %q lacks %q", st.who, st.thread, st.text, got, st.want)
		}
	}
	if got := u.sayIn(bob, "room", "t1", "!help"); !strings.Contains(got, "!schedule <when> <prompt>") {
		t.Errorf("!help does not list !schedule: %q", got)
	}
}

func TestTaskCommandsWithoutScheduler(t *testing.T) {
	u := newUnit(t)
	u.say(operator, "room", false, "!register team")
	if got := u.sayIn(operator, "room", "t1", "!schedule in 20m hi"); !strings.Contains(got, "not available") {
		t.Fatalf("!schedule without a scheduler: %q", got)
	}
}
