package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/berth-dev/berth/session/sessiondb"
)

// TaskDesk answers an agent's task requests; the scheduler implements it.
type TaskDesk interface {
	AgentRequest(ctx context.Context, sessionID, onBehalfOf string, req sessiondb.TaskRequest) sessiondb.TaskReply
}

// SetTasks gives the manager the scheduler that answers agents' task requests.
func (m *Manager) SetTasks(d TaskDesk) { m.tasks.setDesk(d) }

// Bounds on what an agent's task requests may cost the host.
const (
	// TaskRequestBurst and TaskRequestEvery bound the requests a session's
	// agent has answered: a burst of this many, then one every so often.
	// The rest wait in outbound.db for a later pass; a runner stops
	// waiting after its own deadline, and a request older than
	// TaskRequestExpiry when it is read is refused, not acted on.
	TaskRequestBurst = 10
	TaskRequestEvery = 6 * time.Second
	// TaskRequestExpiry is the age past which a request is refused: the
	// agent that asked has given up waiting, and acting on it then would
	// surprise the model, which was told the call failed.
	TaskRequestExpiry = 2 * time.Minute
	// taskDeskTimeout bounds one answer of the scheduler.
	taskDeskTimeout = 10 * time.Second
)

// Refusals an agent's task request may get from the host itself.
const (
	refuseNoTasks = "scheduled tasks are not available"
	refuseNoTurn  = "no turn is running for this request (it ended, or it was not claimed), so berth cannot tell whom it is for"
	refuseExpired = "the request is too old: it was written more than 2 minutes before berth read it"
)

// taskGate holds the scheduler that answers agents' task requests and
// the per-session bounds on them. Its zero value answers "not available".
type taskGate struct {
	mu     sync.Mutex // guards desk and limits
	desk   TaskDesk
	limits map[string]*rate.Limiter // session id -> its requests' budget
}

func (g *taskGate) setDesk(d TaskDesk) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.desk = d
}

// take reports whether session may have one more request answered now,
// and the desk to answer it (nil: none is set).
func (g *taskGate) take(session string) (TaskDesk, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limits == nil {
		g.limits = map[string]*rate.Limiter{}
	}
	lim := g.limits[session]
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(TaskRequestEvery), TaskRequestBurst)
		g.limits[session] = lim
	}
	return g.desk, lim.Allow()
}

// answerTasks answers the agent's task requests waiting in outbound.db,
// in order, each once, within the session's budget; what is over it waits
// for a later pass (the sweep pokes a running session). acks are the
// claims of the pending messages, read by this pass. l.delivering is held.
//
// Requests are read only while a turn is claimed: an honest agent asks
// from within a turn (its tool waits for the answer), and a pass with no
// turn running, the most common, costs no second read of the agent's
// file. A request written between turns waits for the next one, and is
// refused then if it is older than TaskRequestExpiry.
func (d *delivery) answerTasks(ctx context.Context, l *handle, acks map[string]sessiondb.Ack) {
	if !anyClaimed(acks) {
		return
	}
	for {
		calls, err := l.db.TaskRequests(ctx)
		if errors.Is(err, sessiondb.ErrRefused) {
			return // the acks' read refused it too, and set it aside
		}
		if err != nil {
			d.log.Warn("read task requests", "session", l.id, "group", l.group.Folder, "err", err)
			l.backlog.Store(true)
			return
		}
		if len(calls) == 0 {
			return
		}
		behalf, claimed, err := d.claimant(ctx, l, acks)
		if err != nil {
			d.log.Warn("read claimed messages", "session", l.id, "group", l.group.Folder, "err", err)
			l.backlog.Store(true)
			return
		}
		for _, c := range calls {
			desk, ok := d.tasks.take(l.id)
			if !ok {
				l.backlog.Store(true) // over budget: a later pass answers it
				return
			}
			reply := d.answerTask(ctx, l, desk, c, behalf, claimed)
			if err := l.db.AnswerTask(ctx, c, reply); err != nil {
				d.log.Warn("answer task request", "session", l.id, "group", l.group.Folder, "request", c.ID, "err", err)
				l.backlog.Store(true)
				return
			}
			d.log.Info("task-request", "session", l.id, "group", l.group.Folder, "request", c.ID, "op", string(c.Op),
				"on_behalf_of", behalf, "ok", reply.OK, "error", reply.Error)
		}
		if len(calls) < sessiondb.TaskBatch {
			return
		}
	}
}

// answerTask is the reply to one request: the host's own refusal, or the
// desk's answer.
func (d *delivery) answerTask(ctx context.Context, l *handle, desk TaskDesk, c sessiondb.TaskCall, behalf string, claimed bool) sessiondb.TaskReply {
	switch {
	case c.Refusal != "":
		return sessiondb.TaskReply{Error: c.Refusal}
	case desk == nil:
		return sessiondb.TaskReply{Error: refuseNoTasks}
	case !claimed:
		return sessiondb.TaskReply{Error: refuseNoTurn}
	case c.Created.IsZero() || time.Since(c.Created) > TaskRequestExpiry:
		return sessiondb.TaskReply{Error: refuseExpired}
	}
	ctx, cancel := context.WithTimeout(ctx, taskDeskTimeout)
	defer cancel()
	return desk.AgentRequest(ctx, l.id, behalf, c.TaskRequest)
}

// anyClaimed reports whether a running turn holds any pending message.
func anyClaimed(acks map[string]sessiondb.Ack) bool {
	for _, a := range acks {
		if a.Status == sessiondb.StatusProcessing {
			return true
		}
	}
	return false
}

// claimant is whom the running turn acts for: the sender of the newest
// message it claimed that asked for a turn (for a task's own run, the
// task's creator, whom its row names as sender). claimed is false when
// no such message is claimed: the turn that asked has ended.
func (d *delivery) claimant(ctx context.Context, l *handle, acks map[string]sessiondb.Ack) (sender string, claimed bool, err error) {
	open, err := l.db.Open(ctx)
	if err != nil {
		return "", false, err
	}
	for _, m := range open { // oldest first: the last one found wins
		a, ok := acks[m.ID]
		if !ok || a.Status != sessiondb.StatusProcessing || !m.Trigger || m.Kind == sessiondb.KindSystem {
			continue
		}
		sender, claimed = m.SenderID, true
		if sender == "" {
			sender = m.Content.SenderID
		}
	}
	return sender, claimed, nil
}
