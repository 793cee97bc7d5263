package session_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/container/kube/kubetest"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// kubeShape is how a kube test's Pods get their folders.
type kubeShape int

const (
	shapeHostPath kubeShape = iota // hostPath folders under BERTH_HOME
	shapeClaim                     // subPaths of a claim bound to BERTH_HOME
)

// kubeGateway is a test gateway whose sessions run as Pods on the
// cluster of the environment (see kubetest.Require), in a namespace of
// its own.
type kubeGateway struct {
	*gatewaytest.Gateway
	ch      *fakeChannel
	rt      *kube.Runtime
	cluster *kubetest.Cluster
	ns      string
}

// startKube starts a gateway on the cluster, the agent image imported
// into its nodes, the fake channel's "room" wired to group main. Pods get
// smaller limits than berth's defaults (256 MiB, half a CPU), so that
// several fit on a test node; cfg may set others.
func startKube(t testing.TB, shape kubeShape, cfg func(*session.Config)) *kubeGateway {
	t.Helper()
	c := kubetest.Require(t)
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	c.Import(t, gatewaytest.Image)
	ns := c.Namespace(t)
	home := t.TempDir()
	kc := kube.Config{Namespace: ns, Home: home, PullPolicy: corev1.PullNever}
	if shape == shapeClaim {
		kc.Claim = bindHome(t, c, ns, home)
	}
	rt := c.Runtime(t, kc)
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Home: home, Runtime: rt,
		Config: func(sc *session.Config) {
			sc.Memory, sc.NanoCPUs = 256<<20, 5e8
			if cfg != nil {
				cfg(sc)
			}
		}})
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	return &kubeGateway{Gateway: g, ch: ch, rt: rt, cluster: c, ns: ns}
}

