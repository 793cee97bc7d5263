package sessiondb

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// BenchmarkCommitFloor is the floor of every session write: a one-row
// commit in DELETE journal mode with synchronous=FULL, on a connection
// kept open, in a temp dir (docs/performance.md).
//
//	go test -run '^$' -bench CommitFloor ./session/sessiondb/
func BenchmarkCommitFloor(b *testing.B) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.TempDir(), "floor.db")+"?_journal_mode=DELETE&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := db.Exec(`INSERT INTO t (v) VALUES ('row')`); err != nil {
			b.Fatal(err)
		}
	}
}
