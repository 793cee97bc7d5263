package sessiondb

import (
	"database/sql"
	"errors"
	"sync"
	"syscall"
	"time"
)

// The pool keeps a process's connections to the session files it owns
// (the host's inbound.db; the runner's outbound.db, and its read-only
// view of inbound.db) open between operations, so that an operation costs
// its transaction and not an open, go-sqlite3's PRAGMAs, a parse of the
// schema and a close as well: about a millisecond each on the warm path
// (docs/performance.md). A connection kept open is safe across the two
// processes: in rollback-journal mode SQLite takes its file locks for
// every transaction, as a fresh connection does, and checks the file's
// change counter each time it takes them, dropping its page cache when
// the other side wrote.
//
// What a kept connection must not do is outlive its file: the host sets
// a refused outbound.db aside and the runner starts a fresh one, and a
// session folder may be removed and made again. So every use first
// stats the path, and a connection whose file is no longer the one at
// the path (another inode, or none) is closed and a new one opened.
// Connections not used for poolIdle are closed, so an idle gateway
// holds none, and at most poolMax are kept.
//
// The agent-written outbound.db the host reads is never pooled: each read
// of it opens, checks and closes the file anew (agent.go).

const (
	poolIdle = 10 * time.Second
	poolMax  = 64
)

// poolKey names a kept connection: one for reads and one for writes of
// a file, so a read inside a write of the same file (the connection is
// one) never waits for itself.
type poolKey struct {
	file  string
	write bool
}

type pooled struct {
	db    *sql.DB
	id    fileKey
	used  time.Time // guarded by pool.mu
	users int       // guarded by pool.mu: operations using db now
	gone  bool      // guarded by pool.mu: out of the pool; closed when users is 0
}

var pool = struct {
	mu       sync.Mutex // guards m, sweeping and the pooled entries' fields marked so
	m        map[poolKey]*pooled
	sweeping bool
}{m: map[poolKey]*pooled{}}

// statID is the inode at file, not following a symlink. ok is false when
// there is none or it is not a regular file.
func statID(file string) (fileKey, bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(file, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fileKey{}, false
	}
	return fileKey{uint64(st.Dev), st.Ino}, true
}

// acquire returns a connection to file for one operation, from the pool
// if it holds one to the inode at file now, else opened with open.
// release must be called when the operation is over, with its error: a
// fresh connection whose file did not change meanwhile is kept; one that
// failed (but for sql.ErrNoRows, a lookup's answer) is closed.
func acquire(k poolKey, open func(string) (*sql.DB, error)) (db *sql.DB, release func(error), err error) {
	id, exists := statID(k.file)
	pool.mu.Lock()
	p := pool.m[k]
	if p != nil && exists && p.id == id {
		p.users++
		p.used = time.Now()
		pool.mu.Unlock()
		return p.db, func(err error) { releasePooled(k, p, err) }, nil
	}
	var stale *sql.DB
	if p != nil {
		stale = drop(k, p)
	}
	pool.mu.Unlock()
	if stale != nil {
		_ = stale.Close() // nothing is pending on a connection no operation uses
	}
	db, err = open(k.file)
	if err != nil {
		return nil, nil, err
	}
	return db, func(err error) { keepFresh(k, db, id, exists, err) }, nil
}

// failed reports whether an operation's error says anything against its
// connection.
func failed(err error) bool { return err != nil && !errors.Is(err, sql.ErrNoRows) }

func releasePooled(k poolKey, p *pooled, err error) {
	pool.mu.Lock()
	p.users--
	var closing *sql.DB
	if failed(err) && !p.gone {
		drop(k, p)
	}
	if p.gone && p.users == 0 {
		closing = p.db
	}
	pool.mu.Unlock()
	if closing != nil {
		_ = closing.Close() // nothing is pending on a connection no operation uses
	}
}

// keepFresh pools a connection opened for one operation if that went
// well and the file it opened is still the one that was at the path
// before it was opened (a file the operation created is pooled next time).
func keepFresh(k poolKey, db *sql.DB, before fileKey, existed bool, err error) {
	after, exists := statID(k.file)
	if failed(err) || !existed || !exists || after != before {
		_ = db.Close() // the operation is over: nothing is pending
		return
	}
	pool.mu.Lock()
	if pool.m[k] != nil {
		pool.mu.Unlock()
		_ = db.Close() // another operation pooled one meanwhile
		return
	}
	pool.m[k] = &pooled{db: db, id: after, used: time.Now()}
	var closing []*sql.DB
	if len(pool.m) > poolMax {
		closing = evictLocked(func(p *pooled) bool { return true }, 1)
	}
	if !pool.sweeping {
		pool.sweeping = true
		go sweep()
	}
	pool.mu.Unlock()
	closeAll(closing)
}

// drop takes p out of the pool; it returns p's connection when no
// operation is using it, for the caller to close outside the lock.
// pool.mu is held.
func drop(k poolKey, p *pooled) *sql.DB {
	if pool.m[k] == p {
		delete(pool.m, k)
	}
	p.gone = true
	if p.users == 0 {
		return p.db
	}
	return nil
}

// evictLocked drops up to n unused entries that match, least recently
// used first, and returns their connections to close. pool.mu is held.
func evictLocked(match func(*pooled) bool, n int) []*sql.DB {
	var out []*sql.DB
	for len(out) < n {
		var oldest *pooled
		var key poolKey
		for k, p := range pool.m {
			if p.users == 0 && match(p) && (oldest == nil || p.used.Before(oldest.used)) {
				oldest, key = p, k
			}
		}
		if oldest == nil {
			break
		}
		out = append(out, drop(key, oldest))
	}
	return out
}

func closeAll(dbs []*sql.DB) {
	for _, db := range dbs {
		_ = db.Close() // unused: nothing is pending
	}
}

// sweep closes connections unused for poolIdle, and ends when the pool
// is empty.
func sweep() {
	for {
		time.Sleep(poolIdle / 2)
		pool.mu.Lock()
		cut := time.Now().Add(-poolIdle)
		closing := evictLocked(func(p *pooled) bool { return p.used.Before(cut) }, len(pool.m))
		if len(pool.m) == 0 {
			pool.sweeping = false
		}
		done := !pool.sweeping
		pool.mu.Unlock()
		closeAll(closing)
		if done {
			trimMemory() // the last kept connection is closed: see cmem.go
			return
		}
	}
}
