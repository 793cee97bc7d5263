package session

import (
	"context"
	"slices"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// What a person is shown about each message berth accepted, until it is
// answered: queued behind the running-container cap, starting (the
// container boots), working, retrying, and finally done or failed (see
// channels.State). A session's messages that wait for its container share
// the session's phase; working, retrying, done and failed are then told
// per message. Each change is logged ("state") and counted.

// startingAfter is how long a container may take to boot before its
// messages are shown as starting: most boots are quicker, and a state
// shown for a blink is noise.
const startingAfter = time.Second

// maxDetail bounds the reason a status carries to the platform.
const maxDetail = 300

// progressTarget is where a message's states are shown, and what was shown.
type progressTarget struct {
	channel string
	t       channels.Target
	at      time.Time       // when the message was accepted
	status  channels.Status // the last status told; zero: none yet
	since   time.Time       // when status was told
}

// Which states a change may be made from.
var (
	// waiting: a message not yet with a running container, or retrying;
	// queued and starting are shown to it.
	waiting = []channels.State{"", channels.StateQueued, channels.StateStarting, channels.StateRetrying}
	// unseen: a message whose container has just started; a retrying one
	// keeps showing retrying until the runner claims it again (its retry
	// may wait out a backoff).
	unseen = []channels.State{"", channels.StateQueued, channels.StateStarting}
)

// accepted notes where to show msgID's states, and shows it its
// session's phase, if the session's container is waited for or running.
func (d *delivery) accepted(ctx context.Context, l *handle, msgID string, in channels.Inbound) {
	t := channels.Target{PlatformID: in.PlatformID, ThreadID: in.ThreadID, MessageID: in.MessageID}
	l.amu.Lock()
	l.targets[msgID] = progressTarget{channel: in.ChannelType, t: t, at: time.Now()}
	phase := l.phase
	l.amu.Unlock()
	if phase.State != "" {
		l.tell(ctx, phase, nil, msgID)
	}
}

// done tells the platform that msgID is answered, or failed (with why).
func (d *delivery) done(ctx context.Context, l *handle, msgID string, ok bool, why string) {
	s := channels.Status{State: channels.StateDone}
	if !ok {
		s = channels.Status{State: channels.StateFailed, Detail: why}
	}
	l.tell(ctx, s, nil, msgID)
}

// claims shows as working the messages the runner has claimed since
// they were last told otherwise (a retried message is claimed again
// after its backoff).
func (d *delivery) claims(ctx context.Context, l *handle, acks map[string]sessiondb.Ack) {
	var ids []string
	l.amu.Lock()
	for id, pt := range l.targets {
		if a, ok := acks[id]; ok && a.Status == sessiondb.StatusProcessing && pt.status.State != channels.StateWorking &&
			!pt.status.State.Final() && a.Changed.After(pt.since) {
			ids = append(ids, id)
		}
	}
	l.amu.Unlock()
	if len(ids) > 0 {
		l.tell(ctx, channels.Status{State: channels.StateWorking}, nil, ids...)
	}
}

// setPhase makes s what the session's messages waiting for its container
// show, telling those in one of the states from (all of waiting when from
// is nil). A zero s only forgets the phase (the container is gone). When
// onlyFrom is not empty, the phase changes only from one of those.
func (l *handle) setPhase(ctx context.Context, s channels.Status, from []channels.State, onlyFrom ...channels.State) {
	l.amu.Lock()
	if len(onlyFrom) > 0 && !slices.Contains(onlyFrom, l.phase.State) {
		l.amu.Unlock()
		return
	}
	l.phase = s
	l.amu.Unlock()
	if s.State == "" {
		return
	}
	if from == nil {
		from = waiting
	}
	l.tell(ctx, s, from)
}

// tell shows s on the platform of each message ids names (every message
// the session shows states for, when ids is empty) that is in one of the
// states from (any, when from is nil) and does not show s already. A
// change of state is logged and counted; a final state forgets the
// message. Changes reach a platform in the order they were made.
func (l *handle) tell(ctx context.Context, s channels.Status, from []channels.State, ids ...string) {
	s.Detail = truncate(s.Detail, maxDetail)
	l.tellMu.Lock()
	defer l.tellMu.Unlock()
	type change struct {
		id   string
		pt   progressTarget
		prev channels.State
	}
	var changes []change
	now := time.Now()
	l.amu.Lock()
	if len(ids) == 0 {
		for id := range l.targets {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		pt, ok := l.targets[id]
		if !ok || pt.status == s || (from != nil && !slices.Contains(from, pt.status.State)) {
			continue
		}
		prev := pt.status.State
		pt.status, pt.since = s, now
		if s.State.Final() {
			delete(l.targets, id)
		} else {
			l.targets[id] = pt
		}
		changes = append(changes, change{id: id, pt: pt, prev: prev})
	}
	l.amu.Unlock()
	for _, c := range changes {
		if c.prev != s.State {
			l.c.obs.StateChanged(s.State)
			args := []any{"session", l.id, "group", l.group.Folder, "channel", c.pt.channel, "message", c.id, "state", s.State}
			switch s.State {
			case channels.StateQueued:
				args = append(args, "ahead", s.Ahead)
			case channels.StateRetrying, channels.StateFailed:
				args = append(args, "reason", s.Detail)
			}
			l.c.log.Info("state", args...)
		}
		if p, ok := l.c.channel(c.pt.channel).(channels.Progress); ok {
			p.Status(ctx, c.pt.t, s)
		}
	}
}
