package sessiondb

import (
	"testing"

	"github.com/fsnotify/fsnotify"
)

func TestCommitEnded(t *testing.T) {
	tests := []struct {
		name string
		op   fsnotify.Op
		want bool
	}{
		{"outbound.db-journal", fsnotify.Remove, true},
		{"outbound.db-journal", fsnotify.Rename, true},
		{"outbound.db-journal", fsnotify.Create, false},
		{"outbound.db-journal", fsnotify.Write, false},
		{"outbound.db", fsnotify.Write, false},
		{"outbound.db", fsnotify.Chmod, false},
		{"outbound.db", fsnotify.Create, true},
		{"outbound.db", fsnotify.Remove, true},
		{"outbound.db", fsnotify.Rename, true},
		{"inbound.db-journal", fsnotify.Remove, false}, // another database's commit
		{".heartbeat", fsnotify.Remove, false},
		{"outbound.db-wal", fsnotify.Write, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.op.String(), func(t *testing.T) {
			ev := fsnotify.Event{Name: "/s/out/" + tt.name, Op: tt.op}
			if got := CommitEnded(ev, OutboundFile); got != tt.want {
				t.Errorf("CommitEnded(%v) = %v, want %v", ev, got, tt.want)
			}
		})
	}
}
