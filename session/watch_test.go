package session

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestOutWatchedOnlyWhileRunning: a session's out/ folder holds an inotify
// watch only while its container runs, so thousands of idle-stopped
// sessions hold none (fs.inotify.max_user_watches is 8,192 on many hosts).
func TestOutWatchedOnlyWhileRunning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	home := t.TempDir()
	store, err := data.Open(ctx, filepath.Join(home, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m := New(Config{Home: home, UID: -1}, store, &ensureCounter{}, groups.Layout{Root: filepath.Join(home, "groups"), UID: -1})
	m.ctx = ctx
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}()
	m.watcher = w
	g := &data.AgentGroup{Name: "team", Folder: "team"}
	if err := store.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	s, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: "mg", Mode: data.SessionShared})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.session(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(l.dir, sessiondb.OutDir)
	watched := func() bool { return slices.Contains(w.WatchList(), out) }
	if watched() {
		t.Errorf("a session with no container watches %s", out)
	}
	l.mu.Lock()
	l.adopt(container.Info{ID: "c1", State: "running"}, false)
	l.mu.Unlock()
	if !watched() {
		t.Errorf("a session with a running container does not watch %s: %q", out, w.WatchList())
	}
	l.exited("c1", 0, "TEST-ONLY exit", false)
	if watched() {
		t.Errorf("a session whose container exited still watches %s", out)
	}
	cancel()
	m.wg.Wait()
}
