package groups_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// A group whose folder cannot be made leaves no row behind, and the error
// says why; once the cause is gone, creating it again works.
func TestCreateRollsBack(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, l groups.Layout) // makes Init fail
		fix   func(t *testing.T, l groups.Layout)
		check func(t *testing.T, l groups.Layout, err error)
	}{
		{
			name: "groups root is a file",
			spoil: func(t *testing.T, l groups.Layout) {
				if err := os.WriteFile(l.Root, []byte("not a folder"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			fix: func(t *testing.T, l groups.Layout) {
				if err := os.Remove(l.Root); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, l groups.Layout, err error) {
				if !errors.Is(err, syscall.ENOTDIR) {
					t.Errorf("error %q does not say the root is not a folder", err)
				}
			},
		},
		{
			name: "group folder is a symlink",
			spoil: func(t *testing.T, l groups.Layout) {
				decoy := filepath.Join(filepath.Dir(l.Root), "decoy")
				if err := os.MkdirAll(decoy, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(l.Root, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(decoy, l.Dir("team")); err != nil {
					t.Fatal(err)
				}
			},
			fix: func(t *testing.T, l groups.Layout) {
				decoy := filepath.Join(filepath.Dir(l.Root), "decoy")
				if ents, err := os.ReadDir(decoy); err != nil || len(ents) != 0 {
					t.Errorf("decoy holds %v (%v): Init wrote through the symlink", ents, err)
				}
				if err := os.Remove(l.Dir("team")); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, l groups.Layout, err error) {
				if !strings.Contains(err.Error(), l.Dir("team")) || !strings.Contains(err.Error(), "symlink") {
					t.Errorf("error %q does not name the symlinked folder", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
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
			l := groups.Layout{Root: filepath.Join(home, "groups"), UID: -1}
			tt.spoil(t, l)

			g := data.AgentGroup{Name: "Team", Folder: "team"}
			err = groups.Create(ctx, store, l, &g)
			if err == nil {
				t.Fatal("Create succeeded with a folder it cannot make")
			}
			tt.check(t, l, err)
			if _, gerr := store.Group(ctx, "team"); !errors.Is(gerr, data.ErrNotFound) {
				t.Fatalf("the group's row remains after the failure: %v", gerr)
			}

			tt.fix(t, l)
			again := data.AgentGroup{Name: "Team", Folder: "team"}
			if err := groups.Create(ctx, store, l, &again); err != nil {
				t.Fatalf("second attempt: %v", err)
			}
			if _, err := store.Group(ctx, "team"); err != nil {
				t.Errorf("row after the second attempt: %v", err)
			}
			if fi, err := os.Lstat(filepath.Join(l.Dir("team"), groups.MemoryFile)); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("folder not made on the second attempt: %v", err)
			}
		})
	}
}
