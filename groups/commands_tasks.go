package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/data"
)

// TaskDesk creates and changes scheduled tasks; the scheduler
// (session/tasks) implements it. The chat commands decide who may.
type TaskDesk interface {
	// Schedule creates t (its session, conversation and creator set) from
	// when: a schedule followed by the prompt. A refusal is a *TaskRefusal.
	Schedule(ctx context.Context, t data.Task, when string) (data.Task, error)
	// SetState pauses (data.TaskPaused), resumes (data.TaskActive) or
	// cancels (data.TaskCancelled) a task; by names who, for its record.
	SetState(ctx context.Context, id string, to data.TaskState, by string) (data.Task, error)
	// Describe says a task's schedule for a person.
	Describe(t data.Task) string
}

// TaskRefusal is a task request refused for what was asked (a bad
// schedule, a limit reached, a task already finished): the reason is for
// the person or agent who asked.
type TaskRefusal struct {
	Reason string
}

// Error implements error.
func (e *TaskRefusal) Error() string { return e.Reason }

// SetTasks gives the chat commands the scheduler; without it the task
// commands answer that tasks are not available.
func (c *Commands) SetTasks(d TaskDesk) { c.tasks = d }

// rawCommands take the rest of the message as it is, not split into
// arguments: a prompt may hold quotes, "--" and any number of words.
var rawCommands = []string{"schedule"}

// rawCommand reports whether text is a command in rawCommands, and the
// text after its name.
func rawCommand(text string) (name, rest string, ok bool) {
	if len(text) > MaxCommandBytes || !utf8.ValidString(text) {
		return "", "", false
	}
	text = stripMention(strings.TrimSpace(text))
	word, rest, _ := strings.Cut(strings.TrimPrefix(text, "!"), " ")
	if !strings.HasPrefix(text, "!") || !slices.Contains(rawCommands, strings.ToLower(word)) {
		return "", "", false
	}
	return strings.ToLower(word), strings.TrimSpace(rest), true
}

// errNoTasks answers the task commands in a build without a scheduler.
var errNoTasks = refusal("scheduled tasks are not available in this gateway")

// taskUsage is !schedule's synopsis, spelled out.
const taskUsage = "usage: !schedule <when> <prompt>, where <when> is `in 20m`, `at 09:00`, `tomorrow 9:00`, " +
	"`every 30m`, `every day at 09:00`, or a cron expression such as `0 9 * * 1-5`"

func (c *Commands) schedule(ctx context.Context, x *call) (string, error) {
	if c.tasks == nil {
		return "", errNoTasks
	}
	if x.rest == "" {
		return "", refusal(taskUsage)
	}
	mg, ws, err := c.wiredHere(ctx, x, data.RoleMember)
	if err != nil {
		return "", err
	}
	// The first wiring the sender may use: one task, in one group.
	i := slices.IndexFunc(ws, func(w wired) bool { return w.allowed })
	w := ws[i]
	k, err := data.ConversationKey(x.in, mg, w.w)
	if err != nil {
		return "", err
	}
	s, _, err := c.store.ResolveSession(ctx, k)
	if err != nil {
		return "", err
	}
	thread := x.in.ThreadID
	if thread == "" && k.Opens {
		thread = k.ThreadID // the command opens a thread: the task answers there
	}
	t, err := c.tasks.Schedule(ctx, data.Task{SessionID: s.ID, AgentGroupID: w.g.ID, ChannelType: x.in.ChannelType,
		PlatformID: x.in.PlatformID, ThreadID: thread, CreatedBy: x.user, CreatedByName: x.in.Sender.Name, CreatedVia: data.ViaChat}, x.rest)
	var tr *TaskRefusal
	if errors.As(err, &tr) {
		return "", refusal(tr.Reason + "\n" + taskUsage)
	}
	if err != nil {
		return "", err
	}
	c.log.Info("task scheduled", "channel", x.in.ChannelType, "group", w.g.Folder, "session", s.ID, "task", t.ID, "user", x.user)
	return fmt.Sprintf("Scheduled task %s for group %s: %s, next run %s. `!cancel %s` cancels it, `!tasks` lists this conversation's tasks.",
		t.ID, w.g.Folder, c.tasks.Describe(t), when(t.NextRun, t.Timezone), t.ID), nil
}

