package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/schedule"
)

// The chat commands create and change tasks through the scheduler.
var _ groups.TaskDesk = (*Scheduler)(nil)

// Schedule creates a task in t's session and conversation, from when: a
// schedule in the grammar of package schedule, read in the group's time
// zone, followed by the prompt unless t.Prompt is set. It applies the
// group's limits and grace. The error is a *groups.TaskRefusal for what
// a person or agent asked wrong.
func (s *Scheduler) Schedule(ctx context.Context, t data.Task, when string) (data.Task, error) {
	_, conf, err := s.groupConfig(ctx, t.AgentGroupID)
	if err != nil {
		return data.Task{}, fmt.Errorf("schedule a task: %w", err)
	}
	loc := conf.Location()
	now := s.now()
	spec, rest, err := schedule.Parse(when, now, loc)
	if err != nil {
		return data.Task{}, &groups.TaskRefusal{Reason: err.Error()}
	}
	prompt := t.Prompt
	switch {
	case prompt == "":
		prompt = rest
	case rest != "":
		return data.Task{}, &groups.TaskRefusal{Reason: fmt.Sprintf("the schedule %q has words after it (%q); give the prompt on its own", when, rest)}
	}
	prompt = cleanPrompt(prompt)
	switch {
	case prompt == "":
		return data.Task{}, &groups.TaskRefusal{Reason: "the task has no prompt: say what the agent should do after the schedule"}
	case len(prompt) > maxPrompt:
		return data.Task{}, &groups.TaskRefusal{Reason: fmt.Sprintf("the prompt is %d bytes; at most %d", len(prompt), maxPrompt)}
	}
	t.Prompt, t.Kind, t.Expr, t.Timezone = prompt, string(spec.Kind), spec.Expr(), conf.Zone()
	t.NextRun = spec.First(now, loc)
	if t.NextRun.IsZero() {
		return data.Task{}, &groups.TaskRefusal{Reason: "the schedule never runs"}
	}
	t.Grace, t.State, t.Failures = conf.Grace(), data.TaskActive, 0
	perConv, perGroup := conf.TaskLimits()
	created, err := s.store.CreateTask(ctx, t, data.TaskLimits{PerConversation: perConv, PerGroup: perGroup})
	var le *data.TaskLimitError
	if errors.As(err, &le) {
		return data.Task{}, &groups.TaskRefusal{Reason: le.Error()}
	}
	if err != nil {
		return data.Task{}, err
	}
	s.log.Info("task scheduled", "task", created.ID, "group", created.AgentGroupID, "session", created.SessionID,
		"via", created.CreatedVia, "user", created.CreatedBy, "schedule", created.Kind+" "+created.Expr, "next", created.NextRun)
	s.Kick()
	return created, nil
}

// cleanPrompt drops control characters but newline and tab, and trims.
func cleanPrompt(p string) string {
	p = strings.ToValidUTF8(p, "\uFFFD")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, p))
}

// SetState pauses, resumes or cancels a task. Resuming computes its next
// run from now (a once task past its time is refused); a task already in
// that state, or finished, is refused with a *groups.TaskRefusal.
func (s *Scheduler) SetState(ctx context.Context, id string, to data.TaskState, by string) (data.Task, error) {
	t, err := s.store.Task(ctx, id)
	if errors.Is(err, data.ErrNotFound) {
		return t, &groups.TaskRefusal{Reason: fmt.Sprintf("there is no task %q", truncate(id, 20))}
	}
	if err != nil {
		return t, err
	}
	var from []data.TaskState
	var next time.Time
	result := ""
	switch to {
	case data.TaskPaused:
		from = []data.TaskState{data.TaskActive}
		result = "paused by " + by
	case data.TaskCancelled:
		from = []data.TaskState{data.TaskActive, data.TaskPaused}
		result = "cancelled by " + by
	case data.TaskActive:
		from = []data.TaskState{data.TaskPaused}
		spec, err := schedule.Load(schedule.Kind(t.Kind), t.Expr)
		if err != nil {
			return t, err
		}
		now := s.now()
		base := t.NextRun // an interval keeps its grid
		if base.IsZero() {
			base = t.CreatedAt
		}
		next = spec.Next(now, base, location(t.Timezone))
		if next.IsZero() {
			return t, &groups.TaskRefusal{Reason: fmt.Sprintf("task %s was due at %s, which has passed; schedule it again", t.ID,
				spec.At.In(location(t.Timezone)).Format("2006-01-02 15:04 MST"))}
		}
	default:
		return t, fmt.Errorf("set task %s to %s: not a state a person sets", id, to)
	}
	if to != data.TaskActive {
		next = time.Time{}
		if to == data.TaskPaused {
			next = t.NextRun // kept, so !tasks shows when it would have run; never claimed while paused
		}
	}
	got, ok, err := s.store.SetTaskState(ctx, t.ID, from, to, next, result)
	if err != nil {
		return got, err
	}
	if !ok {
		return got, &groups.TaskRefusal{Reason: fmt.Sprintf("task %s is %s", got.ID, got.State)}
	}
	s.log.Info("task "+string(to), "task", got.ID, "group", got.AgentGroupID, "session", got.SessionID, "by", by)
	s.Kick()
	return got, nil
}

// Describe says a task's schedule for a person, in its time zone.
func (s *Scheduler) Describe(t data.Task) string { return Describe(t) }

// Describe says a task's schedule for a person, in its time zone:
// "every 1h (Europe/Paris)".
func Describe(t data.Task) string {
	return describeSchedule(t) + " (" + t.Timezone + ")"
}

// describeSchedule is Describe without the zone's name.
func describeSchedule(t data.Task) string {
	spec, err := schedule.Load(schedule.Kind(t.Kind), t.Expr)
	if err != nil {
		return t.Kind + " " + t.Expr
	}
	return spec.Describe(location(t.Timezone))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
