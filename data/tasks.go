package data

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// TaskState is where a scheduled task stands.
type TaskState string

// Task states.
const (
	TaskActive    TaskState = "active"    // runs when due
	TaskPaused    TaskState = "paused"    // by a person, or after failures in a row; !resume starts it again
	TaskDone      TaskState = "done"      // a once task that ran
	TaskFailed    TaskState = "failed"    // a once task whose run failed
	TaskCancelled TaskState = "cancelled" // by a person, the agent or the operator
	TaskMissed    TaskState = "missed"    // a once task whose time passed more than its grace ago, while berth was down
)

// Final reports whether a task in state s never runs again.
func (s TaskState) Final() bool { return s != TaskActive && s != TaskPaused }

// TaskVia is how a task was created.
type TaskVia string

// Ways a task is created.
const (
	ViaChat  TaskVia = "chat"  // !schedule
	ViaAgent TaskVia = "agent" // the agent's schedule_task tool
	ViaCLI   TaskVia = "cli"   // berth tasks (not yet: the CLI lists and changes tasks)
)

// RunState is where one due time of a task stands.
type RunState string

// Run states.
const (
	RunClaimed   RunState = "claimed"   // recorded; its inbound row may not be written yet
	RunFired     RunState = "fired"     // its inbound row is written; the agent's outcome is awaited
	RunCompleted RunState = "completed" // the agent answered
	RunFailed    RunState = "failed"    // the turn failed (its reason in Outcome)
	RunCancelled RunState = "cancelled" // a person stopped the turn (!stop, !reset)
	RunMissed    RunState = "missed"    // more than the task's grace late: never run
)

// Task is one scheduled task.
type Task struct {
	ID            string
	SessionID     string
	AgentGroupID  string
	ChannelType   string // the conversation its runs answer in
	PlatformID    string
	ThreadID      string
	Prompt        string
	Kind          string // "once", "cron" or "interval" (package session/schedule)
	Expr          string
	Timezone      string
	CreatedBy     string // a user id, slack:U123
	CreatedByName string
	CreatedVia    TaskVia
	State         TaskState
	NextRun       time.Time // zero: none
	LastRun       time.Time
	LastResult    string
	Failures      int // consecutive failed runs
	Grace         time.Duration
	CreatedAt     time.Time
}

// TaskRun is one due time of a task.
type TaskRun struct {
	TaskID     string
	Due        time.Time
	State      RunState
	SessionID  string
	MessageID  string
	Outcome    string
	ClaimedAt  time.Time
	FinishedAt time.Time
}

// TaskRunMessageID is the inbound.db row id of a task's run at due: derived
// from both, so that writing it twice (a crash, a second gateway) stores
// it once.
func TaskRunMessageID(taskID string, due time.Time) string {
	h := sha256.Sum256([]byte("task\x00" + taskID + "\x00" + taskTime(due)))
	return "task-" + hex.EncodeToString(h[:8])
}

// taskTimeLayout is fixed width, so stored times sort as they compare.
const taskTimeLayout = "2006-01-02T15:04:05Z"

func taskTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(taskTimeLayout)
}

func parseTaskTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(taskTimeLayout, s)
	return t
}

// TaskLimits bound the active (and paused) tasks of one conversation and
// of one agent group; a create over either is ErrTaskLimit.
type TaskLimits struct {
	PerConversation int
	PerGroup        int
}

// ErrTaskLimit is CreateTask's refusal when a limit is reached.
var ErrTaskLimit = errors.New("task limit reached")

// TaskLimitError says which limit a create reached.
type TaskLimitError struct {
	Scope string // "conversation" or "group"
	Limit int
}

// Error implements error.
func (e *TaskLimitError) Error() string {
	return fmt.Sprintf("this %s already has %d scheduled tasks, the most it may have; cancel one first", e.Scope, e.Limit)
}

// Unwrap makes errors.Is(err, ErrTaskLimit) hold.
func (e *TaskLimitError) Unwrap() error { return ErrTaskLimit }

// taskIDAlphabet leaves out 0, 1, i, l and o, which people misread.
const taskIDAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// newTaskID is "t" and five letters or digits: about 28 million ids.
func newTaskID() string {
	var b [5]byte
	rand.Read(b[:])
	out := []byte{'t'}
	for _, c := range b {
		out = append(out, taskIDAlphabet[int(c)%len(taskIDAlphabet)])
	}
	return string(out)
}