// when says a task time in its zone; "none" for the zero time.
func when(t time.Time, zone string) string {
	if t.IsZero() {
		return "none"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// inConversation reports whether task t belongs to the conversation the
// command came from under wiring w: its session is keyed as k.
func (c *Commands) inConversation(ctx context.Context, t data.Task, k data.SessionKey) (bool, error) {
	if t.AgentGroupID != k.AgentGroupID {
		return false, nil
	}
	s, err := c.store.Session(ctx, t.SessionID)
	if err != nil {
		return false, err
	}
	switch k.Mode {
	case data.SessionAgentShared:
		return true, nil
	case data.SessionShared:
		return s.MessagingGroupID == k.MessagingGroupID, nil
	}
	return s.MessagingGroupID == k.MessagingGroupID && s.ThreadID == k.ThreadID && !k.Opens, nil
}

func (c *Commands) listTasks(ctx context.Context, x *call) (string, error) {
	if c.tasks == nil {
		return "", errNoTasks
	}
	all := len(x.cmd.Args) == 1 && x.cmd.Args[0] == "all"
	if len(x.cmd.Args) == 1 && !all {
		return "", refusal("usage: !tasks, or !tasks all (admins: every task of this channel's groups)")
	}
	mg, ws, err := c.wiredHere(ctx, x, data.RoleMember)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	n := 0
	for _, w := range ws {
		if !w.allowed {
			continue
		}
		if all {
			if err := c.require(ctx, x, data.RoleAdmin, w.g); err != nil {
				return "", err
			}
		}
		k, err := data.ConversationKey(x.in, mg, w.w)
		if err != nil {
			return "", err
		}
		ts, err := c.store.Tasks(ctx, data.TaskFilter{AgentGroupID: w.g.ID})
		if err != nil {
			return "", err
		}
		for _, t := range ts {
			if !all {
				ok, err := c.inConversation(ctx, t, k)
				if err != nil {
					return "", err
				}
				if !ok {
					continue
				}
			}
			if n == maxListed {
				b.WriteString("… and more (berth tasks list shows all)\n")
				return b.String(), nil
			}
			n++
			b.WriteString(c.taskLine(t) + "\n")
		}
	}
	if n == 0 {
		return "No scheduled tasks here. " + taskUsage, nil
	}
	return "Scheduled tasks:\n" + strings.TrimSuffix(b.String(), "\n"), nil
}

// taskLine is one task for !tasks.
func (c *Commands) taskLine(t data.Task) string {
	line := fmt.Sprintf("- %s [%s] %s", t.ID, t.State, c.tasks.Describe(t))
	if !t.State.Final() && !t.NextRun.IsZero() {
		line += ", next " + when(t.NextRun, t.Timezone)
	}
	if t.LastResult != "" {
		line += "; last: " + truncate(t.LastResult, 120)
	}
	if t.Failures > 0 {
		line += fmt.Sprintf(" (%s in a row)", plural(t.Failures, "failure"))
	}
	by := t.CreatedByName
	if by == "" {
		by = t.CreatedBy
	}
	return line + fmt.Sprintf(": %q (by %s via %s)", truncate(t.Prompt, 80), truncate(by, 40), t.CreatedVia)
}

func (c *Commands) cancelTask(ctx context.Context, x *call) (string, error) {
	return c.changeTask(ctx, x, data.TaskCancelled, "Cancelled")
}

func (c *Commands) pauseTask(ctx context.Context, x *call) (string, error) {
	return c.changeTask(ctx, x, data.TaskPaused, "Paused")
}

func (c *Commands) resumeTask(ctx context.Context, x *call) (string, error) {
	return c.changeTask(ctx, x, data.TaskActive, "Resumed")
}

// changeTask sets a task's state, if the sender may: an admin of its
// group from anywhere, a member of its group from its own conversation.
func (c *Commands) changeTask(ctx context.Context, x *call, to data.TaskState, done string) (string, error) {
	if c.tasks == nil {
		return "", errNoTasks
	}
	t, err := c.store.Task(ctx, x.cmd.Args[0])
	if errors.Is(err, data.ErrNotFound) {
		return "", refusef("there is no task %q; !tasks lists this conversation's", truncate(x.cmd.Args[0], 20))
	}
	if err != nil {
		return "", err
	}
	g, err := c.store.Group(ctx, t.AgentGroupID)
	if err != nil {
		return "", err
	}
	admin, err := Allowed(ctx, c.store, x.user, data.RoleAdmin, g.ID)
	if err != nil {
		return "", err
	}
	if !admin {
		if err := c.require(ctx, x, data.RoleMember, g); err != nil {
			return "", err
		}
		mine := false
		if mg, ws, found, err := c.here(ctx, x); err != nil {
			return "", err
		} else if found {
			for _, w := range ws {
				if w.AgentGroupID != g.ID {
					continue
				}
				k, err := data.ConversationKey(x.in, mg, w)
				if err != nil {
					return "", err
				}
				if mine, err = c.inConversation(ctx, t, k); err != nil {
					return "", err
				}
			}
		}
		if !mine {
			return "", refusef("task %s belongs to another conversation; change it there, or ask an admin of group %s", t.ID, g.Folder)
		}
	}
	by := x.in.Sender.Name
	if by == "" {
		by = x.user
	}
	got, err := c.tasks.SetState(ctx, t.ID, to, by)
	var tr *TaskRefusal
	if errors.As(err, &tr) {
		return "", refusal(tr.Reason)
	}
	if err != nil {
		return "", err
	}
	c.log.Info("task "+string(to), "channel", x.in.ChannelType, "group", g.Folder, "task", got.ID, "user", x.user)
	text := fmt.Sprintf("%s task %s (%s).", done, got.ID, c.tasks.Describe(got))
	if to == data.TaskActive {
		text += " Next run " + when(got.NextRun, got.Timezone) + "."
	}
	return text, nil
}
