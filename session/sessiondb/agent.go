package sessiondb

// Reading a database the agent wrote. out/outbound.db is written by the
// container, and the agent in it may be hostile: every byte, the schema
// included, may be an attack on the host that reads it. So berth
//
//   - opens the file itself (O_NOFOLLOW, O_NONBLOCK: no symlink is
//     followed and a FIFO does not hang), checks the open file is a
//     regular file under MaxAgentDBSize with an SQLite rollback-journal
//     header, and has SQLite open that very inode through
//     /proc/self/fd/N and the berth_agent VFS (agentvfs.c), so there is
//     no check-then-open race;
//   - opens it read-only with defensive mode on, trusted_schema off, views
//     and triggers disabled and tight length and schema limits, all set in
//     sqlite3_open_v2 before the schema is parsed;
//   - refuses a file whose schema is not exactly the one a fresh
//     outboundSchema database has, or an older runner's (a VIEW or a
//     trigger, a changed column);
//   - reads under a deadline, in batches, and never loads an oversized
//     value: every value read is bounded in SQL by its octet_length.

/*
#include "agentvfs.h"
*/
import "C"

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// MaxAgentDBSize is the largest outbound.db berth reads, 64 MiB: about
// 600 replies of the largest size berth delivers, tens of thousands of
// ordinary ones. A bigger file is refused: its session's replies stop (and
// the error says why) until the runner starts a fresh file.
const MaxAgentDBSize = 64 << 20

// BatchSize is the most rows one read of messages_out returns.
const BatchSize = 100

// ReadTimeout bounds one read of an agent-written database; a statement
// still running then is interrupted.
const ReadTimeout = 5 * time.Second

// busyTimeout is how long a read waits for the container's write lock.
// The runner's transactions take milliseconds; an agent holding the lock
// longer delays only its own session's reads, and at most this long.
const busyTimeout = 2 * time.Second

// Bounds on the values read from an agent database. A value over its
// bound is never loaded: SQL looks at its octet_length first.
const (
	maxField   = 256          // ids, kinds, addresses, timestamps
	maxContent = 4 * MaxReply // one messages_out content (JSON of up to MaxReply text)
	// MaxAckError is the most of a processing_ack error berth reads; the
	// rest is cut, with a note.
	MaxAckError = 1 << 10
)

// agentLimits are the sqlite3_limit values of an agent connection
// (SQLITE_LIMIT_* ids of sqlite3.h). maxLength bounds any one value SQLite
// loads, so even a query berth got wrong cannot pull in a huge one.
var agentLimits = [][2]C.int{
	{sqlite3.SQLITE_LIMIT_LENGTH, maxLength},
	{sqlite3.SQLITE_LIMIT_SQL_LENGTH, 16 << 10},
	{sqlite3.SQLITE_LIMIT_COLUMN, 64},
	{sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 64},
	{sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 4},
	{sqlite3.SQLITE_LIMIT_VDBE_OP, 25000},
	{sqlite3.SQLITE_LIMIT_FUNCTION_ARG, 8},
	{sqlite3.SQLITE_LIMIT_ATTACHED, 0},
	{sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 64},
	{sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, BatchSize + 8},
	{sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, 1},
	{sqlite3.SQLITE_LIMIT_WORKER_THREADS, 0},
	{limitSchema, maxSchemaObjects},
}

const (
	maxLength        = 1 << 20
	limitSchema      = 13 // SQLITE_LIMIT_SCHEMA (SQLite 3.54), not yet named by go-sqlite3
	maxSchemaObjects = 16 // outboundSchema has 10
)

// ErrRefused marks an agent-written database berth will not read; the
// error wrapping it says what is wrong with the file.
var ErrRefused = errors.New("refused agent-written database")

// ErrInterruptedWrite is returned while an agent database has a hot
// journal: a write was cut off (the container died mid-commit) and only a
// writer can roll it back. SQLite itself refuses a read-only reader then
// (SQLITE_READONLY_ROLLBACK); berth waits for the session's next runner,
// which rolls it back when it opens the file.
var ErrInterruptedWrite = errors.New("agent database has an interrupted write, waiting for its runner to roll it back")