const taskCols = `id, session_id, agent_group_id, channel_type, platform_id, thread_id, prompt, schedule_kind, schedule_expr, timezone,
	created_by, created_by_name, created_via, state, next_run, last_run, last_result, failures, grace_seconds, created_at`

func scanTask(row interface{ Scan(...any) error }) (Task, error) {
	var t Task
	var next, last, created string
	var grace int64
	err := row.Scan(&t.ID, &t.SessionID, &t.AgentGroupID, &t.ChannelType, &t.PlatformID, &t.ThreadID, &t.Prompt, &t.Kind, &t.Expr,
		&t.Timezone, &t.CreatedBy, &t.CreatedByName, &t.CreatedVia, &t.State, &next, &last, &t.LastResult, &t.Failures, &grace, &created)
	t.NextRun, t.LastRun, t.CreatedAt = parseTaskTime(next), parseTaskTime(last), parseTaskTime(created)
	t.Grace = time.Duration(grace) * time.Second
	return t, err
}

// CreateTask stores a new active task, filling its ID and CreatedAt, after
// counting, in the same transaction, the active and paused tasks of its
// conversation (its session) and of its group against limits.
func (s *Store) CreateTask(ctx context.Context, t Task, limits TaskLimits) (Task, error) {
	if t.State == "" {
		t.State = TaskActive
	}
	t.CreatedAt = time.Now().UTC().Truncate(time.Second)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, lim := range []struct {
			scope, col, val string
			n               int
		}{
			{"conversation", "session_id", t.SessionID, limits.PerConversation},
			{"group", "agent_group_id", t.AgentGroupID, limits.PerGroup},
		} {
			if lim.n <= 0 {
				continue
			}
			var have int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks WHERE `+lim.col+` = ? AND state IN ('active', 'paused')`,
				lim.val).Scan(&have); err != nil {
				return err
			}
			if have >= lim.n {
				return &TaskLimitError{Scope: lim.scope, Limit: lim.n}
			}
		}
		for range 5 {
			t.ID = newTaskID()
			_, err := tx.ExecContext(ctx, `INSERT INTO tasks (`+taskCols+`, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				t.ID, t.SessionID, t.AgentGroupID, t.ChannelType, t.PlatformID, t.ThreadID, t.Prompt, t.Kind, t.Expr, t.Timezone,
				t.CreatedBy, t.CreatedByName, t.CreatedVia, t.State, taskTime(t.NextRun), taskTime(t.LastRun), t.LastResult,
				t.Failures, int64(t.Grace/time.Second), taskTime(t.CreatedAt), taskTime(t.CreatedAt))
			if isConstraint(err, sqlite3.ErrConstraintPrimaryKey) || isConstraint(err, sqlite3.ErrConstraintUnique) {
				continue // an id taken: draw another
			}
			return err
		}
		return errors.New("no free task id after 5 draws")
	})
	if err != nil {
		return Task{}, fmt.Errorf("create task: %w", err)
	}
	return t, nil
}

// Task returns a task by id (case-insensitive); ErrNotFound when none.
func (s *Store) Task(ctx context.Context, id string) (Task, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, strings.ToLower(strings.TrimSpace(id))))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("read task %s: %w", id, err)
	}
	return t, nil
}

// TaskFilter narrows Tasks; zero fields match every task.
type TaskFilter struct {
	AgentGroupID string
	SessionID    string
	Live         bool // only active and paused tasks
}

// Tasks lists tasks, the soonest due first, then the newest.
func (s *Store) Tasks(ctx context.Context, f TaskFilter) ([]Task, error) {
	q := `SELECT ` + taskCols + ` FROM tasks WHERE 1 = 1`
	var args []any
	if f.AgentGroupID != "" {
		q += ` AND agent_group_id = ?`
		args = append(args, f.AgentGroupID)
	}
	if f.SessionID != "" {
		q += ` AND session_id = ?`
		args = append(args, f.SessionID)
	}
	if f.Live {
		q += ` AND state IN ('active', 'paused')`
	}
	q += ` ORDER BY state != 'active', next_run = '', next_run, created_at DESC`
	return s.queryTasks(ctx, q, args...)
}

