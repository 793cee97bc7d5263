// Package tasks runs scheduled tasks: it finds the tasks that are due,
// applies each one's grace window after downtime, claims each due time
// once in the central store, fires it into its session as a triggering
// row, watches the run's outcome, and tells the conversation when a run
// fails (and when three failures in a row pause the task). It also
// creates, pauses, resumes and cancels tasks for the chat commands, the
// operator CLI and the agent's task tools, with the same roles and limits.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/schedule"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Sessions is what the scheduler needs of the session manager.
type Sessions interface {
	// Trigger writes a task run's row to a session's inbound.db (once per
	// id) and wakes the session.
	Trigger(ctx context.Context, sessionID string, msg sessiondb.InMessage) error
	// Outcome reads where a row of a session's inbound.db stands.
	Outcome(ctx context.Context, sessionID, messageID string) (sessiondb.Status, string, bool, error)
	// Address is where a session's conversation is answered.
	Address(ctx context.Context, sessionID string) (sessiondb.Address, error)
	// Tell sends berth's own text to a conversation, mentioning (and so
	// notifying) the platform user mention first unless it is "".
	Tell(ctx context.Context, channelType, platformID, threadID, mention, text string) error
}

var _ Sessions = (*session.Manager)(nil)

// Defaults of a scheduler.
const (
	// DefaultPoll is the longest the scheduler waits between passes; it
	// wakes sooner for the next due time and when a task is created.
	DefaultPoll = 2 * time.Second
	// PauseAfter is how many failed runs in a row pause a task.
	PauseAfter = 3
	// maxDue bounds the due tasks one pass looks at; the next pass takes the rest.
	maxDue = 200
	// maxPrompt bounds a task's prompt, in bytes.
	maxPrompt = 8 << 10
)

// Config is a scheduler's configuration.
type Config struct {
	Now  func() time.Time // the clock; nil: time.Now
	Poll time.Duration    // 0: DefaultPoll
	Log  *slog.Logger
}

// Scheduler runs scheduled tasks. Its passes may run in several processes
// on one home: every decision is claimed in the central store.
type Scheduler struct {
	store *data.Store
	sess  Sessions
	now   func() time.Time
	poll  time.Duration
	log   *slog.Logger
	kick  chan struct{}
}

// New returns a scheduler over store that fires runs into sess.
func New(store *data.Store, sess Sessions, cfg Config) *Scheduler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{store: store, sess: sess, now: cfg.Now, poll: cfg.Poll, log: cfg.Log, kick: make(chan struct{}, 1)}
}

