package slack_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// gateway starts the real gateway with the real Slack adapter talking to
// a fake Slack, a channel C1 wired mention-sticky per-thread and a DM D1.
func gateway(t *testing.T) (*slacktest.Server, *gatewaytest.Gateway) {
	t.Helper()
	return gatewayWith(t, nil)
}

// gatewayWith is gateway with the session manager's configuration adjusted.
func gatewayWith(t *testing.T, cfg func(*session.Config)) (*slacktest.Server, *gatewaytest.Gateway) {
	t.Helper()
	fake := slacktest.New(t)
	a, err := slack.New(slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL(), PingTimeout: 3 * time.Second},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{a}, Config: cfg})
	g.Wire("slack", "C1", gatewaytest.Wire{Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread})
	g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	return fake, g
}

func replies(posts []slacktest.Post, thread string) []string {
	var out []string
	for _, p := range posts {
		if p.ThreadTS == thread {
			out = append(out, p.Text)
		}
	}
	return out
}

func TestSlackConversation(t *testing.T) {
	t.Parallel()
	fake, g := gateway(t)
	root := fake.Mention("C1", "U1", "hello")
	posts := fake.WaitPosted(t, 1, 60*time.Second)
	if posts[0].Text != "echo: hello" || posts[0].ThreadTS != root || posts[0].Channel != "C1" {
		t.Fatalf("reply = %+v", posts[0])
	}
	// A second message in the thread, without a mention, reaches the same session.
	fake.ThreadReply("C1", root, "U1", "and more", false)
	fake.WaitPosted(t, 2, 60*time.Second)
	// Another thread is another session.
	other := fake.Mention("C1", "U2", "second thread")
	posts = fake.WaitPosted(t, 3, 60*time.Second)
	if got := replies(posts, root); len(got) != 2 || got[1] != "echo: and more" {
		t.Fatalf("thread replies = %q", got)
	}
	if got := replies(posts, other); len(got) != 1 {
		t.Fatalf("second thread replies = %q", got)
	}
	if n := len(g.Sessions()); n != 2 {
		t.Fatalf("%d sessions for two threads", n)
	}
	// A DM gets a reply too.
	fake.DM("D1", "U1", "direct")
	posts = fake.WaitPosted(t, 4, 60*time.Second)
	if posts[3].Channel != "D1" || posts[3].Text != "echo: direct" {
		t.Fatalf("dm reply = %+v", posts[3])
	}
	// The user saw the work: 👀, then ✅.
	r := strings.Join(fake.Reactions(), ",")
	if !strings.Contains(r, "add eyes "+root) || !strings.Contains(r, "add white_check_mark "+root) {
		t.Fatalf("reactions = %s", r)
	}
}

func TestSlackRedeliveredOnce(t *testing.T) {
	t.Parallel()
	fake, g := gateway(t)
	ts := fake.NextTS()
	id := fake.Event(map[string]any{"type": "message", "channel": "D1", "user": "U1", "text": "only once", "ts": ts, "channel_type": "im"})
	fake.WaitPosted(t, 1, 60*time.Second)
	fake.Redeliver(id)
	fake.Redeliver(id)
	time.Sleep(500 * time.Millisecond)
	g.WaitIdle(30 * time.Second)
	if n := len(fake.Posted()); n != 1 {
		t.Fatalf("%d replies to a message delivered three times", n)
	}
}

func TestSlackLongReplyAndRateLimit(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	fake.RateLimitNext(1, 1)
	fake.DM("D1", "U1", "long 10000")
	posts := fake.WaitPosted(t, 3, 90*time.Second)
	total := 0
	for _, p := range posts {
		if n := utf8.RuneCountInString(p.Text); n > slack.MaxChars {
			t.Fatalf("a post of %d characters", n)
		}
		total += utf8.RuneCountInString(p.Text)
	}
	if total < 9000 {
		t.Fatalf("only %d characters arrived", total)
	}
	if !strings.HasPrefix(posts[0].Text, "The quick brown fox") {
		t.Fatalf("first part out of order: %.40q", posts[0].Text)
	}
}