func (s *Store) queryTasks(ctx context.Context, q string, args ...any) ([]Task, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DueTasks lists active tasks whose next run is at or before now, the
// most overdue first, at most limit of them.
func (s *Store) DueTasks(ctx context.Context, now time.Time, limit int) ([]Task, error) {
	return s.queryTasks(ctx, `SELECT `+taskCols+` FROM tasks WHERE state = 'active' AND next_run != '' AND next_run <= ?
		ORDER BY next_run LIMIT ?`, taskTime(now), limit)
}

// NextDue is the earliest next run of an active task; zero when none.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT MIN(next_run) FROM tasks WHERE state = 'active' AND next_run != ''`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due task: %w", err)
	}
	return parseTaskTime(next.String), nil
}

// Claim is what the scheduler decided about a task's due time.
type Claim struct {
	TaskID string
	Due    time.Time // the task's next_run it acts on
	Next   time.Time // the next run after it; zero: none
	// Missed records the due time as missed (never run) with Outcome;
	// otherwise it is claimed, to be fired.
	Missed  bool
	Outcome string
}

// ClaimRun records a due time of a task, in one transaction: the task's
// next_run moves from c.Due to c.Next (only if it still is c.Due and the
// task is active), and the run is inserted. It reports false when another
// scheduler (a second gateway, an earlier pass) got there first, changing
// nothing, or when that due time has a run already (the task still moves
// on; the due time is not run twice): a due time is claimed once. A once
// task that is missed ends in TaskMissed.
func (s *Store) ClaimRun(ctx context.Context, c Claim) (bool, error) {
	claimed := false
	now := taskTime(time.Now())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		set := `next_run = ?, last_run = ?, updated_at = ?`
		args := []any{taskTime(c.Next), taskTime(c.Due), now}
		if c.Missed {
			set += `, last_result = ?, state = CASE WHEN schedule_kind = 'once' AND ? = '' THEN 'missed' ELSE state END`
			args = append(args, c.Outcome, taskTime(c.Next))
		}
		res, err := tx.ExecContext(ctx, `UPDATE tasks SET `+set+` WHERE id = ? AND state = 'active' AND next_run = ?`,
			append(args, c.TaskID, taskTime(c.Due))...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		state, finished := RunClaimed, ""
		if c.Missed {
			state, finished = RunMissed, now
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO task_runs (task_id, due, state, outcome, claimed_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (task_id, due) DO NOTHING`, c.TaskID, taskTime(c.Due), state, c.Outcome, now, finished)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		// n == 0: this due time was recorded before (a task resumed onto
		// it): it is not run again, and the task still moves on.
		claimed = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("claim run of task %s at %s: %w", c.TaskID, taskTime(c.Due), err)
	}
	return claimed, nil
}

// FireRun records that a claimed run's inbound row was written, in
// session sessionID, with id messageID.
func (s *Store) FireRun(ctx context.Context, taskID string, due time.Time, sessionID, messageID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE task_runs SET state = 'fired', session_id = ?, message_id = ? WHERE task_id = ? AND due = ? AND state = 'claimed'`,
		sessionID, messageID, taskID, taskTime(due))
	if err != nil {
		return fmt.Errorf("record run of task %s fired: %w", taskID, err)
	}
	return nil
}

const runCols = `task_id, due, state, session_id, message_id, outcome, claimed_at, finished_at`

func scanRun(row interface{ Scan(...any) error }) (TaskRun, error) {
	var r TaskRun
	var due, claimed, finished string
	err := row.Scan(&r.TaskID, &due, &r.State, &r.SessionID, &r.MessageID, &r.Outcome, &claimed, &finished)
	r.Due, r.ClaimedAt, r.FinishedAt = parseTaskTime(due), parseTaskTime(claimed), parseTaskTime(finished)
	return r, err
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]TaskRun, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list task runs: %w", err)
	}
	defer rows.Close()
	var out []TaskRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list task runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OpenRuns lists runs claimed or fired and not finished, oldest first.
func (s *Store) OpenRuns(ctx context.Context) ([]TaskRun, error) {
	return s.queryRuns(ctx, `SELECT `+runCols+` FROM task_runs WHERE state IN ('claimed', 'fired') ORDER BY due`)
}

// TaskRuns lists a task's runs, newest first, at most limit.
func (s *Store) TaskRuns(ctx context.Context, taskID string, limit int) ([]TaskRun, error) {
	return s.queryRuns(ctx, `SELECT `+runCols+` FROM task_runs WHERE task_id = ? ORDER BY due DESC LIMIT ?`, taskID, limit)
}

// FinishRun records a fired run's outcome and what it means for its task,
// in one transaction: last_result, the failures in a row (reset by a
// completed run), a once task done or failed, and a recurring task paused
// when its failures in a row reach pauseAfter. It reports the task as it
// now is, and false when the run was finished already (by another pass).
func (s *Store) FinishRun(ctx context.Context, taskID string, due time.Time, state RunState, outcome string, pauseAfter int) (Task, bool, error) {
	var t Task
	finished := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := taskTime(time.Now())
		res, err := tx.ExecContext(ctx, `UPDATE task_runs SET state = ?, outcome = ?, finished_at = ? WHERE task_id = ? AND due = ? AND state IN ('claimed', 'fired')`,
			state, outcome, now, taskID, taskTime(due))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		finished = true
		result := string(state)
		if outcome != "" {
			result += ": " + outcome
		}
		var q string
		switch state {
		case RunCompleted:
			q = `UPDATE tasks SET failures = 0, state = CASE WHEN schedule_kind = 'once' AND state = 'active' THEN 'done' ELSE state END`
		case RunFailed:
			q = `UPDATE tasks SET failures = failures + 1, state = CASE
				WHEN schedule_kind = 'once' AND state = 'active' THEN 'failed'
				WHEN state = 'active' AND failures + 1 >= ? THEN 'paused' ELSE state END`
		default:
			q = `UPDATE tasks SET state = CASE WHEN schedule_kind = 'once' AND state = 'active' THEN 'cancelled' ELSE state END`
		}
		args := []any{}
		if state == RunFailed {
			args = append(args, pauseAfter)
		}
		_, err = tx.ExecContext(ctx, q+`, last_result = ?, updated_at = ? WHERE id = ?`, append(args, truncateResult(result), now, taskID)...)
		if err != nil {
			return err
		}
		t, err = scanTask(tx.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, taskID))
		return err
	})
	if err != nil {
		return Task{}, false, fmt.Errorf("finish run of task %s: %w", taskID, err)
	}
	return t, finished, nil
}

