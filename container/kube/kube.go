// Package kube runs agent containers as Kubernetes Pods through client-go:
// exactly one Pod per session (its deterministic name is the guard),
// adopted when it exists, deleted and recreated when it has finished; its
// exit seen through a watch; its volumes either hostPath folders under
// BERTH_HOME (one node) or subPaths of one ReadWriteMany claim the gateway
// mounts at BERTH_HOME.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/container"
)

// Config is how the runtime reaches the cluster and shapes its Pods.
type Config struct {
	// Kubeconfig is the kubeconfig file; "": $KUBECONFIG, then
	// ~/.kube/config, then the Pod's own service account (in-cluster).
	Kubeconfig string
	// Namespace holds berth's Pods; "": the kubeconfig context's, or the
	// gateway Pod's own namespace in-cluster ("default" when neither says).
	Namespace string
	// Home is BERTH_HOME as the gateway sees it. Every mount source must
	// lie inside it.
	Home string
	// Claim is the ReadWriteMany PersistentVolumeClaim the gateway mounts
	// at Home; each Pod mounts its folders from it by subPath. "": the
	// hostPath shape (the gateway and its Pods on one node).
	Claim string
	// Node pins the Pods to one node (its kubernetes.io/hostname label),
	// as the hostPath shape needs when the cluster has more than one; "":
	// the scheduler places them.
	Node string
	// PullPolicy is the agent image's pull policy; "": IfNotPresent.
	PullPolicy PullPolicy
	// TmpSize caps the Pod's /tmp (a memory-backed emptyDir); 0: 64 MiB,
	// as the Docker runtime's tmpfs.
	TmpSize int64
	// StartTimeout bounds how long Ensure waits for a Pod to run (to be
	// scheduled, its image found, its container started); 0: NameWait.
	StartTimeout time.Duration
	// Log receives client-go's own log lines (klog's, which are
	// process-wide: the last New decides); nil: they are discarded, not
	// printed on stderr.
	Log *slog.Logger
}

// PullPolicy is an image pull policy (Kubernetes' own type, named here so
// that callers need not import the API's types).
type PullPolicy = corev1.PullPolicy

// DefaultPullPolicy is the agent image's pull policy when none is named:
// a node pulls it only if it lacks it (imported by hand, without a
// registry, it is never pulled).
const DefaultPullPolicy = corev1.PullIfNotPresent

// PullNever is the policy under which no node pulls the image: a node
// without it cannot run the Pod.
const PullNever = corev1.PullNever

// ParsePullPolicy reads a pull policy as an operator writes it:
// IfNotPresent, Always or Never ("": DefaultPullPolicy).
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := corev1.PullPolicy(strings.TrimSpace(s)); p {
	case "":
		return DefaultPullPolicy, nil
	case corev1.PullIfNotPresent, corev1.PullAlways, corev1.PullNever:
		return p, nil
	}
	return "", fmt.Errorf("pull policy %q: want IfNotPresent, Always or Never", s)
}

// Runtime is the session runtime backed by a Kubernetes API server.
type Runtime struct {
	cs   kubernetes.Interface
	ns   string
	cfg  Config
	host string // the API server's address, for messages
}

// The client's own rate limit: requests a second, and at once.
const (
	clientQPS   = 50
	clientBurst = 100
)

