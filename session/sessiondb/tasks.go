package sessiondb

// Task requests: an agent's schedule_task, list_tasks and cancel_task
// calls. The runner writes each request to outbound.db's task_requests;
// the host reads them (bounded, validated, never executed), has the
// scheduler answer, and writes the answer to inbound.db's task_replies,
// which the runner waits for. A request is answered once: the reply's row
// is keyed by the request id, and the host reads only requests after the
// highest seq it answered, across restarts.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TaskOp is what a task request asks for.
type TaskOp string

// Task request operations: the only ones the host acts on.
const (
	TaskSchedule TaskOp = "schedule"
	TaskList     TaskOp = "list"
	TaskCancel   TaskOp = "cancel"
)

// TaskRequest is one agent request about scheduled tasks.
type TaskRequest struct {
	ID      string // the agent's request id, unique in the session
	Op      TaskOp
	Prompt  string // schedule
	When    string // schedule: exactly the grammar !schedule accepts ("in 20m", "at 09:00", "tomorrow 9:00", "every 1h", a cron expression)
	TaskID  string // cancel
	Created time.Time
}

// TaskReply is the host's answer to a TaskRequest.
type TaskReply struct {
	RequestID string
	OK        bool
	Error     string     // a refusal, one sentence, for the model
	Text      string     // a one-line summary for the model
	Tasks     []TaskInfo // list (and the created/cancelled task)
}

// TaskInfo describes one scheduled task to the model.
type TaskInfo struct {
	ID, Prompt, Schedule, Timezone, State, NextRun, LastRun, LastResult string
}

// TaskCall is a task request as the host read it from outbound.db: its
// place there and, if the host refuses it without asking the scheduler,
// why.
type TaskCall struct {
	TaskRequest
	Seq int64
	// Refusal is why the request is invalid (an unknown op, a field over
	// its bound, one missing): it is answered with it, never acted on.
	Refusal string
}

// Bounds on a task request. A value over its bound is never loaded.
const (
	// MaxTaskPrompt is the longest prompt a scheduled task may have.
	MaxTaskPrompt = 8 << 10
	// MaxTaskWhen is the longest schedule ("when") a request may give.
	MaxTaskWhen = 128
	// MaxTaskID is the longest request or task id.
	MaxTaskID = 64
	// TaskBatch is the most task requests one read returns.
	TaskBatch = 16
)

const taskRequestsSchema = `
CREATE TABLE IF NOT EXISTS task_requests (
  id        TEXT PRIMARY KEY,
  seq       INTEGER NOT NULL UNIQUE,
  op        TEXT NOT NULL,
  prompt    TEXT NOT NULL DEFAULT '',
  task_when TEXT NOT NULL DEFAULT '',
  task_id   TEXT NOT NULL DEFAULT '',
  created   TEXT NOT NULL
);`

const taskRepliesSchema = `
CREATE TABLE IF NOT EXISTS task_replies (
  request_id  TEXT PRIMARY KEY,
  seq         INTEGER NOT NULL,
  reply       TEXT NOT NULL,
  answered_at TEXT NOT NULL
);`

// RequestTask writes a task request for the host and returns its id
// (req.ID, or a new one when it is empty).
func (c Container) RequestTask(ctx context.Context, req TaskRequest) (string, error) {
	if req.ID == "" {
		req.ID = newID()
	}
	if req.Created.IsZero() {
		req.Created = time.Now()
	}
	// After every request the host answered too: a fresh outbound.db
	// (the host set a refused one aside) must not number below them, or
	// the host would never read its requests.
	var answered int64
	err := withRead(ctx, c.InboundPath(), func(db *sql.DB) error {
		var n sql.NullInt64
		err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM task_replies`).Scan(&n)
		answered = n.Int64
		return err
	})
	if err != nil && !errors.Is(err, ErrNoFile) && !isNoTable(err) {
		return "", fmt.Errorf("read task replies: %w", err)
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		own, err := maxSeq(ctx, tx, "task_requests")
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO task_requests (id, seq, op, prompt, task_when, task_id, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			req.ID, max(own, answered)+1, req.Op, req.Prompt, req.When, req.TaskID, fmtTime(req.Created))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("write task request: %w", err)
	}
	return req.ID, nil
}

// TaskReply reads the host's reply to request id; found is false while
// there is none yet.
func (c Container) TaskReply(ctx context.Context, id string) (reply TaskReply, found bool, err error) {
	var raw string
	err = withRead(ctx, c.InboundPath(), func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT reply FROM task_replies WHERE request_id = ?`, id).Scan(&raw)
	})
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, ErrNoFile) || isNoTable(err) {
		return TaskReply{}, false, nil
	}
	if err != nil {
		return TaskReply{}, false, fmt.Errorf("read task reply %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(raw), &reply); err != nil {
		return TaskReply{}, false, fmt.Errorf("task reply %s: %w", id, err)
	}
	return reply, true, nil
}

