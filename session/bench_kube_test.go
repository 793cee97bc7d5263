package session_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// BenchmarkKubeRoundTrip measures, in one run on one cluster, what
// BenchmarkColdRoundTrip, BenchmarkWarmRoundTrip and BenchmarkDockerRunTrue
// measure on Docker: a bare Pod of the agent image running `berth-runner
// --version` (created to Succeeded, seen through a watch), the cold round
// trip through a session's new Pod, and the warm round trip through a
// running one. Each iteration is one bare Pod, one cold and ten warm trips.
// Run (with a cluster, see docs/kubernetes/README.md):
//
//	go test -run '^$' -bench KubeRoundTrip -benchtime 5x ./session/
func BenchmarkKubeRoundTrip(b *testing.B) {
	// berth's default limits (1 GiB, 1 CPU), as the Docker figures had.
	g := startKube(b, shapeHostPath, func(c *session.Config) { c.Memory, c.NanoCPUs = 0, 0 })
	ch := g.ch
	trip := func() time.Duration {
		start := time.Now()
		if err := g.Manager.Handle(context.Background(), msg("ping")); err != nil {
			b.Fatal(err)
		}
		ch.waitSent(b, len(ch.Sent())+1, 2*time.Minute)
		return time.Since(start)
	}
	trip() // the session exists, its Pod runs
	sid := g.Sessions()[0].ID
	var bare, started, cold, warm []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := g.Manager.StopSession(context.Background(), sid); err != nil {
			b.Fatal(err)
		}
		for len(g.Containers(sid)) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		waitStopped(b, g.Gateway, sid)
		b.StartTimer()
		run, done := g.barePod(b, i)
		started, bare = append(started, run), append(bare, done)
		cold = append(cold, trip())
		for j := 0; j < 10; j++ {
			warm = append(warm, trip())
		}
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"bare", bare}, {"bare-started", started}, {"cold", cold}, {"warm", warm}} {
		med, p99 := medianP99(m.ds)
		b.ReportMetric(med, m.name+"-median-ms")
		if m.name == "warm" {
			b.ReportMetric(p99, "warm-p99-ms")
		}
	}
	b.ReportMetric(0, "ns/op")
}

// barePod creates a Pod of the agent image that runs `berth-runner
// --version`, with the box berth's Pods get, and returns how long it took
// from the create to the watch seeing its container started (running or
// already ended), and to the watch seeing the Pod Succeeded.
func (g *kubeGateway) barePod(b *testing.B, i int) (started, succeeded time.Duration) {
	spec := container.Spec{
		Name: fmt.Sprintf("berth-bare-%d-%d", time.Now().UnixNano()%1e6, i), Image: gatewaytest.Image, Cmd: []string{"--version"},
		User: fmt.Sprintf("%d:%d", container.AgentUID, container.AgentUID), Memory: groups.DefaultMemory, NanoCPUs: groups.DefaultNanoCPUs,
		Labels: map[string]string{container.LabelHome: g.Home + "-bare", container.LabelSession: "bare"},
	}
	pods := g.rt.Clientset().CoreV1().Pods(g.ns)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", spec.Name).String()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	info, _, err := g.rt.Ensure(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	for ev := range w.ResultChan() {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		if started == 0 && (p.Status.Phase != corev1.PodPending || containerStarted(p)) {
			started = time.Since(start)
		}
		if ev.Type != watch.Deleted && p.Status.Phase == corev1.PodSucceeded {
			d := time.Since(start)
			if err := g.rt.Remove(context.Background(), info.ID); err != nil {
				b.Fatal(err)
			}
			return started, d
		}
		if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodFailed {
			b.Fatalf("bare pod failed: %+v", p.Status)
		}
	}
	b.Fatal("bare pod: watch ended before it succeeded")
	return 0, 0
}

// containerStarted reports whether a Pod's container has run.
func containerStarted(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

func medianP99(ds []time.Duration) (median, p99 float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(s[len(s)/2]), ms(s[(len(s)*99)/100])
}