// New connects to the cluster cfg names. It sends no request: Ping does.
func New(cfg Config) (*Runtime, error) {
	if cfg.Log != nil {
		klog.SetSlogLogger(cfg.Log.With("component", "client-go"))
	} else {
		klog.SetSlogLogger(slog.New(slog.DiscardHandler))
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	if cfg.Namespace == "" {
		if cfg.Namespace, _, err = cc.Namespace(); err != nil {
			return nil, fmt.Errorf("kubernetes namespace: %w", err)
		}
	}
	rc.UserAgent = "berth"
	// client-go's default of 5 requests a second (burst 10) throttles a
	// gateway waking a few sessions at once (each Ensure is a create and
	// a watch, each exit a get and a delete); the API server's priority
	// and fairness still bound what one client may take.
	rc.QPS, rc.Burst = clientQPS, clientBurst
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	r, err := NewForClient(cs, cfg)
	if err != nil {
		return nil, err
	}
	r.host = rc.Host
	return r, nil
}

// NewForClient is New with a clientset already made (client-go's fake one
// in unit tests).
func NewForClient(cs kubernetes.Interface, cfg Config) (*Runtime, error) {
	if cfg.Home == "" {
		return nil, errors.New("kubernetes runtime: no BERTH_HOME")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = metav1.NamespaceDefault
	}
	if cfg.PullPolicy == "" {
		cfg.PullPolicy = DefaultPullPolicy
	}
	if cfg.TmpSize <= 0 {
		cfg.TmpSize = DefaultTmpSize
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = container.NameWait
	}
	return &Runtime{cs: cs, ns: cfg.Namespace, cfg: cfg}, nil
}

// The runtime does what the session manager needs of one.
var _ runtime = (*Runtime)(nil)

// runtime is session.Runtime, restated here so this package need not
// import session (which imports container); session checks it as well.
type runtime interface {
	Ensure(ctx context.Context, spec container.Spec) (container.Info, bool, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string) error
	Wait(ctx context.Context, id string) (container.Exit, error)
	List(ctx context.Context, labels map[string]string) ([]container.Info, error)
}

// Clientset is the client the runtime talks through (tests sample the API with it).
func (r *Runtime) Clientset() kubernetes.Interface { return r.cs }

// Namespace is where the runtime's Pods are.
func (r *Runtime) Namespace() string { return r.ns }

// Close releases nothing: client-go's connections need no closing.
func (r *Runtime) Close() error { return nil }

// Ping checks the API server answers and returns its version.
func (r *Runtime) Ping(ctx context.Context) (string, error) {
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1)
	// Discovery's ServerVersion takes no context: bound it here.
	go func() {
		v, err := r.cs.Discovery().ServerVersion()
		if err != nil {
			ch <- result{err: err}
			return
		}
		ch <- result{v: v.GitVersion}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return "", fmt.Errorf("kubernetes API unreachable at %s: %w", r.host, res.err)
		}
		return res.v, nil
	case <-ctx.Done():
		return "", fmt.Errorf("kubernetes API unreachable at %s: %w", r.host, ctx.Err())
	}
}

// Host is the API server's address ("" for a client made by NewForClient).
func (r *Runtime) Host() string { return r.host }

// Ensure makes sure the Pod named for spec.Name runs, creating it if
// needed. The API server refuses a second Pod of one name (AlreadyExists),
// which is what guarantees one Pod per session across goroutines, restarts
// and gateways: a create that conflicts adopts the Pod that holds the name,
// or, when that one has finished or is being deleted, waits for it to go
// and creates again, NameWait at most (then container.ErrNameTaken). It
// returns once the Pod runs (or has already finished, which Wait then
// reports), and reports whether an existing Pod was adopted.
func (r *Runtime) Ensure(ctx context.Context, spec container.Spec) (container.Info, bool, error) {
	want, err := r.podFor(spec)
	if err != nil {
		return container.Info{}, false, err
	}
	pods := r.cs.CoreV1().Pods(r.ns)
	deadline := time.Now().Add(container.NameWait)
	for attempt := 0; ; attempt++ {
		created, err := pods.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			info, err := r.waitStarted(ctx, created)
			if err != nil {
				if rerr := r.Remove(context.WithoutCancel(ctx), info.ID); rerr != nil {
					err = errors.Join(err, rerr)
				}
				return container.Info{}, false, fmt.Errorf("start pod %s: %w", want.Name, err)
			}
			return info, false, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return container.Info{}, false, fmt.Errorf("create pod %s: %w", want.Name, err)
		}
		if !time.Now().Before(deadline) {
			return container.Info{}, false, fmt.Errorf("create pod %s: %w (waited %v)", want.Name, container.ErrNameTaken, container.NameWait)
		}
		cur, err := pods.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// Gone between the create and the look: create again.
			if err := pause(ctx, attempt); err != nil {
				return container.Info{}, false, err
			}
			continue
		}
		if err != nil {
			return container.Info{}, false, fmt.Errorf("get holder of %s: %w", want.Name, err)
		}
		if !sameOwner(cur, want) {
			// In a shared namespace the name may be held by a Pod that is
			// not berth's, or another install's: never adopted, never
			// deleted.
			return container.Info{}, false, fmt.Errorf("create pod %s: %w", want.Name, ErrForeign)
		}
		if _, done := finished(cur); done || cur.DeletionTimestamp != nil {
			// Its name frees once it is gone.
			if err := r.remove(ctx, cur.Name, cur.UID); err != nil {
				return container.Info{}, false, err
			}
			continue
		}
		// Pending or running: another process (or an earlier gateway)
		// made it; it is this session's Pod.
		info, err := r.waitStarted(ctx, cur)
		if err != nil {
			return container.Info{}, false, fmt.Errorf("adopt pod %s: %w", want.Name, err)
		}
		return info, true, nil
	}
}

