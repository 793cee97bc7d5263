package session_test

import (
	"context"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// Round trips are measured from the call that hands berth a message to
// the moment the channel is asked to send the reply (echo provider).
// Run: go test -run '^$' -bench . ./session/

func BenchmarkWarmRoundTrip(b *testing.B) {
	g, ch := startBench(b)
	roundTrip(b, g, ch, 1) // wake the container
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ds = append(ds, roundTrip(b, g, ch, len(ch.Sent())+1))
	}
	report(b, ds)
}

func BenchmarkColdRoundTrip(b *testing.B) {
	g, ch := startBench(b)
	roundTrip(b, g, ch, 1)
	sid := g.Sessions()[0].ID
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g.Manager.StopSession(context.Background(), sid)
		for len(g.Containers(sid)) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		waitStopped(b, g, sid)
		b.StartTimer()
		ds = append(ds, roundTrip(b, g, ch, len(ch.Sent())+1))
	}
	report(b, ds)
}

// BenchmarkDockerRunTrue is the floor: a bare `docker run --rm` of the
// agent image doing nothing.
func BenchmarkDockerRunTrue(b *testing.B) {
	d := gatewaytest.RequireDocker(b)
	gatewaytest.BuildImage(b, d)
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if out, err := exec.Command("docker", "run", "--rm", "--entrypoint", "/bin/true", gatewaytest.Image).CombinedOutput(); err != nil {
			b.Fatalf("docker run: %v %s", err, out)
		}
		ds = append(ds, time.Since(start))
	}
	report(b, ds)
}

func startBench(b *testing.B) (*gatewaytest.Gateway, *fakeChannel) {
	ch := newFakeChannel()
	g := gatewaytest.Start(b, gatewaytest.Options{Channels: nil})
	g.Manager.AddChannel(ch)
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	return g, ch
}

func roundTrip(b *testing.B, g *gatewaytest.Gateway, ch *fakeChannel, want int) time.Duration {
	start := time.Now()
	if err := g.Manager.Handle(context.Background(), msg("ping")); err != nil {
		b.Fatal(err)
	}
	ch.waitSent(b, want, time.Minute)
	return time.Since(start)
}

func waitStopped(b *testing.B, g *gatewaytest.Gateway, sid string) {
	for i := 0; i < 500; i++ {
		if s := g.Sessions(); len(s) > 0 && s[0].ContainerState == "stopped" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("session container never stopped")
}

// report adds median and p99 in milliseconds.
func report(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[len(ds)/2]), "median-ms")
	b.ReportMetric(ms(ds[(len(ds)*99)/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
