package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/sessiondb"
)

var _ session.TaskDesk = (*Scheduler)(nil)

// maxAgentList bounds the tasks one list_tasks answer holds.
const maxAgentList = 50

// AgentRequest answers an agent's task request (schedule_task,
// list_tasks, cancel_task) in session sessionID, on behalf of the person
// whose message the turn answers (for a task's own run, its creator). It
// applies the roles and limits of !schedule: onBehalfOf must be a member
// of the session's group; a task is created in this session and its
// conversation, via "agent"; list shows this session's tasks; cancel
// takes this session's tasks, or any of the group's when onBehalfOf is
// an admin of it. Everything in req is the agent's: it is validated here
// and never trusted.
func (s *Scheduler) AgentRequest(ctx context.Context, sessionID, onBehalfOf string, req sessiondb.TaskRequest) sessiondb.TaskReply {
	reply := sessiondb.TaskReply{RequestID: req.ID}
	refuse := func(format string, args ...any) sessiondb.TaskReply {
		reply.Error = fmt.Sprintf(format, args...)
		return reply
	}
	sess, err := s.store.Session(ctx, sessionID)
	if err != nil {
		s.log.Warn("agent task request", "session", sessionID, "err", err)
		return refuse("berth could not find this session")
	}
	if sess.Status != data.SessionActive {
		return refuse("this session is closed")
	}
	g, err := s.store.Group(ctx, sess.AgentGroupID)
	if err != nil {
		s.log.Warn("agent task request", "session", sessionID, "err", err)
		return refuse("berth could not read this session's group")
	}
	member, err := groups.Allowed(ctx, s.store, onBehalfOf, data.RoleMember, g.ID)
	if err != nil {
		s.log.Warn("agent task request", "session", sessionID, "group", g.Folder, "err", err)
		return refuse("berth could not check roles; try again later")
	}
	if !member {
		return refuse("the person this turn answers has no role in group %s, so no task can be %s on their behalf", g.Folder, opVerb(req.Op))
	}
	switch req.Op {
	case sessiondb.TaskSchedule:
		return s.agentSchedule(ctx, sess, onBehalfOf, req, reply)
	case sessiondb.TaskList:
		ts, err := s.store.Tasks(ctx, data.TaskFilter{SessionID: sess.ID})
		if err != nil {
			s.log.Warn("agent task request", "session", sessionID, "err", err)
			return refuse("berth could not list the tasks; try again later")
		}
		for _, t := range ts {
			if len(reply.Tasks) == maxAgentList {
				break
			}
			reply.Tasks = append(reply.Tasks, Info(t))
		}
		reply.OK = true
		reply.Text = fmt.Sprintf("%d task(s) in this conversation", len(ts))
		return reply
	case sessiondb.TaskCancel:
		t, err := s.store.Task(ctx, req.TaskID)
		if errors.Is(err, data.ErrNotFound) || err == nil && t.AgentGroupID != g.ID {
			return refuse("there is no task %q in this group", truncate(req.TaskID, 20))
		}
		if err != nil {
			return refuse("berth could not read the task; try again later")
		}
		if t.SessionID != sess.ID {
			admin, err := groups.Allowed(ctx, s.store, onBehalfOf, data.RoleAdmin, g.ID)
			if err != nil || !admin {
				return refuse("task %s belongs to another conversation; only an admin of group %s may cancel it from here", t.ID, g.Folder)
			}
		}
		got, err := s.SetState(ctx, t.ID, data.TaskCancelled, "the agent, for "+onBehalfOf)
		var tr *groups.TaskRefusal
		if errors.As(err, &tr) {
			return refuse("%s", tr.Reason)
		}
		if err != nil {
			s.log.Warn("agent task request", "session", sessionID, "task", t.ID, "err", err)
			return refuse("berth could not cancel the task; try again later")
		}
		reply.OK, reply.Text, reply.Tasks = true, "cancelled "+got.ID+": "+Describe(got), []sessiondb.TaskInfo{Info(got)}
		return reply
	}
	return refuse("unknown task operation %q", truncate(string(req.Op), 20))
}

func (s *Scheduler) agentSchedule(ctx context.Context, sess data.Session, onBehalfOf string, req sessiondb.TaskRequest, reply sessiondb.TaskReply) sessiondb.TaskReply {
	if req.Prompt == "" {
		reply.Error = "schedule_task needs a prompt: what the agent should do when the task runs"
		return reply
	}
	// Where the conversation is answered: where the person the turn
	// answers last wrote (a Discord thread is a channel of its own).
	if s.sess == nil {
		reply.Error = "berth cannot schedule tasks from here"
		return reply
	}
	addr, err := s.sess.Address(ctx, sess.ID)
	if err != nil {
		s.log.Warn("agent task request", "session", sess.ID, "err", err)
		reply.Error = "berth could not find where this conversation is"
		return reply
	}
	name, err := s.store.UserName(ctx, onBehalfOf)
	if err != nil {
		s.log.Warn("agent task request", "session", sess.ID, "err", err)
	}
	t, err := s.Schedule(ctx, data.Task{SessionID: sess.ID, AgentGroupID: sess.AgentGroupID, ChannelType: addr.ChannelType,
		PlatformID: addr.PlatformID, ThreadID: addr.ThreadID, Prompt: req.Prompt, CreatedBy: onBehalfOf, CreatedByName: name,
		CreatedVia: data.ViaAgent}, req.When)
	var tr *groups.TaskRefusal
	if errors.As(err, &tr) {
		reply.Error = tr.Reason
		return reply
	}
	if err != nil {
		s.log.Warn("agent task request", "session", sess.ID, "err", err)
		reply.Error = "berth could not store the task; try again later"
		return reply
	}
	info := Info(t)
	reply.OK, reply.Tasks = true, []sessiondb.TaskInfo{info}
	reply.Text = fmt.Sprintf("scheduled %s: %s, next %s", t.ID, Describe(t), info.NextRun)
	return reply
}

func opVerb(op sessiondb.TaskOp) string {
	switch op {
	case sessiondb.TaskList:
		return "listed"
	case sessiondb.TaskCancel:
		return "cancelled"
	}
	return "scheduled"
}

// Info is a task as the agent sees it, its times in its own zone. Its
// Schedule does not name the zone: Timezone does, and the runner shows
// both (before, the zone was said twice).
func Info(t data.Task) sessiondb.TaskInfo {
	loc := location(t.Timezone)
	at := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.In(loc).Format("2006-01-02 15:04 MST")
	}
	return sessiondb.TaskInfo{ID: t.ID, Prompt: t.Prompt, Schedule: describeSchedule(t), Timezone: t.Timezone, State: string(t.State),
		NextRun: at(t.NextRun), LastRun: at(t.LastRun), LastResult: t.LastResult}
}