func refused(file, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrRefused, file, fmt.Sprintf(format, args...))
}

// The database/sql driver and the SQLite VFS of agent databases.
const (
	agentDriver = "sqlite3_agent"
	agentVFS    = "berth_agent"
)

// registerErr is the outcome of registering the busy handler, the
// session and agent drivers and the agent VFS, done at start-up, before any goroutine can be inside SQLite: the VFS
// swaps an entry of the unix VFS's system-call table.
var registerErr = errors.Join(registerBusy(), registerAgent())

func registerAgent() error {
	// The name is never freed: SQLite keeps it for the process's life.
	if rc := C.agent_vfs_register(C.CString(agentVFS), &agentLimits[0], C.int(len(agentLimits))); rc != 0 {
		return fmt.Errorf("register the %s SQLite VFS: code %d", agentVFS, int(rc))
	}
	sql.Register(agentDriver, &sqlite3.SQLiteDriver{ConnectHook: checkHardened})
	return nil
}

// checkHardened fails closed if a connection of the agent driver did not
// get agentvfs.c's settings (say, a go-sqlite3 that stopped running
// automatic extensions).
func checkHardened(c *sqlite3.SQLiteConn) error {
	for _, l := range agentLimits {
		if got := c.GetLimit(int(l[0])); got != int(l[1]) {
			return fmt.Errorf("agent connection not hardened: limit %d is %d", l[0], got)
		}
	}
	rows, err := c.Query(`PRAGMA trusted_schema`, nil)
	if err != nil {
		return err
	}
	v := make([]driver.Value, 1)
	err = errors.Join(rows.Next(v), rows.Close())
	if err != nil {
		return err
	}
	if n, ok := v[0].(int64); !ok || n != 0 {
		return errors.New("agent connection not hardened: trusted_schema is on")
	}
	// Defensive mode makes SQLite ignore writable_schema=ON.
	if _, err := c.Exec(`PRAGMA writable_schema = ON`, nil); err != nil {
		return err
	}
	if rows, err = c.Query(`PRAGMA writable_schema`, nil); err != nil {
		return err
	}
	err = errors.Join(rows.Next(v), rows.Close())
	if err != nil {
		return err
	}
	if n, ok := v[0].(int64); !ok || n != 0 {
		return errors.New("agent connection not hardened: defensive mode is off")
	}
	return useFineBusy(c)
}

// fileKey names an inode.
type fileKey struct{ dev, ino uint64 }

// inodeLocks serializes berth's reads of one agent file. berth holds its
// own descriptor of the file beside SQLite's, and closing any descriptor
// of an inode drops every POSIX lock the process holds on it, SQLite's
// shared lock of a concurrent read included: that read could then see a
// commit half written. One read per inode at a time keeps the close safe.
var inodeLocks = struct {
	mu sync.Mutex // guards m
	m  map[fileKey]*inodeLock
}{m: map[fileKey]*inodeLock{}}

type inodeLock struct {
	sem  chan struct{} // one token: held for a read of the inode
	refs int           // guarded by inodeLocks.mu
}

func lockInode(ctx context.Context, k fileKey) (unlock func(), err error) {
	inodeLocks.mu.Lock()
	l := inodeLocks.m[k]
	if l == nil {
		l = &inodeLock{sem: make(chan struct{}, 1)}
		inodeLocks.m[k] = l
	}
	l.refs++
	inodeLocks.mu.Unlock()
	release := func() {
		inodeLocks.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(inodeLocks.m, k)
		}
		inodeLocks.mu.Unlock()
	}
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// agentReadOptions tune one read.
type agentReadOptions struct {
	busy time.Duration // how long to wait for the writer's lock; 0: busyTimeout
}

