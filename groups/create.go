package groups

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/data"
)

// Create makes the agent group g: its row in store, then its folder under
// layout (and the global memory it imports, if missing). It is the one way
// a group is made, by !register, `berth groups create`, `berth chat` and
// the test harness alike. The folder is made once, with the group; later
// starts only mount it. So if the folder cannot be made the row is removed
// again: a row without its folder would fail every wake at the bind mount.
// A name already taken is an error wrapping data.ErrExists.
func Create(ctx context.Context, store *data.Store, layout Layout, g *data.AgentGroup) error {
	if err := ValidateFolder(g.Folder); err != nil {
		return err
	}
	if err := store.CreateGroup(ctx, g); err != nil {
		return err
	}
	err := layout.InitGlobal()
	if err == nil {
		err = layout.Init(g.Folder, g.Name)
	}
	if err == nil {
		return nil
	}
	// Undone even when ctx has ended: the row must not outlive the failure.
	if derr := store.DeleteGroup(context.WithoutCancel(ctx), g.ID); derr != nil {
		return errors.Join(err, fmt.Errorf("undo creating group %s: %w", g.Folder, derr))
	}
	return err
}
