package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/tasks"
)

// taskJSON is a scheduled task as `--json` prints it.
type taskJSON struct {
	ID         string         `json:"id"`
	Group      string         `json:"group"`
	SessionID  string         `json:"session_id"`
	Channel    string         `json:"channel"`
	ThreadID   string         `json:"thread_id"`
	Prompt     string         `json:"prompt"`
	Schedule   string         `json:"schedule"`
	Kind       string         `json:"kind"`
	Expr       string         `json:"expr"`
	Timezone   string         `json:"timezone"`
	State      data.TaskState `json:"state"`
	NextRun    *time.Time     `json:"next_run"` // null: none
	LastRun    *time.Time     `json:"last_run"`
	LastResult string         `json:"last_result"`
	Failures   int            `json:"failures"`
	Grace      string         `json:"grace"`
	CreatedBy  string         `json:"created_by"`
	CreatedVia data.TaskVia   `json:"created_via"`
	CreatedAt  time.Time      `json:"created_at"`
	Runs       []taskRunJSON  `json:"runs,omitempty"` // show only
}

// taskRunJSON is one due time of a task as `tasks show --json` prints it.
type taskRunJSON struct {
	Due       time.Time     `json:"due"`
	State     data.RunState `json:"state"`
	MessageID string        `json:"message_id"`
	Outcome   string        `json:"outcome"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func taskToJSON(t data.Task, folder string) taskJSON {
	return taskJSON{ID: t.ID, Group: folder, SessionID: t.SessionID, Channel: t.ChannelType + ":" + t.PlatformID, ThreadID: t.ThreadID,
		Prompt: t.Prompt, Schedule: tasks.Describe(t), Kind: t.Kind, Expr: t.Expr, Timezone: t.Timezone, State: t.State,
		NextRun: timePtr(t.NextRun), LastRun: timePtr(t.LastRun), LastResult: t.LastResult, Failures: t.Failures, Grace: t.Grace.String(),
		CreatedBy: t.CreatedBy, CreatedVia: t.CreatedVia, CreatedAt: t.CreatedAt}
}

func (a *admin) tasksList(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "list")
	group := fs.String("group", "", "only this agent group's tasks")
	all := fs.Bool("all", false, "include finished tasks (done, failed, cancelled, missed)")
	return a.verb(c, fs, "tasks list [--group G] [--all] [--json]", 0, 0, func(ctx context.Context, _ []string) error {
		f := data.TaskFilter{Live: !*all}
		if *group != "" {
			g, err := a.group(ctx, *group)
			if err != nil {
				return err
			}
			f.AgentGroupID = g.ID
		}
		ts, err := a.store.Tasks(ctx, f)
		if err != nil {
			return err
		}
		folders, err := a.folders(ctx)
		if err != nil {
			return err
		}
		out := []taskJSON{}
		var rows [][]string
		for _, t := range ts {
			j := taskToJSON(t, folders[t.AgentGroupID])
			out = append(out, j)
			rows = append(rows, []string{t.ID, j.Group, string(t.State), j.Schedule, adminTime(t.NextRun), adminDash(t.LastResult), t.Prompt})
		}
		return a.emit(out, []string{"TASK", "GROUP", "STATE", "SCHEDULE", "NEXT RUN", "LAST RESULT", "PROMPT"}, rows)
	})
}

// folders maps group ids to folder names.
func (a *admin) folders(ctx context.Context) (map[string]string, error) {
	gs, err := a.store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, g := range gs {
		m[g.ID] = g.Folder
	}
	return m, nil
}

// task finds a task by id.
func (a *admin) task(ctx context.Context, id string) (data.Task, error) {
	t, err := a.store.Task(ctx, id)
	if errors.Is(err, data.ErrNotFound) {
		return t, adminNotFound(fmt.Errorf("no task %q", id))
	}
	return t, err
}

func (a *admin) tasksShow(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "show")
	return a.verb(c, fs, "tasks show <task> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		t, err := a.task(ctx, pos[0])
		if err != nil {
			return err
		}
		folders, err := a.folders(ctx)
		if err != nil {
			return err
		}
		j := taskToJSON(t, folders[t.AgentGroupID])
		runs, err := a.store.TaskRuns(ctx, t.ID, 20)
		if err != nil {
			return err
		}
		for _, r := range runs {
			j.Runs = append(j.Runs, taskRunJSON{Due: r.Due, State: r.State, MessageID: r.MessageID, Outcome: r.Outcome})
		}
		if a.json {
			return a.emit(j, nil, nil)
		}
		rows := [][]string{
			{"id", j.ID}, {"group", j.Group}, {"state", string(j.State)}, {"schedule", j.Schedule}, {"prompt", j.Prompt},
			{"next run", adminTime(t.NextRun)}, {"last run", adminTime(t.LastRun)}, {"last result", adminDash(j.LastResult)},
			{"failures in a row", fmt.Sprint(j.Failures)}, {"grace", j.Grace}, {"conversation", j.Channel + " " + adminDash(j.ThreadID)},
			{"session", j.SessionID}, {"created", adminTime(j.CreatedAt) + " by " + adminDash(j.CreatedBy) + " via " + string(j.CreatedVia)},
		}
		for _, r := range runs {
			rows = append(rows, []string{"run " + adminTime(r.Due), string(r.State) + " " + r.Outcome})
		}
		return a.emit(nil, []string{"FIELD", "VALUE"}, rows)
	})
}

// tasksSet is `berth tasks cancel|pause|resume <task>`.
func (a *admin) tasksSet(c *commandLine, verb string, to data.TaskState, done string) *ffcli.Command {
	fs := a.flags(c, verb)
	return a.verb(c, fs, "tasks "+verb+" <task> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		if _, err := a.task(ctx, pos[0]); err != nil {
			return err
		}
		// The scheduler's rules, without running it: a running gateway
		// picks the change up on its next pass.
		t, err := tasks.New(a.store, nil, tasks.Config{}).SetState(ctx, pos[0], to, "the operator")
		var tr *groups.TaskRefusal
		if errors.As(err, &tr) {
			return exitError{code: 1, err: errors.New(tr.Reason)}
		}
		if err != nil {
			return err
		}
		folders, err := a.folders(ctx)
		if err != nil {
			return err
		}
		return a.say(taskToJSON(t, folders[t.AgentGroupID]), "%s task %s (%s); next run %s", done, t.ID, tasks.Describe(t), adminTime(t.NextRun))
	})
}