// Kick makes the loop look again now (a task was created or resumed).
func (s *Scheduler) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run passes over the tasks until ctx is done: at each task's due time,
// and every Poll while runs wait for their outcome.
func (s *Scheduler) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.kick:
		}
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("task pass", "err", err)
		}
		wait := s.poll
		if next, err := s.store.NextDue(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(s.now()), 100*time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// Pass does one round: it records the due tasks' runs (or their misses)
// and fires them, fires runs claimed but not fired (a crash between the
// two), and records the outcome of fired runs that finished.
func (s *Scheduler) Pass(ctx context.Context) error {
	var errs []error
	// A missed due time moves a task on to a later one that may be due
	// too (its catch-up run): look again, a few times at most.
	for range 3 {
		due, err := s.store.DueTasks(ctx, s.now(), maxDue)
		if err != nil {
			return err
		}
		if len(due) == 0 {
			break
		}
		for _, t := range due {
			if err := s.due(ctx, t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	runs, err := s.store.OpenRuns(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range runs {
		var err error
		switch r.State {
		case data.RunClaimed:
			var t data.Task
			if t, err = s.store.Task(ctx, r.TaskID); err == nil {
				err = s.fire(ctx, t, r.Due)
			}
		case data.RunFired:
			err = s.watch(ctx, r)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// location loads a task's zone; UTC if the name no longer loads.
func location(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}

// due decides what to do with a task whose next run has come: claim it
// (to fire it) if it is at most its grace late, or record it missed.
// Either way the task moves to its next due time, computed from now, so a
// recurring task never fires a burst: after downtime it runs at most
// once, for its latest due time within the grace, and then on schedule.
func (s *Scheduler) due(ctx context.Context, t data.Task) error {
	log := s.log.With("task", t.ID, "group", t.AgentGroupID, "session", t.SessionID)
	spec, err := schedule.Load(schedule.Kind(t.Kind), t.Expr)
	if err != nil {
		_, _, serr := s.store.SetTaskState(ctx, t.ID, []data.TaskState{data.TaskActive}, data.TaskFailed, time.Time{}, "failed: its schedule no longer reads: "+err.Error())
		return errors.Join(fmt.Errorf("task %s: %w", t.ID, err), serr)
	}
	loc := location(t.Timezone)
	now := s.now()
	if now.Sub(t.NextRun) > t.Grace {
		// The latest due time within the grace, if there is one, is run
		// next (at once); the ones before it are skipped, recorded here.
		next := spec.Next(now.Add(-t.Grace-time.Second), t.NextRun, loc)
		skipped := 1
		if !next.IsZero() && !next.After(now) {
			skipped = countBetween(spec, t.NextRun, next, loc)
		} else if spec.Recurring() {
			next = spec.Next(now, t.NextRun, loc)
			skipped = countBetween(spec, t.NextRun, next, loc)
		}
		outcome := fmt.Sprintf("berth was not running at %s and the grace of %s had passed", t.NextRun.In(loc).Format("2006-01-02 15:04 MST"), t.Grace)
		if skipped > 1 {
			outcome += fmt.Sprintf(" (%d runs skipped)", skipped)
		}
		ok, err := s.store.ClaimRun(ctx, data.Claim{TaskID: t.ID, Due: t.NextRun, Next: next, Missed: true, Outcome: outcome})
		if err == nil && ok {
			log.Info("task missed", "due", t.NextRun, "skipped", skipped, "next", next)
		}
		return err
	}
	var next time.Time
	if spec.Recurring() {
		next = spec.Next(now, t.NextRun, loc)
	}
	ok, err := s.store.ClaimRun(ctx, data.Claim{TaskID: t.ID, Due: t.NextRun, Next: next})
	if err != nil || !ok {
		return err // !ok: another pass or gateway claimed it
	}
	log.Info("task due", "due", t.NextRun, "next", next)
	return s.fire(ctx, t, t.NextRun)
}

// countBetween counts the due times in [from, to), at most 10000.
func countBetween(spec schedule.Spec, from, to time.Time, loc *time.Location) int {
	if to.IsZero() {
		return 1
	}
	n := 0
	for t := from; !t.IsZero() && t.Before(to) && n < 10000; t = spec.Next(t, from, loc) {
		n++
	}
	return max(n, 1)
}

// fire writes a claimed run's row into the task's session (its
// conversation's current one, should the task's own have been reset)
// and records it fired. A run that cannot be written is tried again on
// the next pass, until it is its task's grace late: then it fails.
func (s *Scheduler) fire(ctx context.Context, t data.Task, due time.Time) error {
	sid, err := s.liveSession(ctx, t)
	if err == nil {
		msg := runMessage(t, due, s.now())
		if err = s.sess.Trigger(ctx, sid, msg); err == nil {
			return s.store.FireRun(ctx, t.ID, due, sid, msg.ID)
		}
	}
	if s.now().Sub(due) <= t.Grace {
		return fmt.Errorf("fire task %s: %w", t.ID, err)
	}
	// The error (paths, the engine's words) goes to the log, not the chat.
	s.log.Warn("task run not started", "task", t.ID, "group", t.AgentGroupID, "session", t.SessionID, "due", due, "err", err)
	return s.finish(ctx, t.ID, due, data.RunFailed, "berth could not start it (the gateway log says why)")
}

// runMessage is the inbound row of a task's run at due. Its sender is the
// task's creator, so what the agent does for it is on their behalf; its
// sender name says it is a scheduled task no one waits on.
func runMessage(t data.Task, due, now time.Time) sessiondb.InMessage {
	who := t.CreatedByName
	if who == "" {
		who = t.CreatedBy
	}
	return sessiondb.InMessage{
		ID: data.TaskRunMessageID(t.ID, due), Kind: sessiondb.KindTask, Timestamp: now, Trigger: true,
		ChannelType: t.ChannelType, PlatformID: t.PlatformID, ThreadID: t.ThreadID, SenderID: t.CreatedBy,
		Content: sessiondb.Content{Text: t.Prompt, SenderID: t.CreatedBy, Platform: t.ChannelType, Event: "task",
			SenderName: fmt.Sprintf("[scheduled task %s, set by %s, due %s; no one is waiting for this answer]", t.ID, who,
				due.In(location(t.Timezone)).Format("2006-01-02 15:04 MST"))},
	}
}

// liveSession is the session a task's run goes to: its own, or, if that
// was closed (!reset), its conversation's current one, opened if needed
// (the task moves there).
func (s *Scheduler) liveSession(ctx context.Context, t data.Task) (string, error) {
	own, err := s.store.Session(ctx, t.SessionID)
	if err != nil {
		return "", err
	}
	if own.Status == data.SessionActive {
		return own.ID, nil
	}
	cur, err := s.store.FindSession(ctx, own.AgentGroupID, own.MessagingGroupID, own.ThreadID)
	if errors.Is(err, data.ErrNotFound) {
		mode := data.SessionShared
		if own.ThreadID != "" {
			mode = data.SessionPerThread
		}
		cur, _, err = s.store.ResolveSession(ctx, data.SessionKey{AgentGroupID: own.AgentGroupID, MessagingGroupID: own.MessagingGroupID,
			ThreadID: own.ThreadID, Mode: mode})
	}
	if err != nil {
		return "", err
	}
	if err := s.store.MoveTask(ctx, t.ID, cur.ID); err != nil {
		return "", err
	}
	return cur.ID, nil
}

// watch records a fired run's outcome once its row is settled.
func (s *Scheduler) watch(ctx context.Context, r data.TaskRun) error {
	status, reason, found, err := s.sess.Outcome(ctx, r.SessionID, r.MessageID)
	if err != nil {
		return err
	}
	switch {
	case !found:
		return s.finish(ctx, r.TaskID, r.Due, data.RunFailed, "its message is gone from the session")
	case status == sessiondb.StatusCompleted:
		return s.finish(ctx, r.TaskID, r.Due, data.RunCompleted, "")
	case status == sessiondb.StatusFailed:
		return s.finish(ctx, r.TaskID, r.Due, data.RunFailed, reason)
	case status == sessiondb.StatusCancelled:
		return s.finish(ctx, r.TaskID, r.Due, data.RunCancelled, "the turn was stopped")
	}
	return nil // still waiting
}

// finish records a run's outcome and, for a failure, tells the
// conversation, naming the task and mentioning its creator, and whether
// the task is now paused.
func (s *Scheduler) finish(ctx context.Context, taskID string, due time.Time, state data.RunState, outcome string) error {
	t, ok, err := s.store.FinishRun(ctx, taskID, due, state, oneLine(outcome), PauseAfter)
	if err != nil || !ok {
		return err
	}
	s.log.Info("task run finished", "task", t.ID, "group", t.AgentGroupID, "session", t.SessionID, "due", due, "outcome", state, "state", t.State)
	if state != data.RunFailed {
		return nil
	}
	who := t.CreatedByName
	if who == "" {
		who = t.CreatedBy
	}
	text := fmt.Sprintf("berth: scheduled task %s (set by %s) failed: %s.", t.ID, who, oneLine(outcome))
	switch t.State {
	case data.TaskPaused:
		text += fmt.Sprintf(" It failed %d times in a row, so it is paused; !resume %s starts it again.", t.Failures, t.ID)
	case data.TaskFailed:
		text += " It will not run again."
	default:
		if t.Failures > 1 {
			text += fmt.Sprintf(" That is %d failures in a row; after %d it is paused.", t.Failures, PauseAfter)
		}
	}
	if err := s.sess.Tell(ctx, t.ChannelType, t.PlatformID, t.ThreadID, mention(t.ChannelType, t.CreatedBy), text); err != nil {
		s.log.Warn("delivery-failed", "task", t.ID, "channel", t.ChannelType, "err", err)
	}
	return nil
}

// mention is the platform id of a task's creator, for the adapter to
// mention, when they are a user of the task's own platform; "" otherwise.
func mention(channelType, userID string) string {
	platform, id, ok := strings.Cut(userID, ":")
	if ok && platform == channelType && id != "" {
		return id
	}
	return ""
}

// oneLine makes an outcome fit a line: no line breaks, at most 300 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		cut := 300
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// groupConfig loads a task's group configuration.
func (s *Scheduler) groupConfig(ctx context.Context, groupID string) (data.AgentGroup, groups.Config, error) {
	g, err := s.store.Group(ctx, groupID)
	if err != nil {
		return g, groups.Config{}, err
	}
	c, err := groups.LoadConfig(g)
	return g, c, err
}
