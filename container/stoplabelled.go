package container

import (
	"context"
	"time"
)

// Stopper is what StopLabelled needs of a container runtime.
type Stopper interface {
	List(ctx context.Context, labels map[string]string) ([]Info, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
}

// The engine runtime stops labelled containers.
var _ Stopper = (*Docker)(nil)

// StopLabelled stops every running container carrying all of labels,
// SIGKILL after grace, and returns those it stopped. It is how an
// operator stops a session's container (`berth sessions stop` and the web
// console): through the engine, by labels, so that a gateway that runs it
// sees the container exit as it would any other.
func StopLabelled(ctx context.Context, rt Stopper, labels map[string]string, grace time.Duration) ([]Info, error) {
	list, err := rt.List(ctx, labels)
	if err != nil {
		return nil, err
	}
	var stopped []Info
	for _, c := range list {
		if !c.Running() {
			continue
		}
		if err := rt.Stop(ctx, c.ID, grace); err != nil {
			return stopped, err
		}
		stopped = append(stopped, c)
	}
	return stopped, nil
}

// SessionLabels are the labels of the containers of one session of the
// install at home.
func SessionLabels(home, sessionID string) map[string]string {
	return map[string]string{LabelSession: sessionID, LabelHome: home}
}
