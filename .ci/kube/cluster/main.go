// Command cluster drives the offline Kubernetes that .ci/kube/up starts,
// through its API server only (kubectl is not built):
//
//	cluster wait  -kubeconfig K -nodes "localhost berth-kube-2"   until the nodes are Ready and Pods are admitted
//	cluster drain -kubeconfig K                                    delete every Pod and wait until the kubelets let them go
//	cluster smoke -kubeconfig K -image IMG -nodes "..."            one Pod per node runs `berth-runner --version` to Succeeded
//
// It lives in its own module under .ci/kube so berth's go.mod does not
// carry it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cluster wait|drain|smoke [flags]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "admin kubeconfig")
	nodes := fs.String("nodes", "localhost", "space-separated node names")
	image := fs.String("image", "", "agent image (smoke)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail("load kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fail("client: %v", err)
	}
	names := strings.Fields(*nodes)
	switch cmd {
	case "wait":
		err = waitReady(ctx, cs, names)
	case "drain":
		err = drain(ctx, cs)
	case "smoke":
		if *image == "" {
			fail("smoke needs -image")
		}
		err = smoke(ctx, cs, *image, names)
	default:
		fail("unknown command %q", cmd)
	}
	if err != nil {
		fail("%s: %v", cmd, err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cluster: "+format+"\n", a...)
	os.Exit(1)
}

// poll calls f every 200ms until it reports done, fails, or ctx ends; the
// last "not yet" reason is in the timeout error.
func poll(ctx context.Context, f func() (done bool, why string, err error)) error {
	why := "not started"
	for {
		done, w, err := f()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		why = w
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), why)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitReady returns once every named node is Ready and the default
// namespace admits Pods: its `default` ServiceAccount and the
// kube-root-ca.crt ConfigMap exist (kube-controller-manager makes both).
func waitReady(ctx context.Context, cs kubernetes.Interface, names []string) error {
	start := time.Now()
	err := poll(ctx, func() (bool, string, error) {
		for _, n := range names {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, fmt.Sprintf("node %s: %v", n, err), nil
			}
			if !ready(node) {
				return false, "node " + n + " not Ready", nil
			}
		}
		if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, fmt.Sprintf("serviceaccount default/default: %v", err), nil
		}
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
			return false, fmt.Sprintf("configmap default/kube-root-ca.crt: %v", err), nil
		}
		return true, "", nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("nodes %s Ready and Pods admitted after %.1fs of waiting\n", strings.Join(names, ", "), time.Since(start).Seconds())
	return nil
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// drain deletes every Pod with a short grace period and waits until the
// API server lets the last one go, which it does only once its kubelet
// has stopped the Pod's containers and sandbox (so the sandbox's network
// namespace and mounts are gone too).
func drain(ctx context.Context, cs kubernetes.Interface) error {
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	grace := int64(1)
	for _, p := range pods.Items {
		err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	err = poll(ctx, func() (bool, string, error) {
		left, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", fmt.Errorf("list pods: %w", err)
		}
		if n := len(left.Items); n > 0 {
			return false, fmt.Sprintf("%d pods left", n), nil
		}
		return true, "", nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("drained %d pods\n", len(pods.Items))
	return nil
}

// smoke runs one Pod per node (placed by the scheduler through a node
// selector) with the agent image and berth's security settings, running
// `berth-runner --version` to Succeeded, and reads its log through the
// API server. It prints create→Running and create→Succeeded per Pod.
func smoke(ctx context.Context, cs kubernetes.Interface, image string, nodes []string) error {
	for _, node := range nodes {
		if err := smokeOne(ctx, cs, image, node); err != nil {
			return fmt.Errorf("node %s: %w", node, err)
		}
	}
	return nil
}

func smokeOne(ctx context.Context, cs kubernetes.Interface, image, node string) (err error) {
	pods := cs.CoreV1().Pods("default")
	name := "berth-smoke-" + node
	uid := int64(65532)
	no, yes := false, true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"berth.smoke": "1"}},
		Spec: corev1.PodSpec{
			NodeSelector:                 map[string]string{"kubernetes.io/hostname": node},
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsUser: &uid, RunAsGroup: &uid, RunAsNonRoot: &yes,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            "runner",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Args:            []string{"--version"},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	one := int64(1)
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &one}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete an old %s: %w", name, err)
	}
	if err := poll(ctx, func() (bool, string, error) {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, "old pod still there", err
	}); err != nil {
		return err
	}

	created := time.Now()
	p, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer func() { // a failed smoke leaves no Pod behind
		if err == nil {
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if derr := pods.Delete(dctx, name, metav1.DeleteOptions{GracePeriodSeconds: &one}); derr != nil && !apierrors.IsNotFound(derr) {
			fmt.Fprintf(os.Stderr, "cluster: smoke: delete %s after the failure: %v\n", name, derr)
		}
	}()
	var running, done time.Duration
	last := p
	// seen records a state of the Pod; true once it has Succeeded.
	seen := func(p *corev1.Pod) (bool, error) {
		last = p
		switch p.Status.Phase {
		case corev1.PodRunning:
			if running == 0 {
				running = time.Since(created)
			}
		case corev1.PodSucceeded:
			if running == 0 {
				running = time.Since(created) // it ran and ended between two events
			}
			done = time.Since(created)
			return true, nil
		case corev1.PodFailed:
			return false, fmt.Errorf("pod Failed: %s", describe(p))
		}
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil && w.Reason == "ErrImageNeverPull" {
				return false, fmt.Errorf("image %s is not in %s's containerd (run .ci/kube/import first): %s", image, node, w.Message)
			}
		}
		return false, nil
	}
	// A watch from the created version; a fresh API server's watch cache
	// may refuse it for a moment ("Too large resource version"): then the
	// Pod is read again and the watch restarted.
	for done == 0 {
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: last.ResourceVersion,
		})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("pod not Succeeded: %w (last status: %s)", ctx.Err(), describe(last))
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for done == 0 {
			ev, ok := <-w.ResultChan()
			if !ok || ev.Type == watch.Error {
				break
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod {
				if _, err := seen(p); err != nil {
					w.Stop()
					return err
				}
			}
		}
		w.Stop()
		if done != 0 {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("pod not Succeeded: %w (last status: %s)", ctx.Err(), describe(last))
		}
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		if _, err := seen(p); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last.Spec.NodeName != node {
		return fmt.Errorf("pod ran on %q, want %q", last.Spec.NodeName, node)
	}
	rc, err := pods.GetLogs(name, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read logs: %w", err)
	}
	out := strings.TrimSpace(string(b))
	if !strings.Contains(out, "berth-runner") {
		return fmt.Errorf("log %q does not name berth-runner", out)
	}
	// Deleted with a grace period, so the API server lets the Pod go only
	// once its kubelet has stopped the sandbox (its network namespace goes
	// with it).
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &one}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := poll(ctx, func() (bool, string, error) {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, "pod not yet gone", err
	}); err != nil {
		return err
	}
	fmt.Printf("smoke %s: pod on %s: create→Running %.2fs, create→Succeeded %.2fs; log through the API server: %q\n",
		name, node, running.Seconds(), done.Seconds(), out)
	return nil
}

func describe(p *corev1.Pod) string {
	if p == nil {
		return "none seen"
	}
	s := string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			s += fmt.Sprintf("; %s: %s", c.Type, c.Message)
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			s += fmt.Sprintf("; %s waiting: %s %s", c.Name, w.Reason, w.Message)
		}
		if t := c.State.Terminated; t != nil {
			s += fmt.Sprintf("; %s terminated: %s exit %d %s", c.Name, t.Reason, t.ExitCode, t.Message)
		}
	}
	return s
}