// ErrForeign is why Ensure gave up: the session's Pod name is held by a
// Pod whose labels say it is not this install's Pod for this session.
var ErrForeign = errors.New("the name is held by a pod that is not this session's")

// ownerLabels are the labels that say whose Pod a Pod is.
var ownerLabels = []string{container.LabelSession, container.LabelGroup, container.LabelHome}

// sameOwner reports whether the Pod holding a name is the one want would
// be: the same session, group and home.
func sameOwner(cur, want *corev1.Pod) bool {
	for _, k := range ownerLabels {
		if cur.Labels[k] != want.Labels[k] {
			return false
		}
	}
	return true
}

// pause waits a little longer on each attempt, a second at most.
func pause(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(min(time.Duration(attempt+1)*20*time.Millisecond, time.Second)):
		return nil
	}
}

// ErrStart is why a Pod could not start: its image is missing, its
// volumes could not be mounted, it stayed unschedulable. The reason and
// the kubelet's message follow it.
var ErrStart = errors.New("pod did not start")

// Waiting reasons after which a container will not start by itself.
var fatalWaiting = map[string]bool{
	"ErrImageNeverPull":          true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"RunContainerError":          true,
}

// waitStarted watches a Pod until it runs or has finished; a Pod whose
// container cannot start, or that StartTimeout does not see running, is
// an ErrStart. The Info is the Pod's, even on error, so the caller can
// remove it.
func (r *Runtime) waitStarted(ctx context.Context, pod *corev1.Pod) (container.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.StartTimeout)
	defer cancel()
	info := podInfo(pod)
	var why error
	err := r.watchPod(ctx, pod, func(p *corev1.Pod) (bool, error) {
		if p == nil || p.UID != pod.UID {
			return true, fmt.Errorf("%w: deleted before it ran", ErrStart)
		}
		info = podInfo(p)
		if _, done := finished(p); done || p.Status.Phase == corev1.PodRunning {
			return true, nil
		}
		why = pendingReason(p)
		if w, ok := why.(waitingError); ok && fatalWaiting[w.reason] {
			return true, why
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && why != nil {
		err = fmt.Errorf("%w (after %v)", why, r.cfg.StartTimeout)
	}
	return info, err
}

// waitingError is a container waiting for a reason the kubelet gave.
type waitingError struct{ reason, message string }

// Error implements error.
func (e waitingError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrStart, e.reason, e.message)
}

// Unwrap makes a waitingError an ErrStart for errors.Is.
func (e waitingError) Unwrap() error { return ErrStart }

// pendingReason says why a pending Pod does not run yet; nil when nothing
// says so.
func pendingReason(p *corev1.Pod) error {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
			return waitingError{reason: w.Reason, message: w.Message}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			return waitingError{reason: c.Reason, message: c.Message}
		}
	}
	return nil
}

// watchPod calls check with the Pod (nil once it is gone) now and at each
// change, until check says done. It watches from the version it read, so
// no change is missed; a watch the server ends is started again.
func (r *Runtime) watchPod(ctx context.Context, pod *corev1.Pod, check func(*corev1.Pod) (bool, error)) error {
	pods := r.cs.CoreV1().Pods(r.ns)
	cur := pod
	for {
		if done, err := check(cur); done {
			return err
		}
		if cur == nil {
			return nil
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", cur.Name).String(),
			ResourceVersion: cur.ResourceVersion,
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch pod %s: %w", cur.Name, err)
		}
		cur, err = r.follow(ctx, w, cur, check)
		w.Stop()
		if err != nil || cur == nil {
			return err
		}
		// The watch ended (the server's timeout, or a version too old):
		// read the Pod again and watch on from there.
		p, err := pods.Get(ctx, cur.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cur = nil
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("get pod %s: %w", cur.Name, err)
		default:
			cur = p
		}
		if cur != nil && cur.UID != pod.UID {
			cur = nil // another Pod of the same name: ours is gone
		}
	}
}

