package sessiondb

// Waiting for the other side's lock. Host and container take turns on
// each session file, and a turn is short: a commit or a read of a few
// rows, well under a millisecond of holding the lock. SQLite's own busy
// handler sleeps 1, 2, 5, 10 ms between tries, so meeting the other side
// cost a millisecond or several on the warm path; busy.c's tries every
// 100 µs for the first 20 ms, then every millisecond, up to the same
// timeout (_busy_timeout in the DSN).

/*
#include "busy.h"
*/
import "C"

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// sessionDriver is the database/sql driver of the session files berth
// and the runner open as their own (not the agent-written file the host
// reads: that is agentDriver's).
const sessionDriver = "sqlite3_session"

// registerBusy registers busy.c's SQL function on every connection the
// process opens, and sessionDriver. It runs at start-up, before any
// connection is opened.
func registerBusy() error {
	limitArenas()
	if rc := C.busy_register(); rc != 0 {
		return fmt.Errorf("register berth's SQLite busy handler: code %d", int(rc))
	}
	sql.Register(sessionDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if err := useFineBusy(c); err != nil {
			return err
		}
		// A pooled connection keeps its page cache (see pool.go): at most
		// 512 KiB of it, not SQLite's default 2 MB.
		_, err := c.Exec(`PRAGMA cache_size = -512`, nil)
		return err
	}})
	return nil
}

// useFineBusy replaces c's busy handler with busy.c's, keeping the
// timeout go-sqlite3 set from the DSN.
func useFineBusy(c *sqlite3.SQLiteConn) error {
	ms, err := queryInt(c, `PRAGMA busy_timeout`)
	if err != nil {
		return fmt.Errorf("read busy timeout: %w", err)
	}
	if _, err := queryInt(c, `SELECT berth_busy_handler(?)`, ms); err != nil {
		return fmt.Errorf("set busy handler: %w", err)
	}
	return nil
}

// queryInt runs a query of one integer on a driver connection.
func queryInt(c *sqlite3.SQLiteConn, q string, args ...driver.Value) (int64, error) {
	rows, err := c.Query(q, args)
	if err != nil {
		return 0, err
	}
	v := make([]driver.Value, 1)
	if err := errors.Join(rows.Next(v), rows.Close()); err != nil {
		return 0, err
	}
	n, ok := v[0].(int64)
	if !ok {
		return 0, fmt.Errorf("%s: %T, not an integer", q, v[0])
	}
	return n, nil
}