func TestSlackDisconnectLosesNothing(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	fake.DM("D1", "U1", "sleep 1s before")
	fake.WaitPosted(t, 1, 60*time.Second)
	fake.DM("D1", "U1", "sleep 1s during")
	opens := fake.Opens()
	fake.Disconnect()
	deadline := time.Now().Add(20 * time.Second)
	for fake.Opens() == opens || fake.LiveSockets() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no reconnect after disconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fake.DM("D1", "U1", "after")
	posts := fake.WaitPosted(t, 3, 60*time.Second)
	got := map[string]bool{}
	for _, p := range posts {
		got[p.Text] = true
	}
	for _, want := range []string{"echo: before", "echo: during", "echo: after"} {
		if !got[want] {
			t.Fatalf("missing %q in %v", want, got)
		}
	}
}

// A send that times out although Slack took it is confirmed, not resent.
func TestSlackSendTimeoutNotDoubled(t *testing.T) {
	t.Parallel()
	fake := slacktest.New(t)
	a, err := slack.New(slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{a}, Config: func(c *session.Config) {
		c.SendTimeout = 500 * time.Millisecond
	}})
	g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	fake.SlowNext(1, 2*time.Second)
	fake.DM("D1", "U1", "timeout")
	fake.WaitPosted(t, 1, 60*time.Second)
	g.WaitIdle(30 * time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := len(fake.Posted()); n != 1 {
		t.Fatalf("%d posts after a send that timed out, want 1", n)
	}
}

// waitFor polls cond until it holds, failing after timeout with what.
func waitFor(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With --max-running 1 and one conversation's turn holding the slot, a
// message in a second conversation is shown queued (⏳ and, in its
// thread, the assistant status line "is queued (next in line)…") until
// it gets the slot, then worked on (👀) and answered (✅), the line
// cleared.
func TestSlackQueuedBehindTheCap(t *testing.T) {
	t.Parallel()
	fake, _ := gatewayWith(t, func(c *session.Config) {
		c.MaxRunning = 1
		c.IdleTimeout = time.Second // the first conversation makes room soon after its answer
	})
	fake.AllowAssistantStatus()
	first := fake.DM("D1", "U1", "sleep 4s holding the slot")
	has := func(r string) bool { return slices.Contains(fake.Reactions(), r) }
	reactions := func() string { return fmt.Sprintf("reactions %q, status lines %q", fake.Reactions(), fake.Statuses()) }
	waitFor(t, 60*time.Second, reactions, func() bool { return has("add eyes " + first) })
	root := fake.NextTS()
	second := fake.ThreadReply("C1", root, "U2", "waited my turn", true)
	waitFor(t, 30*time.Second, reactions, func() bool { return has("add hourglass_flowing_sand " + second) })
	if has("add eyes " + second) {
		t.Fatalf("the second message was worked on while the first held the only slot: %s", reactions())
	}
	posts := fake.WaitPosted(t, 2, 90*time.Second)
	if got := replies(posts, root); len(got) != 1 || got[0] != "echo: waited my turn" {
		t.Fatalf("replies in the second thread %q", got)
	}
	waitFor(t, 30*time.Second, reactions, func() bool {
		return has("remove eyes "+second) && slices.Contains(fake.Statuses(), "C1 "+root+" ")
	})
	// In order: queued, (starting, if the boot was slow,) working, done;
	// each reaction replaced by the next.
	var mine []string
	for _, r := range fake.Reactions() {
		if strings.HasSuffix(r, " "+second) && !strings.Contains(r, " gear ") {
			mine = append(mine, strings.TrimSuffix(r, " "+second))
		}
	}
	want := []string{"add hourglass_flowing_sand", "add eyes", "remove hourglass_flowing_sand", "add white_check_mark", "remove eyes"}
	if has("add gear " + second) { // a slow boot: ⚙️ came between ⏳ and 👀 (and is left out above)
		want = []string{"add hourglass_flowing_sand", "remove hourglass_flowing_sand", "add eyes", "add white_check_mark", "remove eyes"}
	}
	if !slices.Equal(mine, want) {
		t.Fatalf("the second message's reactions %q, want %q", mine, want)
	}
	var lines []string
	for _, l := range fake.Statuses() {
		if rest, ok := strings.CutPrefix(l, "C1 "+root+" "); ok && !strings.Contains(rest, "starting") {
			lines = append(lines, rest)
		}
	}
	if want := []string{"is queued (next in line)…", "is thinking…", ""}; !slices.Equal(lines, want) {
		t.Fatalf("status lines of the second thread %q, want %q", lines, want)
	}
}