// bindHome makes a hostPath PersistentVolume of home and a claim bound to
// it statically (no provisioner needed), as an operator's ReadWriteMany
// claim would be; both are deleted when the test ends.
func bindHome(t testing.TB, c *kubetest.Cluster, ns, home string) string {
	t.Helper()
	cs := c.Runtime(t, kube.Config{Home: "/"}).Clientset()
	ctx := context.Background()
	name := "berth-home-" + ns
	size := resource.MustParse("1Gi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"berth.test": "1"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: home}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: "berth-home"},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cs.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Logf("delete pv %s: %v", name, err)
		}
	})
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "berth-home", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: &empty,
			VolumeName:       name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "berth-home", metav1.GetOptions{})
		if err == nil && got.Status.Phase == corev1.ClaimBound {
			return "berth-home"
		}
		if time.Now().After(deadline) {
			t.Fatalf("claim not bound: %+v, %v", got.Status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pods lists the Pods of a session ("" all of the gateway's) from the API.
func (g *kubeGateway) pods(t *testing.T, sid string) []corev1.Pod {
	t.Helper()
	sel := container.LabelSession + "=" + sid
	if sid == "" {
		sel = container.LabelSession
	}
	list, err := g.rt.Clientset().CoreV1().Pods(g.ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// runningPods waits until the API shows every Pod of a session running,
// and returns them. The reply can come before the kubelet has told the
// API server the Pod runs: berth delivers from the session's folder.
func (g *kubeGateway) runningPods(t *testing.T, sid string) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pods := g.pods(t, sid)
		running := len(pods) > 0
		for _, p := range pods {
			running = running && p.Status.Phase == corev1.PodRunning
		}
		if running {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods of session %s: %v, want them running", sid, phases(pods))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampleMax samples the API for the most Pods any one session has at once,
// until stop is closed; the maximum comes out of the returned channel.
func (g *kubeGateway) sampleMax(t *testing.T, stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		m := 0
		for {
			select {
			case <-stop:
				out <- m
				return
			case <-time.After(50 * time.Millisecond):
			}
			list, err := g.rt.List(context.Background(), map[string]string{container.LabelHome: g.Home})
			if err != nil {
				continue
			}
			per := map[string]int{}
			for _, c := range list {
				per[c.Labels[container.LabelSession]]++
				m = max(m, per[c.Labels[container.LabelSession]])
			}
		}
	}()
	return out
}

func TestKubeRoundTrip(t *testing.T) {
	t.Parallel()
	g := startKube(t, shapeHostPath, nil)
	handle(t, g.Gateway, msg("hello"))
	got := g.ch.waitSent(t, 1, 2*time.Minute)
	if got[0].Text != "echo: hello" || got[0].PlatformID != "room" {
		t.Fatalf("reply = %+v", got[0])
	}
	ss := g.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	pods := g.runningPods(t, ss[0].ID)
	if len(pods) != 1 {
		t.Fatalf("pods of the session: %d (%v), want one", len(pods), phases(pods))
	}
	if want := kube.PodName(session.ContainerName("main", ss[0].ID)); pods[0].Name != want {
		t.Errorf("pod name %s, want %s", pods[0].Name, want)
	}
}

// TestKubePodSpecFromAPI asserts the security fields of a session's Pod as
// the API server stored them (after admission), and what the Pod carries.
func TestKubePodSpecFromAPI(t *testing.T) {
	t.Parallel()
	g := startKube(t, shapeHostPath, nil)
	handle(t, g.Gateway, msg("hello"))
	g.ch.waitSent(t, 1, 2*time.Minute)
	s := g.Sessions()[0]
	pods := g.runningPods(t, s.ID)
	if len(pods) != 1 {
		t.Fatalf("%d pods", len(pods))
	}
	p := pods[0]
	for _, problem := range kubetest.SecurityProblems(&p) {
		t.Error(problem)
	}
	if p.Annotations[container.LabelHome] != g.Home || p.Labels[container.LabelSession] != s.ID || p.Labels[container.LabelGroup] != "main" {
		t.Errorf("labels %v, annotations %v", p.Labels, p.Annotations)
	}
	c := p.Spec.Containers[0]
	if q := c.Resources.Limits[corev1.ResourceMemory]; q.Value() != 256<<20 {
		t.Errorf("memory limit %s, want the configured 256Mi", q.String())
	}
	if q := c.Resources.Limits[corev1.ResourceCPU]; q.MilliValue() != 500 {
		t.Errorf("cpu limit %s, want 500m", q.String())
	}
	for _, e := range c.Env {
		if strings.Contains(strings.ToUpper(e.Name), "KEY") || strings.Contains(strings.ToUpper(e.Name), "TOKEN") {
			t.Errorf("env %s reaches the agent", e.Name)
		}
	}
	// The kubelet enforces what it was asked: the container runs as the uid.
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "agent" && cs.State.Running == nil {
			t.Errorf("agent container not running: %+v", cs.State)
		}
	}
	if *c.SecurityContext.RunAsUser != int64(container.AgentUID) && os.Getuid() == 0 {
		t.Errorf("runAsUser %d, want the agent uid %d", *c.SecurityContext.RunAsUser, container.AgentUID)
	}
}

func TestKubeConcurrentMessagesOnePodInOrder(t *testing.T) {
	t.Parallel()
	g := startKube(t, shapeHostPath, nil)
	const n = 50
	msgs := make([]channels.Inbound, n)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprintf("m%02d", i))
	}
	stop := make(chan struct{})
	maxSeen := g.sampleMax(t, stop)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted []string
	for _, in := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			handle(t, g.Gateway, in)
			accepted = append(accepted, in.Text)
		}()
	}
	wg.Wait()
	got := g.ch.waitSent(t, n, 3*time.Minute)
	close(stop)
	if m := <-maxSeen; m != 1 {
		t.Errorf("saw %d pods of the session at once, want 1", m)
	}
	for i, out := range got {
		if want := "echo: " + accepted[i]; out.Text != want {
			t.Fatalf("reply %d = %q, want %q", i, out.Text, want)
		}
	}
	if len(g.Sessions()) != 1 || len(g.pods(t, "")) != 1 {
		t.Fatalf("%d sessions, %d pods; want 1 and 1", len(g.Sessions()), len(g.pods(t, "")))
	}
}

