package slack_test

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// catchingUp starts the real gateway, catching up as berth does (at start
// and after every reconnect), with a real Slack adapter on fake and C1
// wired mention-sticky per-thread, on home ("": a new one).
func catchingUp(t *testing.T, fake *slacktest.Server, home string, cfg func(*slack.Config)) (*slack.Adapter, *gatewaytest.Gateway) {
	t.Helper()
	c := slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL(), PingTimeout: 3 * time.Second}
	if cfg != nil {
		cfg(&c)
	}
	a, err := slack.New(c, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{a}, Home: home, Backfill: true})
	if home == "" {
		g.Wire("slack", "C1", gatewaytest.Wire{Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread})
	}
	return a, g
}

// answeredOnce checks that each thread got exactly the replies want, and
// nothing else was posted.
func answeredOnce(t *testing.T, fake *slacktest.Server, g *gatewaytest.Gateway, want map[string][]string) {
	t.Helper()
	n := 0
	for _, w := range want {
		n += len(w)
	}
	fake.WaitPosted(t, n, 90*time.Second)
	g.WaitIdle(30 * time.Second)
	posts := fake.Posted()
	for thread, w := range want {
		if got := replies(posts, thread); !slices.Equal(got, w) {
			t.Errorf("thread %s has replies %q, want %q", thread, got, w)
		}
	}
	if len(posts) != n {
		t.Errorf("%d posts, want %d: %+v", len(posts), n, posts)
	}
}

// Messages posted while the socket is down, at the top of the channel and
// in an active thread (which conversations.history leaves out), are
// answered once each, in their threads, after a reconnect without a
// restart.
func TestSlackCatchUpAfterReconnect(t *testing.T) {
	t.Parallel()
	fake := slacktest.New(t)
	a, g := catchingUp(t, fake, "", nil)
	root := fake.Mention("C1", "U1", "start a thread")
	fake.WaitPosted(t, 1, 60*time.Second)
	fake.GoOffline()
	fake.PostInThread("C1", root, "U1", "said in the thread while away")
	top := fake.Post("C1", "U2", "<@"+slacktest.BotUserID+"> said at the top while away")
	fake.GoOnline()
	answeredOnce(t, fake, g, map[string][]string{
		root: {"echo: start a thread", "echo: said in the thread while away"},
		top:  {"echo: said at the top while away"},
	})
	if r := a.Health().Reconnects; r < 1 {
		t.Fatalf("%d reconnects", r)
	}
	// A live message after the catch-up is answered once too.
	fake.ThreadReply("C1", root, "U1", "and now live", false)
	answeredOnce(t, fake, g, map[string][]string{
		root: {"echo: start a thread", "echo: said in the thread while away", "echo: and now live"},
		top:  {"echo: said at the top while away"},
	})
}

// The same across a restart of the process: what was posted while berth
// was down, at the top and in an active thread, is answered once each.
func TestSlackCatchUpAfterRestart(t *testing.T) {
	t.Parallel()
	fake := slacktest.New(t)
	_, g := catchingUp(t, fake, "", nil)
	root := fake.Mention("C1", "U1", "start a thread")
	fake.WaitPosted(t, 1, 60*time.Second)
	g.WaitIdle(30 * time.Second)
	g.Stop()
	fake.GoOffline() // the old socket is gone for sure
	fake.PostInThread("C1", root, "U1", "said in the thread while down")
	top := fake.Post("C1", "U2", "<@"+slacktest.BotUserID+"> said at the top while down")
	fake.GoOnline()
	_, g2 := catchingUp(t, fake, g.Home, nil)
	answeredOnce(t, fake, g2, map[string][]string{
		root: {"echo: start a thread", "echo: said in the thread while down"},
		top:  {"echo: said at the top while down"},
	})
}

// A deaf socket (open, pings answered, no events) while messages land in
// a wired channel is detected by the watchdog and replaced by exactly one
// new connection, and what it missed is answered once.
func TestSlackDeafSocketReplaced(t *testing.T) {
	t.Parallel()
	const deafAfter = 2 * time.Second
	fake := slacktest.New(t)
	a, g := catchingUp(t, fake, "", func(c *slack.Config) { c.DeafAfter = deafAfter })
	root := fake.Mention("C1", "U1", "start a thread")
	fake.WaitPosted(t, 1, 60*time.Second)
	opens := fake.Opens()
	lastHeard := a.Health().LastEvent
	fake.Deafen()
	fake.PostInThread("C1", root, "U1", "said in the thread, unheard")
	top := fake.Post("C1", "U2", "<@"+slacktest.BotUserID+"> said at the top, unheard")
	waitFor(t, 90*time.Second, func() string { return "no deaf reconnect" }, func() bool { return a.Health().DeafReconnects > 0 })
	t.Logf("deaf connection replaced %v after its last event (threshold %v)", time.Since(lastHeard).Round(10*time.Millisecond), deafAfter)
	answeredOnce(t, fake, g, map[string][]string{
		root: {"echo: start a thread", "echo: said in the thread, unheard"},
		top:  {"echo: said at the top, unheard"},
	})
	if n := fake.Opens() - opens; n != 1 {
		t.Fatalf("%d connections opened to replace the deaf one, want 1", n)
	}
	if h := a.Health(); h.DeafReconnects != 1 || !h.Connected || fake.LiveSockets() != 1 || fake.DeafSockets() != 0 {
		t.Fatalf("after the replacement: %+v, %d sockets, %d deaf", h, fake.LiveSockets(), fake.DeafSockets())
	}
}

// A 12-part reply goes out in order without one 429 from the fake, which
// allows one chat.postMessage a second per channel.
func TestSlackTwelvePartReplyNotThrottled(t *testing.T) {
	t.Parallel()
	fake, g := gateway(t)
	fake.DM("D1", "U1", "long 43000")
	fake.WaitPosted(t, 12, 120*time.Second)
	g.WaitIdle(30 * time.Second)
	posts := fake.Posted()
	if len(posts) != 12 {
		t.Fatalf("%d parts, want 12", len(posts))
	}
	if n := fake.Throttled(); n != 0 {
		t.Fatalf("%d posts answered 429 by the per-channel limit", n)
	}
	if !strings.HasPrefix(posts[0].Text, "The quick brown fox") {
		t.Fatalf("first part out of order: %.40q", posts[0].Text)
	}
	t.Logf("%d parts, 0 throttled", len(posts))
}

// testLog logs through t when BERTH_TEST_LOG is set (debugging), else nowhere.
func testLog(t *testing.T) *slog.Logger {
	if os.Getenv("BERTH_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
