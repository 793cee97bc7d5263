package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/container/kube/kubetest"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestKubeGatewayKilledWithMessagesPending is TestCrashNothingLostNothingDoubled
// on Kubernetes: `berth run --runtime kubernetes` is SIGKILLed at random
// points while messages flow over 4 Slack channels (4 sessions, 4 Pods)
// and started again. Every message is answered exactly once (counted at
// the fake Slack), the API never shows two Pods of a session (sampled
// throughout), and none is left once berth stops.
func TestKubeGatewayKilledWithMessagesPending(t *testing.T) {
	c := kubetest.Require(t)
	t.Parallel()
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	c.Import(t, gatewaytest.Image)
	ns := c.Namespace(t)
	const channels, perChannel, kills = 4, 10, 3
	home := t.TempDir()
	fake := slacktest.New(t)
	wireChannels(t, home, channels)
	rt := c.Runtime(t, kube.Config{Namespace: ns, Home: home})

	logf, err := os.Create(filepath.Join(home, "berth-stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(berthBinary(t), "run", "--image", gatewaytest.Image,
			"--runtime", "kubernetes", "--kubeconfig", c.Kubeconfig, "--namespace", ns, "--kube-pull-policy", "Never")
		cmd.Env = append(os.Environ(), "BERTH_HOME="+home,
			"SLACK_BOT_TOKEN=xoxb-crash", "SLACK_APP_TOKEN=xapp-crash", "SLACK_API_URL="+fake.URL())
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	pods := func() []container.Info {
		list, err := rt.List(context.Background(), map[string]string{container.LabelHome: home})
		if err != nil {
			t.Logf("list pods: %v", err)
		}
		return list
	}

	// Sample the API throughout: never two Pods for a session.
	stop := make(chan struct{})
	var maxPerSession int
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			per := map[string]int{}
			for _, p := range pods() {
				per[p.Labels[container.LabelSession]]++
			}
			for _, n := range per {
				maxPerSession = max(maxPerSession, n)
			}
		}
	}()

	berth := start()
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		for i := 0; i < channels*perChannel; i++ {
			fake.Post(fmt.Sprintf("C%02d", i%channels), "U1", fmt.Sprintf("m%03d", i))
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(1000+rand.IntN(1500)) * time.Millisecond)
		if err := berth.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		berth.Wait()
		time.Sleep(time.Duration(100+rand.IntN(600)) * time.Millisecond)
		berth = start()
	}
	<-posted

	want := channels * perChannel
	count := func() (answered, doubled int, counts map[string]int) { return echoCount(fake.Posted(), want) }
	waitAnswered(count, want, 5*time.Minute)
	if err := berth.Process.Signal(syscall.SIGTERM); err != nil {
		t.Error(err)
	}
	berth.Wait()
	close(stop)
	sampled.Wait()
	answered, doubled, counts := count()
	t.Logf("sent %d, answered %d, duplicated %d, lost %d; pods per session (max) %d; %d kills",
		want, answered, doubled, want-answered, maxPerSession, kills)
	if answered != want || doubled != 0 {
		var missing []string
		for i := 0; i < want; i++ {
			if n := counts[fmt.Sprintf("echo: m%03d", i)]; n != 1 {
				missing = append(missing, fmt.Sprintf("m%03d×%d", i, n))
			}
		}
		b, _ := os.ReadFile(paths.Home(home).GatewayLog())
		stderr, _ := os.ReadFile(logf.Name())
		t.Fatalf("not exactly once: %s\n(last log lines: %s)\n(stderr: %s)", strings.Join(missing, " "), tail(string(b), 15), tail(string(stderr), 10))
	}
	if maxPerSession > 1 {
		t.Errorf("a session had %d pods at once", maxPerSession)
	}
	deadline := time.Now().Add(time.Minute)
	for len(pods()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pods left after berth stopped: %+v", pods())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