// TaskRequests reads, in seq order, at most TaskBatch of the agent's task
// requests after the last one answered. Every value is bounded in SQL and
// checked (see TaskCall.Refusal); an outbound.db from before task
// requests has none. A caller answers what it got (AnswerTask), in order,
// and calls again for more.
func (h Host) TaskRequests(ctx context.Context) ([]TaskCall, error) {
	var after int64
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		var n sql.NullInt64
		err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM task_replies`).Scan(&n)
		after = n.Int64
		return err
	})
	if err != nil && !errors.Is(err, ErrNoFile) && !isNoTable(err) {
		return nil, fmt.Errorf("read task replies: %w", err)
	}
	var out []TaskCall
	err = readAgent(ctx, h.OutboundPath(), agentReadOptions{}, func(ctx context.Context, c *sql.Conn) error {
		var has bool
		if err := c.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'task_requests')`).Scan(&has); err != nil {
			return err
		}
		if !has {
			return nil // an older runner's file: it asks for nothing
		}
		rows, err := c.QueryContext(ctx, `SELECT seq, octet_length(id), `+bounded("id", MaxTaskID)+`, `+bounded("op", maxField)+`,
			octet_length(prompt), `+bounded("prompt", MaxTaskPrompt)+`, octet_length(task_when), `+bounded("task_when", MaxTaskWhen)+`,
			octet_length(task_id), `+bounded("task_id", MaxTaskID)+`, `+bounded("created", maxField)+`
			FROM task_requests WHERE typeof(seq) = 'integer' AND seq > ? ORDER BY seq LIMIT ?`, after, TaskBatch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var tc TaskCall
			var idLen, promptLen, whenLen, taskLen sql.NullInt64
			var created string
			if err := rows.Scan(&tc.Seq, &idLen, &tc.ID, &tc.Op, &promptLen, &tc.Prompt, &whenLen, &tc.When, &taskLen, &tc.TaskID, &created); err != nil {
				return err
			}
			tc.Created = parseTime(created)
			tc.Refusal = checkTask(tc, idLen.Int64, promptLen.Int64, whenLen.Int64, taskLen.Int64)
			if tc.ID == "" {
				// Answered under a name of berth's, so the row is settled
				// all the same (the agent cannot wait for it).
				tc.ID = fmt.Sprintf("invalid-id-%d", tc.Seq)
			}
			out = append(out, tc)
		}
		return rows.Err()
	})
	if errors.Is(err, ErrNoFile) {
		return nil, nil
	}
	return out, err
}

// checkTask says why a request read from the agent's file is invalid; ""
// when it is not. The lengths are the values' full sizes in bytes.
func checkTask(tc TaskCall, idLen, promptLen, whenLen, taskLen int64) string {
	switch {
	case idLen == 0 || idLen > MaxTaskID || !plain(tc.ID):
		return fmt.Sprintf("the request id must be 1 to %d printable characters", MaxTaskID)
	case tc.Op != TaskSchedule && tc.Op != TaskList && tc.Op != TaskCancel:
		return fmt.Sprintf("%.32q is not a task operation (schedule, list, cancel)", string(tc.Op))
	case promptLen > MaxTaskPrompt:
		return fmt.Sprintf("the prompt is %d bytes, over the %d-byte limit", promptLen, MaxTaskPrompt)
	case whenLen > MaxTaskWhen:
		return fmt.Sprintf("the schedule is %d bytes, over the %d-byte limit", whenLen, MaxTaskWhen)
	case taskLen > MaxTaskID:
		return fmt.Sprintf("the task id is %d bytes, over the %d-byte limit", taskLen, MaxTaskID)
	case !utf8.ValidString(tc.Prompt):
		return "the prompt is not valid UTF-8"
	case !plain(tc.When) || !plain(tc.TaskID):
		return "the schedule and the task id must be printable text"
	case tc.Op == TaskSchedule && (strings.TrimSpace(tc.Prompt) == "" || strings.TrimSpace(tc.When) == ""):
		return "scheduling a task needs a prompt and a schedule (when)"
	case tc.Op == TaskCancel && tc.TaskID == "":
		return "cancelling a task needs its id"
	}
	return ""
}

// plain reports whether s is valid UTF-8 without control characters.
func plain(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// AnswerTask records the reply to a task request read by TaskRequests. A
// request already answered keeps its first reply: it is never answered
// twice, though the mark of what was read moves past it.
func (h Host) AnswerTask(ctx context.Context, call TaskCall, reply TaskReply) error {
	reply.RequestID = call.ID
	err := withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO task_replies (request_id, seq, reply, answered_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (request_id) DO UPDATE SET seq = max(seq, excluded.seq)`,
			call.ID, call.Seq, mustJSON(reply), fmtTime(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("answer task request %s in %s: %w", call.ID, h.InboundPath(), err)
	}
	return nil
}

// TaskAnswered reports whether request id has a reply.
func (h Host) TaskAnswered(ctx context.Context, id string) (bool, error) {
	var found bool
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM task_replies WHERE request_id = ?)`, id).Scan(&found)
	})
	if errors.Is(err, ErrNoFile) || isNoTable(err) {
		return false, nil
	}
	return found, err
}
