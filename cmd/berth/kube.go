package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/data/paths"
)

// runtimeName is what --runtime names: where agent containers run.
type runtimeName string

// The runtimes berth can run agent containers on.
const (
	runtimeDocker     runtimeName = "docker"
	runtimeKubernetes runtimeName = "kubernetes"
)

// String implements flag.Value.
func (n *runtimeName) String() string { return string(*n) }

// Set implements flag.Value: docker, kubernetes (or k8s, kube).
func (n *runtimeName) Set(v string) error {
	switch r := runtimeName(strings.TrimSpace(v)); r {
	case runtimeDocker, runtimeKubernetes:
		*n = r
		return nil
	case "k8s", "kube":
		*n = runtimeKubernetes
		return nil
	}
	return fmt.Errorf("%q: want %s or %s", v, runtimeDocker, runtimeKubernetes)
}

// kubeSettings are --runtime and the Kubernetes runtime's settings.
type kubeSettings struct {
	Runtime    runtimeName
	Kubeconfig string
	Namespace  string
	Claim      string
	Node       string
	PullPolicy string
	pull       kube.PullPolicy // PullPolicy as check read it
}

// declare declares the settings on fs (see config.declare).
func (k *kubeSettings) declare(fs *flag.FlagSet) {
	k.Runtime = runtimeDocker
	fs.Var(&k.Runtime, flagRuntime, "where agent containers run: docker, or kubernetes (one Pod per session; docs/kubernetes)")
	fs.StringVar(&k.Kubeconfig, flagKubeconfig, "", "kubeconfig file for --runtime kubernetes (default $KUBECONFIG, ~/.kube/config, or the Pod's service account in a cluster)")
	fs.StringVar(&k.Namespace, flagNamespace, "", "namespace of the agent Pods (default the kubeconfig's, or the gateway Pod's own)")
	fs.StringVar(&k.Claim, flagKubeClaim, "", "a ReadWriteMany PersistentVolumeClaim mounted at BERTH_HOME, the Pods' folders mounted from it by subPath (default: hostPath folders under BERTH_HOME, one node)")
	fs.StringVar(&k.Node, flagKubeNode, "", "pin the agent Pods to this node (the hostPath shape on a cluster of several nodes)")
	fs.StringVar(&k.PullPolicy, flagKubePullPolicy, string(kube.DefaultPullPolicy), "the agent image's imagePullPolicy: IfNotPresent, Always or Never")
}

// check refuses settings that cannot work.
func (k *kubeSettings) check() error {
	pull, err := kube.ParsePullPolicy(k.PullPolicy)
	if err != nil {
		return fmt.Errorf("--%s: %w", flagKubePullPolicy, err)
	}
	k.pull = pull
	return nil
}

// config is the runtime's configuration for the gateway at home; nil for
// the Docker engine.
func (k kubeSettings) config(home string) *kube.Config {
	if k.Runtime != runtimeKubernetes {
		return nil
	}
	return &kube.Config{Kubeconfig: k.Kubeconfig, Namespace: k.Namespace, Home: home, Claim: k.Claim, Node: k.Node,
		PullPolicy: k.pull} // "" (check not run): the runtime's default
}

// engine is what the operator's commands (status, sessions stop) need of
// a runtime: container.Docker and kube.Runtime are both one.
type engine interface {
	Ping(ctx context.Context) (string, error)
	List(ctx context.Context, labels map[string]string) ([]container.Info, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Close() error
}

var (
	_ engine = (*container.Docker)(nil)
	_ engine = (*kube.Runtime)(nil)
)

// openEngine is the runtime cfg names, for the operator's commands; what
// is unreachable says so at the first call.
func openEngine(cfg config) (engine, error) {
	if kc := cfg.Kube.config(cfg.Home); kc != nil {
		return kube.New(*kc)
	}
	return container.NewDocker(cfg.DockerHost)
}

// engineName names the runtime in what the operator is told.
func engineName(cfg config) string {
	if cfg.Kube.Runtime == runtimeKubernetes {
		return "the Kubernetes API"
	}
	return "Docker"
}

// kubeDoctor is what `berth doctor` checks of the Kubernetes runtime: the
// API server answers, the credentials may do what berth does (pods
// create/get/list/watch/delete, pods/log get: a SelfSubjectAccessReview
// each), and a node holds the agent image (node.status.images).
func kubeDoctor(ctx context.Context, cfg config) []checkResult {
	api := checkResult{name: "kubernetes"}
	access := checkResult{name: "rbac"}
	image := checkResult{name: "image"}
	r, err := kube.New(*cfg.Kube.config(cfg.Home))
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var v string
		v, err = r.Ping(pctx)
		cancel()
		if err == nil {
			api.status, api.detail = checkOK, fmt.Sprintf("%s answers, version %s; namespace %s", r.Host(), v, r.Namespace())
		}
	}
	if err != nil {
		api.status, api.detail = checkFail, err.Error()
		api.fix = "check --kubeconfig (or $KUBECONFIG) and that the API server answers (kubectl version)"
		access.status, access.detail = checkSkip, "needs the Kubernetes API"
		image.status, image.detail = checkSkip, "needs the Kubernetes API"
		return []checkResult{api, access, image}
	}
	denied, err := r.Access(ctx)
	switch {
	case err != nil:
		access.status, access.detail, access.fix = checkFail, err.Error(), "check the API server allows SelfSubjectAccessReviews (it does by default)"
	case len(denied) > 0:
		var what []string
		for _, d := range denied {
			what = append(what, d.String())
		}
		access.status, access.detail = checkFail, "may not "+strings.Join(what, ", ")+" in namespace "+r.Namespace()
		access.fix = "apply docs/kubernetes/rbac.yaml (a Role for pods and pods/log, bound to berth's service account)"
	default:
		var what []string
		for _, p := range kube.Needs {
			what = append(what, p.String())
		}
		access.status, access.detail = checkOK, "may "+strings.Join(what, ", ")
	}
	have, nodes, err := r.ImageNodes(ctx, cfg.Image)
	switch {
	case kube.IsForbidden(err):
		image.status, image.detail = checkWarn, "cannot list nodes to look for "+cfg.Image
		image.fix = "apply the optional ClusterRole in docs/kubernetes/rbac.yaml (nodes get/list), or check by hand: kubectl get nodes -o jsonpath='{..images}'"
	case err != nil:
		image.status, image.detail, image.fix = checkFail, err.Error(), "check the API server answers (kubectl get nodes)"
	case len(have) == 0 && cfg.Kube.pull != kube.PullNever:
		image.status, image.detail = checkWarn, fmt.Sprintf("%s is on none of %d nodes: the first Pod pulls it", cfg.Image, nodes)
		image.fix = "push it to a registry the nodes reach, or import it on each node (docs/kubernetes/README.md)"
	case len(have) == 0:
		image.status, image.detail = checkFail, fmt.Sprintf("%s is on none of %d nodes, and --kube-pull-policy is Never", cfg.Image, nodes)
		image.fix = "import it on each node: docker save " + cfg.Image + " | ctr -n k8s.io images import - (docs/kubernetes/README.md)"
	default:
		image.status, image.detail = checkOK, fmt.Sprintf("%s is on %d of %d nodes (%s)", cfg.Image, len(have), nodes, strings.Join(have, ", "))
	}
	return []checkResult{api, access, image}
}

// gatewayKube is the gateway's Kubernetes runtime configuration, nil for Docker.
func gatewayKube(cfg config) *kube.Config { return cfg.Kube.config(paths.Home(cfg.Home).String()) }
