// Package sessiondb reads and writes a session's two SQLite files, the only
// channel between berth and an agent container: in/inbound.db (berth
// writes, the container reads) and out/outbound.db (the container writes,
// berth reads).
//
// SQLite locking across a bind mount is trusted only in its simplest form,
// so both files use journal_mode=DELETE and each has exactly one writer.
// Each side keeps its connections to the files it owns open between
// operations (pool.go: SQLite checks the other side's writes at every
// transaction), and never one to the file the agent writes (agent.go).
package sessiondb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver
)

// File names inside a session folder.
const (
	InDir        = "in"
	OutDir       = "out"
	InboundFile  = "inbound.db"
	OutboundFile = "outbound.db"
	Heartbeat    = ".heartbeat"
	// InboxDir, under InDir, holds the files people attached, one folder
	// per inbound message id: in/inbox/<message id>/<safe name>.
	InboxDir = "inbox"
)

// Kind is what a message is, in both databases' kind column.
type Kind string

// Message kinds.
const (
	KindChat    Kind = "chat"
	KindCommand Kind = "command"
	KindTask    Kind = "task"
	KindSystem  Kind = "system"
)

// Status is where an inbound message or a processing ack stands.
type Status string

// Statuses of an inbound message and of a processing ack.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	// StatusCancelled is an inbound message's only, recorded by the host
	// when a person stopped the turn working on it (!stop, !reset): it is
	// never retried nor answered, and a reply the agent still wrote to it
	// is not delivered. An ack with this status means nothing.
	StatusCancelled Status = "cancelled"
)

// Content is the JSON body of an inbound message.
type Content struct {
	Text        string       `json:"text"`
	SenderID    string       `json:"sender_id,omitempty"`
	SenderName  string       `json:"sender_name,omitempty"`
	Platform    string       `json:"platform,omitempty"`
	MessageID   string       `json:"message_id,omitempty"` // the platform's id
	Attachments []Attachment `json:"attachments,omitempty"`
	// Event names a system message's event, e.g. "delivery_failed".
	Event string `json:"event,omitempty"`
}

// Attachment is a file that came with a message.
type Attachment struct {
	Name        string `json:"name"` // as the person named it (cleaned)
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"` // bytes fetched; the platform's figure when not fetched
	// Path is where the file is, relative to the session's in/ folder
	// (inbox/<message id>/<safe name>); "" when it was not fetched.
	Path string `json:"path,omitempty"`
	// Note says why a file was not fetched (over a limit, a download that
	// failed); "" when it was.
	Note string `json:"note,omitempty"`
}

// InMessage is one row of messages_in.
type InMessage struct {
	ID           string
	Seq          int64
	Kind         Kind
	Timestamp    time.Time
	Status       Status
	ProcessAfter time.Time // zero: now
	Tries        int
	Trigger      bool // false: context only, never wakes the agent by itself
	ChannelType  string
	PlatformID   string
	ThreadID     string
	SenderID     string
	Content      Content
}

// Triggers reports whether any of msgs triggers a turn. Context-only rows
// (an accumulate wiring's chatter, berth's own notes to the agent) ride
// along with the next message that does, and are never work on their own:
// they neither run a turn, nor wake or keep a container.
func Triggers(msgs []InMessage) bool {
	for _, m := range msgs {
		if m.Trigger {
			return true
		}
	}
	return false
}

// OutContent is the JSON body of an outbound message.
type OutContent struct {
	Text  string    `json:"text"`
	Files []OutFile `json:"files,omitempty"` // under out/outbox/<message id>/, uploaded with Text as their comment
}

// OutFile is a file a reply carries: out/outbox/<message id>/<Name>. The
// agent writes Size and Type for its own record; the host trusts neither
// (it reads the size from the file it opens).
type OutFile struct {
	Name string `json:"name"`
	Size int64  `json:"size,omitempty"`
	Type string `json:"type,omitempty"` // a MIME type, if known
}

// OutboxDir is the folder under out/ where a reply's files wait, each
// reply's in a folder named by its message id.
const OutboxDir = "outbox"

// OutMessage is one row of messages_out.
type OutMessage struct {
	ID           string
	Seq          int64
	InReplyTo    string
	Timestamp    time.Time
	DeliverAfter time.Time
	Kind         Kind
	ChannelType  string
	PlatformID   string
	ThreadID     string
	Content      OutContent
}

// Ack is one row of processing_ack.
type Ack struct {
	MessageID string
	Status    Status
	Error     string
	Changed   time.Time
}

// ErrNoFile is returned when reading a database that has not been created yet.
var ErrNoFile = errors.New("session database does not exist yet")

const inboundSchema = `
CREATE TABLE IF NOT EXISTS messages_in (
  id            TEXT PRIMARY KEY,
  seq           INTEGER NOT NULL UNIQUE,
  kind          TEXT NOT NULL,
  timestamp     TEXT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'pending',
  process_after TEXT NOT NULL DEFAULT '',
  recurrence    TEXT NOT NULL DEFAULT '',
  tries         INTEGER NOT NULL DEFAULT 0,
  trigger       INTEGER NOT NULL DEFAULT 1,
  channel_type  TEXT NOT NULL DEFAULT '',
  platform_id   TEXT NOT NULL DEFAULT '',
  thread_id     TEXT NOT NULL DEFAULT '',
  sender_id     TEXT NOT NULL DEFAULT '',
  content       TEXT NOT NULL,
  error         TEXT NOT NULL DEFAULT '',
  notified      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_in_status ON messages_in (status, seq);
CREATE TABLE IF NOT EXISTS delivered (
  message_out_id      TEXT PRIMARY KEY,
  seq                 INTEGER NOT NULL DEFAULT 0,
  platform_message_id TEXT NOT NULL DEFAULT '',
  status              TEXT NOT NULL,
  error               TEXT NOT NULL DEFAULT '',
  delivered_at        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_routing (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  channel_type TEXT NOT NULL DEFAULT '',
  platform_id  TEXT NOT NULL DEFAULT '',
  thread_id    TEXT NOT NULL DEFAULT ''
);` + taskRepliesSchema

