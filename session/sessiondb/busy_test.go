package sessiondb

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestBusyWaitsForTheOtherSide: a read met by the other side's exclusive
// lock waits for it (busy.c's handler) rather than failing, and reads
// what was committed; and the handler set is berth's, not SQLite's.
func TestBusyWaitsForTheOtherSide(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	other, err := sql.Open("sqlite3", "file:"+h.InboundPath()+"?_journal_mode=DELETE&_synchronous=FULL")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO messages_in (id, seq, kind, timestamp, content) VALUES ('x', 2, 'chat', '', '{"text":"x"}')`); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	var due []InMessage
	go func() {
		var err error
		due, err = c.Due(ctx, time.Now(), time.Now())
		read <- err
	}()
	time.Sleep(50 * time.Millisecond) // the read is (most likely) waiting now; either way it must see the commit
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("a read met by the writer's lock failed: %v", err)
	}
	if len(due) != 1 || due[0].ID != "x" {
		t.Fatalf("due = %+v, want the row committed while the read waited", due)
	}

	db, err := openRead(h.InboundPath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ms int
	// sqlite3_busy_handler clears the timeout SQLite's own handler keeps.
	if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&ms); err != nil || ms != 0 {
		t.Fatalf("busy_timeout = %d, %v: SQLite's own busy handler is still set", ms, err)
	}
}