func TestKubeIdleStopDeletesPodThenStateContinues(t *testing.T) {
	t.Parallel()
	g := startKube(t, shapeHostPath, func(c *session.Config) { c.IdleTimeout = 2 * time.Second; c.Poll = 200 * time.Millisecond })
	handle(t, g.Gateway, msg("count"))
	got := g.ch.waitSent(t, 1, 2*time.Minute)
	if got[0].Text != "echo: turn 1" {
		t.Fatalf("first reply %q", got[0].Text)
	}
	sid := g.Sessions()[0].ID
	first := g.pods(t, sid)
	if len(first) != 1 {
		t.Fatalf("%d pods", len(first))
	}
	deadline := time.Now().Add(time.Minute)
	for len(g.pods(t, sid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("pod still there long after the idle timeout")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := g.Sessions()[0]; s.ContainerState != "stopped" {
		t.Fatalf("container_state = %q after idle stop", s.ContainerState)
	}
	handle(t, g.Gateway, msg("count"))
	got = g.ch.waitSent(t, 2, 2*time.Minute)
	if got[1].Text != "echo: turn 2" {
		t.Fatalf("after the idle stop the session answered %q, want its state kept (turn 2)", got[1].Text)
	}
	second := g.pods(t, sid)
	if len(second) != 1 || second[0].UID == first[0].UID {
		t.Fatalf("pods after the wake: %d, same as before: %v; want one new pod", len(second), len(second) == 1 && second[0].UID == first[0].UID)
	}
}

// TestKubeSessionsSpreadOverNodes runs several sessions on a cluster of
// two nodes: the Pods land on both, and every session answers.
func TestKubeSessionsSpreadOverNodes(t *testing.T) {
	t.Parallel()
	g := startKube(t, shapeHostPath, nil)
	if g.cluster.Nodes < 2 {
		if os.Getenv("BERTH_REQUIRE_KUBE") == "1" {
			t.Fatalf("the cluster has %d node(s); this test needs 2 (.ci/kube/up --nodes 2)", g.cluster.Nodes)
		}
		t.Skipf("the cluster has %d node(s); this test needs 2", g.cluster.Nodes)
	}
	const sessions = 4
	for i := 0; i < sessions; i++ {
		room := fmt.Sprintf("room%d", i)
		g.Wire("fake", room, gatewaytest.Wire{IsDM: true})
		in := msg("hi " + room)
		in.PlatformID = room
		handle(t, g.Gateway, in)
	}
	got := g.ch.waitSent(t, sessions, 3*time.Minute)
	var texts []string
	for _, o := range got {
		texts = append(texts, o.Text)
	}
	slices.Sort(texts)
	for i := 0; i < sessions; i++ {
		if want := fmt.Sprintf("echo: hi room%d", i); texts[i] != want {
			t.Fatalf("replies %v, want each room answered", texts)
		}
	}
	nodes := map[string]int{}
	for _, p := range g.pods(t, "") {
		nodes[kube.Node(&p)]++
	}
	if len(nodes) < 2 {
		t.Fatalf("pods per node %v: want sessions on both nodes", nodes)
	}
	t.Logf("pods per node: %v", nodes)
}

// TestKubeSymlinkInGroupFolderNeverReachesDecoy is the symlink test on
// Kubernetes, in both volume shapes. The agent (here the test, writing
// where the agent can) replaces runner-src and .claude-shared in its group
// folder with symlinks to a decoy outside BERTH_HOME, and plants one more.
// The next Pod still mounts only the group folder itself (mounts.Plan), so
// the links resolve inside the Pod, and no volume comes from inside the
// group folder or the decoy. In the claim shape, a subPath through a
// planted link, as a Pod would get if any mount came from inside an
// agent's folder, is refused by the kubelet, which does not follow
// symlinks out of the volume: that Pod never runs. The decoy never changes.
func TestKubeSymlinkInGroupFolderNeverReachesDecoy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		shape kubeShape
	}{{"hostPath", shapeHostPath}, {"claim", shapeClaim}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			symlinkToDecoy(t, tt.shape)
		})
	}
}

