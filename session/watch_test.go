package session

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestOutWatchedOnlyWhileRunning: a session's out/ folder holds an inotify
// watch only while its container runs, so thousands of idle-stopped
// sessions hold none (fs.inotify.max_user_watches is 8,192 on many hosts).
func TestOutWatchedOnlyWhileRunning(t *testing.T) {
	ctx, m, store := unitManager(t, Config{}, &ensureCounter{})
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
}

// TestClaimIsNewsOnce: a claim frees the next delivery pass from the rate
// limit once per message, however often the agent drops and rewrites it.
func TestClaimIsNewsOnce(t *testing.T) {
	ctx, m, store := unitManager(t, Config{}, &ensureCounter{})
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
	if _, err := l.db.Append(ctx, sessiondb.InMessage{ID: "m1", Kind: sessiondb.KindChat, Trigger: true,
		ChannelType: "slack", PlatformID: "C1", Content: sessiondb.Content{Text: "hi"}}); err != nil {
		t.Fatal(err)
	}
	box := sessiondb.Container{InDir: filepath.Join(l.dir, sessiondb.InDir), OutDir: filepath.Join(l.dir, sessiondb.OutDir)}
	if err := box.Init(ctx); err != nil {
		t.Fatal(err)
	}
	pass := func() bool {
		t.Helper()
		news, err := m.dlv.deliver(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		return news
	}
	dropAck := func() {
		t.Helper()
		db, err := sql.Open("sqlite3", "file:"+box.OutboundPath())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`DELETE FROM processing_ack`); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		do   func() error
		news bool
	}{
		{"nothing claimed", func() error { return nil }, false},
		{"claimed", func() error { return box.Claim(ctx, "m1") }, true},
		{"nothing new", func() error { return nil }, false},
		{"claim dropped", func() error { dropAck(); return nil }, false},
		{"claimed again", func() error { return box.Claim(ctx, "m1") }, false},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := pass(); got != st.news {
			t.Errorf("%s: pass brought news %v, want %v", st.name, got, st.news)
		}
	}
}
