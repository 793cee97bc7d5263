package session

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// unitManager is a Manager over a store in a temp home and rt, for unit
// tests that drive its parts directly (a session's spec, its watches, its
// delivery pass) without Run. When the test ends its context is
// cancelled and its goroutines (delivery loops) waited for, then the store
// closed. cfg's Home and UID are set here.
func unitManager(t *testing.T, cfg Config, rt Runtime) (context.Context, *Manager, *data.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	home := t.TempDir()
	store, err := data.Open(ctx, filepath.Join(home, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	cfg.Home, cfg.UID = home, -1
	m := New(cfg, store, rt, groups.Layout{Root: filepath.Join(home, "groups"), UID: -1})
	m.ctx = ctx
	t.Cleanup(func() { cancel(); m.wg.Wait() }) // before the store closes
	return ctx, m, store
}