// readAgent runs fn on a read transaction of the agent-written database
// file, after the checks above. A missing or still empty file is
// ErrNoFile; a hostile one wraps ErrRefused.
func readAgent(ctx context.Context, file string, opt agentReadOptions, fn func(context.Context, *sql.Conn) error) error {
	if registerErr != nil {
		return registerErr
	}
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	f, st, err := openAgentFile(file)
	if err != nil {
		return err
	}
	unlock, err := lockInode(ctx, fileKey{uint64(st.Dev), st.Ino})
	if err != nil {
		_ = f.Close() // read-only: a failed close loses nothing
		return err
	}
	// Deferred first, so run last: berth's descriptor closes after
	// SQLite's connection, and before another read of the inode starts.
	defer func() {
		_ = f.Close() // read-only: a failed close loses nothing
		unlock()
	}()

	busy := opt.busy
	if busy == 0 {
		busy = busyTimeout
	}
	db, err := sql.Open(agentDriver, fmt.Sprintf("file:/proc/self/fd/%d?mode=ro&vfs=%s&_busy_timeout=%d",
		f.Fd(), agentVFS, busy.Milliseconds()))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return openError(f, file, err)
	}
	defer conn.Close()
	// The transaction holds SQLite's shared lock from its first read to
	// its end, so the journal check below and every read see one state.
	// It ends with the connection, closed right after fn.
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return openError(f, file, err)
	}
	empty, err := checkSchema(ctx, conn, file)
	if err != nil {
		return openError(f, file, err)
	}
	if hotJournal(f, file) {
		return fmt.Errorf("%s: %w", file, ErrInterruptedWrite)
	}
	if empty {
		return ErrNoFile
	}
	if err := fn(ctx, conn); err != nil {
		if hotJournal(f, file) {
			return fmt.Errorf("%s: %w", file, ErrInterruptedWrite)
		}
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}

// openAgentFile opens file without following a symlink or blocking on a
// FIFO, and checks what it opened: a regular file, under the size cap,
// with an SQLite header. A missing or empty file is ErrNoFile.
func openAgentFile(file string) (*os.File, *syscall.Stat_t, error) {
	fd, err := syscall.Open(file, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, syscall.ENOENT):
		return nil, nil, ErrNoFile
	case errors.Is(err, syscall.ELOOP):
		return nil, nil, refused(file, "it is a symlink")
	case err != nil:
		return nil, nil, fmt.Errorf("open %s: %w", file, err)
	}
	f := os.NewFile(uintptr(fd), file)
	st, err := checkFile(f, file)
	if err != nil {
		_ = f.Close() // read-only: a failed close loses nothing
		return nil, nil, err
	}
	return f, st, nil
}

func checkFile(f *os.File, file string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", file, err)
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		return nil, refused(file, "it is not a regular file (mode %#o)", st.Mode&syscall.S_IFMT)
	case st.Size > MaxAgentDBSize:
		return nil, refused(file, "it is %d bytes, over the %d-byte cap", st.Size, MaxAgentDBSize)
	case st.Size == 0:
		return nil, ErrNoFile // created, not written yet
	}
	return &st, checkHeader(f, file)
}

// checkHeader refuses a file that is not an SQLite database in rollback
// journal mode: a WAL database would make SQLite look for -wal and -shm
// files the agent controls.
func checkHeader(f *os.File, file string) error {
	var h [100]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return refused(file, "it is not an SQLite database (%d-byte header unreadable: %v)", len(h), err)
	}
	if string(h[:16]) != "SQLite format 3\x00" {
		return refused(file, "it is not an SQLite database")
	}
	if h[18] != 1 || h[19] != 1 {
		return refused(file, "it is not in rollback-journal mode (format bytes %d, %d)", h[18], h[19])
	}
	return nil
}

// openError explains a failure to open or start reading an agent
// database: an interrupted write, the writer's lock, or a refusal.
func openError(f *os.File, file string, err error) error {
	if errors.Is(err, ErrRefused) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	if hotJournal(f, file) {
		return fmt.Errorf("%s: %w", file, ErrInterruptedWrite)
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrBusy {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return refused(file, "SQLite cannot read it: %v", err)
}

// hotJournal reports whether file has a journal no live writer holds,
// SQLite's own test for a hot journal (hasHotJournal): the journal exists
// and is not empty, and no other process holds the RESERVED lock. The
// journal is only looked at (Lstat), never opened or followed.
func hotJournal(f *os.File, file string) bool {
	fi, err := os.Lstat(file + "-journal")
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return false
	}
	const reservedByte = 0x40000001 // PENDING_BYTE+1 in SQLite's os_unix.c
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: reservedByte, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return true // cannot tell: do not read what may be half a commit
	}
	return lk.Type == syscall.F_UNLCK
}

