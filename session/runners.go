package session

import (
	"context"

	"github.com/berth-dev/berth/mounts"
)

// Runners decides which berth-runner a group's next container runs: the
// image's own, or a build of the group's own runner source
// (container/runnerbuild, wired by the gateway).
type Runners interface {
	// Runner returns what the next container of the group in folder
	// runs. It may block while the group's changed source is built (that
	// session's wake only); it never fails: a source that cannot run
	// gives the image's runner and a notice.
	Runner(ctx context.Context, folder string) RunnerChoice
}

// RunnerChoice is what Runners chose for one container.
type RunnerChoice struct {
	// Mount, if not nil, puts the group's own runner over the image's.
	Mount *mounts.Mount
	// Notice, if not empty, is told in the conversation that woke the
	// session (a build that failed, once per source).
	Notice string
}
