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
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

// TestCrashNothingLostNothingDoubled posts 200 messages over 20 Slack
// channels (20 sessions) while `berth run` is SIGKILLed at 5 random points
// and restarted. Every message must be answered exactly once (counted at
// the fake Slack), no session may ever have two containers (the engine is
// sampled throughout), and none may be left after berth stops.
func TestCrashNothingLostNothingDoubled(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite")
	}
	t.Parallel()
	const channels, perChannel, kills = 20, 10, 5
	home := t.TempDir()
	fake := slacktest.New(t)
	wireChannels(t, home, channels)

	logf, err := os.Create(filepath.Join(home, "berth-stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start := func() *exec.Cmd {
		cmd := berthCmd(t, home, "run")
		cmd.Env = append(cmd.Env, "SLACK_BOT_TOKEN=xoxb-crash", "SLACK_APP_TOKEN=xapp-crash", "SLACK_API_URL="+fake.URL())
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	// Sample the engine throughout: never two containers for a session.
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
			for _, c := range containers(t, home) {
				per[c.Labels[container.LabelSession]]++
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
			time.Sleep(40 * time.Millisecond)
		}
	}()
	// Kill at random points while messages flow, and start again.
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(700+rand.IntN(1000)) * time.Millisecond)
		berth.Process.Signal(syscall.SIGKILL)
		berth.Wait()
		time.Sleep(time.Duration(100+rand.IntN(600)) * time.Millisecond)
		berth = start()
	}
	<-posted

	want := channels * perChannel
	count := func() (answered, doubled int, counts map[string]int) { return echoCount(fake.Posted(), want) }
	waitAnswered(count, want, 4*time.Minute)
	berth.Process.Signal(syscall.SIGTERM)
	berth.Wait()
	close(stop)
	sampled.Wait()
	answered, doubled, counts := count()
	t.Logf("sent %d, answered %d, duplicated %d, lost %d; containers per session (max) %d; %d kills",
		want, answered, doubled, want-answered, maxPerSession, kills)
	if answered != want || doubled != 0 {
		var missing []string
		for i := 0; i < want; i++ {
			if n := counts[fmt.Sprintf("echo: m%03d", i)]; n != 1 {
				missing = append(missing, fmt.Sprintf("m%03d×%d", i, n))
			}
		}
		// What the senders were told instead, and the log's warnings:
		// a failed wake says why, a slow one says nothing.
		var told []string
		for _, p := range fake.Posted() {
			if !strings.HasPrefix(p.Text, "echo: ") {
				told = append(told, p.Text)
			}
		}
		b, _ := os.ReadFile(paths.Home(home).GatewayLog())
		var warned []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				warned = append(warned, line)
			}
		}
		t.Fatalf("not exactly once: %s\n(%d other posts, first: %q)\n(%d warnings, last: %s)\n(last log lines: %s)",
			strings.Join(missing, " "), len(told), told[:min(3, len(told))], len(warned), tail(strings.Join(warned, "\n"), 8), tail(string(b), 15))
	}
	if maxPerSession > 1 {
		t.Errorf("a session had %d containers at once", maxPerSession)
	}
	assertNoContainers(t, home)
}

// wireChannels makes the group "main" and wires C00… to it, every message
// engaging, one session per channel.
func wireChannels(t *testing.T, home string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := data.Open(ctx, paths.Home(home).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	uid := -1
	if os.Getuid() == 0 {
		uid = container.AgentUID
	}
	layout := groups.Layout{Root: paths.Home(home).Groups(), UID: uid}
	if err := layout.InitGlobal(); err != nil {
		t.Fatal(err)
	}
	ag := data.AgentGroup{Name: "main", Folder: "main"}
	if err := st.CreateGroup(ctx, &ag); err != nil {
		t.Fatal(err)
	}
	// The fake Slack's poster is a member: the wirings keep the default
	// access (members), and a member is not rate limited.
	if err := st.Grant(ctx, data.Role{UserID: "slack:U1", Role: data.RoleMember, GroupID: ag.ID}); err != nil {
		t.Fatal(err)
	}
	if err := layout.Init("main", "main"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		mg, err := st.EnsureMessagingGroup(ctx, "slack", fmt.Sprintf("C%02d", i), "", false)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Wire(ctx, &data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: ag.ID, Engage: data.EngagePattern, Pattern: ".",
			SessionMode: data.SessionShared}); err != nil {
			t.Fatal(err)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