// outboundSchema is what the runner creates in outbound.db: the first
// shape, outboundSchemaV1, and the tables added since, each appended at
// the end so that an older file gains them with its runner's next write.
const outboundSchema = outboundSchemaV1 + taskRequestsSchema

// outboundSchemaV1 is outbound.db before task requests: what an agent
// image from before writes, which berth still reads.
const outboundSchemaV1 = `
CREATE TABLE IF NOT EXISTS messages_out (
  id            TEXT PRIMARY KEY,
  seq           INTEGER NOT NULL UNIQUE,
  in_reply_to   TEXT NOT NULL DEFAULT '',
  timestamp     TEXT NOT NULL,
  deliver_after TEXT NOT NULL DEFAULT '',
  kind          TEXT NOT NULL,
  channel_type  TEXT NOT NULL DEFAULT '',
  platform_id   TEXT NOT NULL DEFAULT '',
  thread_id     TEXT NOT NULL DEFAULT '',
  content       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS processing_ack (
  message_id     TEXT PRIMARY KEY,
  status         TEXT NOT NULL,
  error          TEXT NOT NULL DEFAULT '',
  status_changed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_state (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL
);`

// openWrite opens a database for one write operation by its only writer.
func openWrite(file string) (*sql.DB, error) {
	if registerErr != nil {
		return nil, registerErr
	}
	db, err := sql.Open(sessionDriver, "file:"+file+"?_journal_mode=DELETE&_busy_timeout=10000&_txlock=immediate&_synchronous=FULL")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// openRead opens a database read-only for one read operation. A missing
// file is ErrNoFile rather than an empty database created by accident.
func openRead(file string) (*sql.DB, error) {
	fi, err := os.Lstat(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoFile
	}
	if err != nil {
		return nil, err
	}
	// The other side may be hostile: never follow a symlink it planted.
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", file)
	}
	if registerErr != nil {
		return nil, registerErr
	}
	db, err := sql.Open(sessionDriver, "file:"+file+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// withWrite runs fn in a write transaction of file, its process being the
// file's only writer, on a connection from the pool (pool.go).
func withWrite(ctx context.Context, file, schema string, fn func(*sql.Tx) error) (err error) {
	db, release, err := acquire(poolKey{file: file, write: true}, openWrite)
	if err != nil {
		return err
	}
	defer func() { release(err) }()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// The schema is created in the same transaction as the write, so a
	// reader never sees half of it (the host refuses a reply database
	// whose tables are not all there), and a first write costs one commit.
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return errors.Join(fmt.Errorf("schema of %s: %w", filepath.Base(file), err), tx.Rollback())
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// withRead runs fn on file opened read-only. A read of a table the
// database does not have yet (its first write creates them all) fails
// with errNoTable.
func withRead(ctx context.Context, file string, fn func(*sql.DB) error) (err error) {
	db, release, err := acquire(poolKey{file: file}, openRead)
	if err != nil {
		return err
	}
	defer func() { release(err) }()
	err = fn(db)
	if noTable(ctx, db, err, schemaTables[filepath.Base(file)]...) {
		return fmt.Errorf("%w: %w", errNoTable, err)
	}
	return err
}

// errNoTable marks a read of a database whose tables are not created yet.
var errNoTable = errors.New("session database has no tables yet")

// schemaTables are the tables each database's schema creates.
var schemaTables = map[string][]string{
	InboundFile:  {"messages_in", "delivered", "session_routing", "task_replies"},
	OutboundFile: {"messages_out", "processing_ack", "session_state", "task_requests"},
}

// noTable reports whether err is SQLite's failure to prepare a statement
// (SQLITE_ERROR, which a missing table is) on a database that lacks one
// of tables: a question to the schema, not to the error's text.
func noTable(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, err error, tables ...string) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrError {
		return false
	}
	for _, t := range tables {
		var n int
		if qerr := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, t).Scan(&n); qerr != nil {
			return false
		}
		if n == 0 {
			return true
		}
	}
	return false
}

// query reads rows of a database with scan; a database or table not
// created yet has no rows.
func query[T any](ctx context.Context, file string, scan func(*sql.Rows) (T, error), q string, args ...any) ([]T, error) {
	var out []T
	err := withRead(ctx, file, func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if errors.Is(err, ErrNoFile) || isNoTable(err) {
		return nil, nil
	}
	return out, err
}

func maxSeq(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table string) (int64, error) {
	var n sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MAX(seq) FROM `+table).Scan(&n)
	if noTable(ctx, q, err, table) {
		return 0, nil
	}
	return n.Int64, err
}

// DiskFull reports whether err is a write that failed for want of space:
// SQLite's SQLITE_FULL, or ENOSPC from the file system.
func DiskFull(err error) bool {
	var se sqlite3.Error
	return errors.Is(err, syscall.ENOSPC) || (errors.As(err, &se) && se.Code == sqlite3.ErrFull)
}

// isNoTable reports whether a read failed only because the database has
// no tables yet.
func isNoTable(err error) bool { return errors.Is(err, errNoTable) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// parseTime reads a time column; a value that is not RFC 3339 (the
// agent writes some of them) reads as the zero time, never as an error
// that would stall the rows behind it.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// mustJSON encodes a content struct, which has only strings, numbers and
// slices of them: an error is a bug.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sessiondb: encode %T: %v", v, err))
	}
	return string(b)
}