// follow reads w's events until check is done (returns nil, err), the
// Pod is deleted (nil, check's verdict on nil), or the watch ends (the
// last Pod seen, nil).
func (r *Runtime) follow(ctx context.Context, w watch.Interface, last *corev1.Pod, check func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return last, nil
			}
			p, isPod := ev.Object.(*corev1.Pod)
			switch {
			case ev.Type == watch.Error:
				return last, nil // read again and watch on
			case !isPod || p.Name != last.Name:
				continue // a fake watch may not filter by name
			case p.UID != last.UID && last.UID != "":
				continue // another Pod of the name: not ours
			case ev.Type == watch.Deleted:
				// Its last state may say how it ended.
				if _, done := finished(p); done {
					if ok, err := check(p); ok {
						return nil, err
					}
				}
				_, err := check(nil)
				return nil, err
			}
			last = p
			if done, err := check(p); done {
				return nil, err
			}
		}
	}
}

// finished reports how a Pod's agent container ended, if it has.
func finished(p *corev1.Pod) (container.Exit, bool) {
	exit := container.Exit{Code: -1, Memory: memoryLimit(p)}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != agentContainer {
			continue
		}
		if t := cs.State.Terminated; t != nil {
			exit.Code = int64(t.ExitCode)
			exit.OOMKilled = t.Reason == "OOMKilled"
			return exit, true
		}
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		exit.Code = 0
		return exit, true
	case corev1.PodFailed:
		return exit, true
	}
	return exit, false
}

// memoryLimit is the agent container's memory limit, bytes (0: none).
func memoryLimit(p *corev1.Pod) int64 {
	for _, c := range p.Spec.Containers {
		if c.Name == agentContainer {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.Value()
			}
		}
	}
	return 0
}

// Wait blocks until the Pod has finished, reads how it ended, and deletes
// it. It sees the exit through a watch, not by polling. A Pod already
// gone (or replaced by another of its name) reports code -1.
func (r *Runtime) Wait(ctx context.Context, id string) (container.Exit, error) {
	name, uid := splitID(id)
	exit := container.Exit{Code: -1}
	pod, err := r.cs.CoreV1().Pods(r.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return exit, nil
	}
	if err != nil {
		return exit, fmt.Errorf("get pod %s: %w", name, err)
	}
	if uid != "" && string(pod.UID) != uid {
		return exit, nil
	}
	var ended *corev1.Pod
	err = r.watchPod(ctx, pod, func(p *corev1.Pod) (bool, error) {
		if p == nil {
			return true, nil
		}
		if e, done := finished(p); done {
			exit, ended = e, p
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return container.Exit{Code: -1}, err
	}
	if ended == nil {
		return exit, nil
	}
	// Delete even when the caller is going away: a finished Pod left
	// behind would hold its name.
	if err := r.remove(context.WithoutCancel(ctx), ended.Name, ended.UID); err != nil {
		return exit, err
	}
	return exit, nil
}

// minGrace is the shortest grace a delete asks for. A grace of 0 would
// remove the Pod from the API before the kubelet has killed its
// container, freeing the name while the old agent may still run: a new
// Pod of the session could then run beside it.
const minGrace = time.Second

// Stop deletes the Pod with grace between SIGTERM and SIGKILL, and waits
// until it is gone (the kubelet has stopped its container).
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	name, uid := splitID(id)
	return r.delete(ctx, name, types.UID(uid), max(grace, minGrace))
}

// Remove deletes the Pod at once (the shortest grace) and waits until it
// is gone; a Pod already gone is no error.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	name, uid := splitID(id)
	return r.remove(ctx, name, types.UID(uid))
}

func (r *Runtime) remove(ctx context.Context, name string, uid types.UID) error {
	return r.delete(ctx, name, uid, minGrace)
}

