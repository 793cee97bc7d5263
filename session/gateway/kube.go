package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
)

// The Kubernetes runtime runs a gateway's sessions as Pods.
var _ session.Runtime = (*kube.Runtime)(nil)

// kubePing bounds Open's first request to the API server.
const kubePing = 10 * time.Second

// ConnectKube makes the Kubernetes runtime cfg describes for the gateway
// whose state folder is home, and checks that its API server answers.
func ConnectKube(ctx context.Context, cfg kube.Config, home paths.Home) (*kube.Runtime, error) {
	cfg.Home = home.String()
	r, err := kube.New(cfg)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, kubePing)
	defer cancel()
	if _, err := r.Ping(pctx); err != nil {
		return nil, fmt.Errorf("%w (check --kubeconfig, or run berth doctor --runtime kubernetes)", err)
	}
	return r, nil
}