func symlinkToDecoy(t *testing.T, shape kubeShape) {
	g := startKube(t, shape, func(c *session.Config) { c.Poll = 100 * time.Millisecond })
	handle(t, g.Gateway, msg("first"))
	g.ch.waitSent(t, 1, 2*time.Minute)
	s := g.Sessions()[0]
	decoy := newDecoy(t)
	before := snapshot(t, decoy)
	gdir := g.GroupDir("main")
	for _, name := range []string{groups.RunnerSrc, groups.ClaudeShared} {
		if err := os.Rename(filepath.Join(gdir, name), filepath.Join(gdir, name+".was")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(decoy, filepath.Join(gdir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(decoy, filepath.Join(gdir, "escape")); err != nil {
		t.Fatal(err)
	}
	// A new Pod for the next message.
	if err := g.Manager.StopSession(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	handle(t, g.Gateway, msg("second"))
	got := g.ch.waitSent(t, 2, 2*time.Minute)
	if last := got[len(got)-1].Text; last != "echo: second" {
		t.Fatalf("reply after the symlinks = %q (all: %+v)", last, got)
	}
	pods := g.pods(t, s.ID)
	if len(pods) != 1 {
		t.Fatalf("%d pods", len(pods))
	}
	inside := func(path, dir string) bool {
		rel, err := filepath.Rel(dir, path)
		return err == nil && rel != "." && filepath.IsLocal(rel)
	}
	for _, v := range pods[0].Spec.Volumes {
		switch {
		case v.HostPath != nil && shape == shapeClaim:
			t.Errorf("volume %s is a hostPath (%s) in the claim shape", v.Name, v.HostPath.Path)
		case v.HostPath != nil && (inside(v.HostPath.Path, gdir) || inside(v.HostPath.Path, decoy) || v.HostPath.Path == decoy):
			t.Errorf("hostPath %s lies inside the group folder or is the decoy", v.HostPath.Path)
		}
	}
	for _, m := range pods[0].Spec.Containers[0].VolumeMounts {
		if m.SubPath != "" && strings.HasPrefix(m.SubPath, "groups/main/") {
			t.Errorf("subPath %s lies inside the group folder, which the agent can write", m.SubPath)
		}
	}
	if shape == shapeClaim {
		// What the kubelet does with a subPath through a planted link.
		spec := container.Spec{
			Name: "berth-decoy-probe", Image: gatewaytest.Image, Cmd: []string{"--version"}, User: "10001:10001",
			Labels: map[string]string{container.LabelSession: "probe", container.LabelHome: g.Home + "-probe"},
			Mounts: []mounts.Mount{{Source: filepath.Join(gdir, "escape"), Target: "/workspace/escape", ReadOnly: true}},
		}
		probe := g.cluster.Runtime(t, kube.Config{Namespace: g.ns, Home: g.Home, Claim: "berth-home", PullPolicy: corev1.PullNever, StartTimeout: time.Minute})
		_, _, err := probe.Ensure(context.Background(), spec)
		if !errors.Is(err, kube.ErrStart) {
			t.Fatalf("a pod mounting a subPath through a symlink out of the volume: err = %v, want it refused (ErrStart)", err)
		}
		t.Logf("refused as it should be: %v", err)
	}
	if after := snapshot(t, decoy); !equalMaps(before, after) {
		t.Fatalf("the decoy changed:\nbefore %v\nafter  %v", before, after)
	}
}

func phases(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, string(p.Status.Phase))
	}
	return out
}

// TestKubeShippedRoleIsEnough runs a gateway as a service account bound
// to nothing but docs/kubernetes/rbac.yaml's Role: doctor's access review
// finds nothing refused, a message is answered through a Pod, its output
// is read through pods/log, and the idle stop deletes it. An account with
// no binding is refused each permission berth needs.
func TestKubeShippedRoleIsEnough(t *testing.T) {
	t.Parallel()
	c := kubetest.Require(t)
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	c.Import(t, gatewaytest.Image)
	ns := c.Namespace(t)
	c.ApplyRoles(t, ns, filepath.Join("..", "docs", "kubernetes", "rbac.yaml"))
	home := t.TempDir()
	rt, err := kube.New(kube.Config{Kubeconfig: c.ServiceAccountKubeconfig(t, ns, "berth"), Home: home, PullPolicy: corev1.PullNever})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Namespace() != ns {
		t.Fatalf("namespace %q, want the kubeconfig context's %q", rt.Namespace(), ns)
	}
	denied, err := rt.Access(context.Background())
	if err != nil || len(denied) > 0 {
		t.Fatalf("access as the shipped Role: denied %v, %v", denied, err)
	}
	nobody, err := kube.New(kube.Config{Kubeconfig: c.ServiceAccountKubeconfig(t, ns, "nobody"), Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if denied, err := nobody.Access(context.Background()); err != nil || len(denied) != len(kube.Needs) {
		t.Fatalf("access with no binding: denied %v, %v; want all %d refused", denied, err, len(kube.Needs))
	}

	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Home: home, Runtime: rt,
		Config: func(sc *session.Config) {
			sc.Memory, sc.NanoCPUs, sc.IdleTimeout, sc.Poll = 256<<20, 5e8, 2*time.Second, 200*time.Millisecond
		}})
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	handle(t, g, msg("hello"))
	if got := ch.waitSent(t, 1, 2*time.Minute); got[0].Text != "echo: hello" {
		t.Fatalf("reply %q", got[0].Text)
	}
	sid := g.Sessions()[0].ID
	pods := g.Containers(sid)
	if len(pods) != 1 {
		t.Fatalf("%d pods", len(pods))
	}
	lctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	var out strings.Builder
	err = rt.LogsSince(lctx, pods[0].ID, time.Time{}, &out, &out)
	cancel()
	if err != nil || !strings.Contains(out.String(), "runner") {
		t.Fatalf("pod logs through pods/log: %v; got %q", err, out.String())
	}
	deadline := time.Now().Add(time.Minute)
	for len(g.Containers(sid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("pod not deleted after the idle timeout")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKubeRestartAdoptsAndReconcilesOrphans crashes a gateway with its
// session's Pod running and plants a Pod of the same home for a session
// the store does not know. The next gateway on that home adopts the first
// Pod (the same UID answers) and deletes the orphan, found by label.
func TestKubeRestartAdoptsAndReconcilesOrphans(t *testing.T) {
	t.Parallel()
	g := startKube(t, shapeHostPath, nil)
	handle(t, g.Gateway, msg("before"))
	g.ch.waitSent(t, 1, 2*time.Minute)
	sid := g.Sessions()[0].ID
	before := g.runningPods(t, sid)
	g.Crash()

	orphan := container.Spec{
		Name: "berth-main-0000000000ff", Image: gatewaytest.Image, Cmd: []string{"--in", "/tmp", "--out", "/tmp"},
		User:   fmt.Sprintf("%d:%d", container.AgentUID, container.AgentUID),
		Labels: map[string]string{container.LabelSession: "00000000000000ff", container.LabelGroup: "main", container.LabelHome: g.Home},
	}
	if _, _, err := g.rt.Ensure(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}
	if n := len(g.pods(t, "")); n != 2 {
		t.Fatalf("%d pods before the restart, want the session's and the orphan", n)
	}

	ch := newFakeChannel()
	g2 := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Home: g.Home, Runtime: g.rt,
		Config: func(sc *session.Config) { sc.Memory, sc.NanoCPUs = 256<<20, 5e8 }})
	handle(t, g2, msg("after"))
	if got := ch.waitSent(t, 1, 2*time.Minute); got[0].Text != "echo: after" {
		t.Fatalf("reply after the restart %q", got[0].Text)
	}
	after := g.pods(t, sid)
	if len(after) != 1 || after[0].UID != before[0].UID {
		t.Fatalf("pods of the session after the restart: %d, want the one before adopted", len(after))
	}
	deadline := time.Now().Add(time.Minute)
	for len(g.pods(t, "00000000000000ff")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the orphan pod is still there after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