// schemaEntry is one row of sqlite_master.
type schemaEntry struct{ typ, name, table, sql string }

// schema is the sqlite_master of a database.
type schema struct {
	byName map[string]schemaEntry
	order  []schemaEntry // tables first, then by name
}

// acceptedSchemas are the shapes of outbound.db berth reads, newest
// first: what a fresh database created from outboundSchema stores in
// sqlite_master, and what one from outboundSchemaV1 does (an agent image
// built before task requests, which must keep working).
var acceptedSchemas = sync.OnceValues(func() ([]schema, error) {
	var out []schema
	for _, ddl := range []string{outboundSchema, outboundSchemaV1} {
		s, err := schemaOf(ddl)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
})

// schemaOf is the sqlite_master of a fresh database created from ddl.
func schemaOf(ddl string) (schema, error) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		return schema{}, err
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return schema{}, fmt.Errorf("outbound schema: %w", err)
	}
	m, err := readSchema(ctx, db)
	if err != nil {
		return schema{}, err
	}
	s := schema{byName: m}
	for _, e := range m {
		s.order = append(s.order, e)
	}
	slices.SortFunc(s.order, func(a, b schemaEntry) int {
		if (a.typ == "table") != (b.typ == "table") {
			if a.typ == "table" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return s, nil
}

func readSchema(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]schemaEntry, error) {
	// Values are bounded by SQLITE_LIMIT_LENGTH and their number by
	// SQLITE_LIMIT_SCHEMA; the LIMIT is one more guard.
	rows, err := q.QueryContext(ctx, `SELECT type, name, tbl_name, ifnull(sql, '') FROM sqlite_master LIMIT ?`, maxSchemaObjects+1)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	out := map[string]schemaEntry{}
	for rows.Next() {
		var e schemaEntry
		if err := rows.Scan(&e.typ, &e.name, &e.table, &e.sql); err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		out[e.name] = e
	}
	return out, rows.Err()
}

// checkSchema refuses a database whose schema is not exactly one of
// acceptedSchemas: every table, index and its SQL text the same, and
// nothing else, no view, trigger, extra table or index. An empty schema
// (the runner has not created its tables yet) is reported as empty. The
// error names what is wrong against the newest shape.
func checkSchema(ctx context.Context, conn *sql.Conn, file string) (empty bool, err error) {
	shapes, err := acceptedSchemas()
	if err != nil {
		return false, err
	}
	got, err := readSchema(ctx, conn)
	if err != nil {
		return false, err
	}
	if len(got) == 0 {
		return true, nil
	}
	var first error
	for _, want := range shapes {
		err := matchSchema(got, want, file)
		if err == nil {
			return false, nil
		}
		if first == nil {
			first = err
		}
	}
	return false, first
}

// matchSchema refuses got unless it is exactly want.
func matchSchema(got map[string]schemaEntry, want schema, file string) error {
	// In a fixed order, tables before their indexes, so the error names
	// the first thing wrong.
	for _, w := range want.order {
		g, ok := got[w.name]
		switch {
		case !ok:
			return refused(file, "%s is missing", w.name)
		case g.typ != w.typ:
			return refused(file, "%s is a %.16q, not a %s", w.name, g.typ, w.typ)
		case g.table != w.table || g.sql != w.sql:
			return refused(file, "%s %s does not have berth's definition", w.typ, w.name)
		}
	}
	var extra []string
	for name := range got {
		if _, ok := want.byName[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return refused(file, "it has an extra %.16q %.64q", got[extra[0]].typ, extra[0])
	}
	return nil
}