// maxResult bounds a task's stored last result.
const maxResult = 500

func truncateResult(s string) string {
	if len(s) <= maxResult {
		return s
	}
	cut := maxResult
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// SetTaskState moves a task to state to from one of from, with next as its
// next run (zero: none), and reports the task as it now is. A task in no
// state of from is left alone: ok is false.
func (s *Store) SetTaskState(ctx context.Context, id string, from []TaskState, to TaskState, next time.Time, result string) (Task, bool, error) {
	var t Task
	ok := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ")
		args := []any{to, taskTime(next), taskTime(time.Now())}
		set := `state = ?, next_run = ?, updated_at = ?`
		if to == TaskActive {
			set += `, failures = 0`
		}
		if result != "" {
			set += `, last_result = ?`
			args = append(args, result)
		}
		args = append(args, strings.ToLower(id))
		for _, f := range from {
			args = append(args, f)
		}
		res, err := tx.ExecContext(ctx, `UPDATE tasks SET `+set+` WHERE id = ? AND state IN (`+marks+`)`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		ok = n == 1
		t, err = scanTask(tx.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, strings.ToLower(id)))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("task %q: %w", id, ErrNotFound)
		}
		return err
	})
	if err != nil {
		return Task{}, false, fmt.Errorf("set task %s %s: %w", id, to, err)
	}
	return t, ok, nil
}

// MoveTask points a task at another session of its conversation (its own
// was reset): later runs go there.
func (s *Store) MoveTask(ctx context.Context, id, sessionID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tasks SET session_id = ?, updated_at = ? WHERE id = ?`, sessionID, taskTime(time.Now()), id)
	if err != nil {
		return fmt.Errorf("move task %s to session %s: %w", id, sessionID, err)
	}
	return nil
}

// UserName is a user's display name as last seen; "" when unknown. A task
// the agent creates names the person it acts for by it.
func (s *Store) UserName(ctx context.Context, id string) (string, error) {
	var name string
	err := s.db.QueryRowContext(ctx, `SELECT display_name FROM users WHERE id = ?`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read user %s: %w", id, err)
	}
	return name, nil
}