// goneWait bounds how long a delete waits for the Pod to go, past its grace.
const goneWait = time.Minute

// delete deletes the Pod name (only if its UID is uid, when uid is set)
// and waits for it to be gone.
func (r *Runtime) delete(ctx context.Context, name string, uid types.UID, grace time.Duration) error {
	if name == "" {
		return nil
	}
	pods := r.cs.CoreV1().Pods(r.ns)
	secs := int64(grace / time.Second)
	opts := metav1.DeleteOptions{GracePeriodSeconds: &secs}
	if uid != "" {
		// The precondition makes the API server refuse to delete
		// another Pod of the name; the look first spares the request
		// (and a client that ignores preconditions) when it is plain.
		cur, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && cur.UID != uid {
			return nil
		}
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := pods.Delete(ctx, name, opts)
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone, or the name now holds another Pod (the precondition).
		return nil
	case err != nil:
		return fmt.Errorf("delete pod %s: %w", name, err)
	}
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod %s: %w", name, err)
	}
	if uid != "" && pod.UID != uid {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, grace+goneWait)
	defer cancel()
	err = r.watchPod(wctx, pod, func(p *corev1.Pod) (bool, error) { return p == nil, nil })
	if err != nil {
		return fmt.Errorf("wait for pod %s to go: %w", name, err)
	}
	return nil
}

// List returns the Pods (running or not) that carry all the labels, with
// the labels as berth set them.
func (r *Runtime) List(ctx context.Context, want map[string]string) ([]container.Info, error) {
	sel := labels.Set{}
	for k, v := range want {
		sel[k] = labelValue(v)
	}
	list, err := r.cs.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out := make([]container.Info, 0, len(list.Items))
	for i := range list.Items {
		info := podInfo(&list.Items[i])
		if matches(info.Labels, want) { // a hashed value could collide: compare the real ones
			out = append(out, info)
		}
	}
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Inspect reports one Pod by id or name.
func (r *Runtime) Inspect(ctx context.Context, idOrName string) (container.Info, error) {
	name, uid := splitID(idOrName)
	pod, err := r.cs.CoreV1().Pods(r.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return container.Info{}, fmt.Errorf("get pod %s: %w", name, err)
	}
	if uid != "" && string(pod.UID) != uid {
		return container.Info{}, fmt.Errorf("get pod %s: %w", name, errGone)
	}
	return podInfo(pod), nil
}

// errGone is a Pod whose name now holds another Pod.
var errGone = apierrors.NewNotFound(corev1.Resource("pods"), "")

// Pod returns the API's whole description of one Pod (for audits: its
// security context, volumes, environment).
func (r *Runtime) Pod(ctx context.Context, idOrName string) (*corev1.Pod, error) {
	name, _ := splitID(idOrName)
	pod, err := r.cs.CoreV1().Pods(r.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get pod %s: %w", name, err)
	}
	return pod, nil
}

// Logs copies the agent's output (the kubelet keeps stdout and stderr as
// one stream: it goes to stdout) following until the Pod ends or ctx is
// done.
func (r *Runtime) Logs(ctx context.Context, id string, stdout, stderr io.Writer) error {
	return r.LogsSince(ctx, id, time.Time{}, stdout, stderr)
}

// LogsSince is Logs for output written after since (all of it when since
// is zero).
func (r *Runtime) LogsSince(ctx context.Context, id string, since time.Time, stdout, _ io.Writer) error {
	name, _ := splitID(id)
	opts := &corev1.PodLogOptions{Container: agentContainer, Follow: true}
	if !since.IsZero() {
		t := metav1.NewTime(since)
		opts.SinceTime = &t
	}
	rc, err := r.cs.CoreV1().Pods(r.ns).GetLogs(name, opts).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of pod %s: %w", name, err)
	}
	defer rc.Close()
	if _, err := io.Copy(stdout, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of pod %s: %w", name, err)
	}
	return nil
}

// IsNotFound reports whether err means the Pod does not exist.
func IsNotFound(err error) bool { return apierrors.IsNotFound(err) }

// IsForbidden reports whether err is the API server refusing berth's
// credentials what they asked.
func IsForbidden(err error) bool { return apierrors.IsForbidden(err) }
