package sessiondb

import (
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// CommitEnded reports whether a file-system event in a session folder may
// be the end of a commit to the database named file (InboundFile or
// OutboundFile), after which a reader sees what it wrote. In DELETE
// journal mode a commit ends when its journal is deleted; the database
// itself appearing, going or being replaced is news too. Its writes and
// the journal's creation happen during a commit, when a reader would only
// wait on the lock and hold the writer up.
func CommitEnded(ev fsnotify.Event, file string) bool {
	switch filepath.Base(ev.Name) {
	case file + "-journal":
		return ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	case file:
		return ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	}
	return false
}
