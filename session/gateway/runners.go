package gateway

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session"
)

// groupRunners runs each group's own runner source: the session manager
// asks it for every new container (session.Runners).
type groupRunners struct{ b *runnerbuild.Builder }

var _ session.Runners = groupRunners{}

// Runner is the group's own build, mounted read-only over the image's
// runner, or nothing (the image's own), with what a person is to be told.
func (r groupRunners) Runner(ctx context.Context, folder string) session.RunnerChoice {
	c := r.b.Choose(ctx, folder)
	var rc session.RunnerChoice
	if c.Bin != "" {
		rc.Mount = &mounts.Mount{Source: c.Bin, Target: runnerbuild.RunnerPath, ReadOnly: true}
	}
	if c.Problem != "" && c.Tell {
		rc.Notice = runnerNotice(folder, c)
	}
	return rc
}

// runnerNotice is what the conversation is told of a group's own runner
// source that does not run.
func runnerNotice(folder string, c runnerbuild.Choice) string {
	what := "could not be built"
	switch c.State {
	case runnerbuild.StateFailed:
		what = "does not compile"
	case runnerbuild.StateRefused:
		what = "was refused"
	}
	src := "runner-src/"
	if len(c.Hash) >= 12 {
		src += ", source " + c.Hash[:12]
	}
	return fmt.Sprintf("This group's own runner source (%s) %s: its agent runs berth's stock runner until it is fixed "+
		"(see `berth groups runner diff %s`; `berth groups runner reset %s` restores the stock source).\n```\n%s\n```",
		src, what, folder, folder, c.Problem)
}
