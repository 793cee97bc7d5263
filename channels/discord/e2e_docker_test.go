package discord_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord"
	"github.com/berth-dev/berth/channels/discord/discordtest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// gateway starts the real gateway with the real Discord adapter talking
// to a fake Discord: channel C1 wired on mention, per thread, and a DM D1.
func gateway(t *testing.T) (*discordtest.Server, *gatewaytest.Gateway) {
	t.Helper()
	return gatewayWith(t, nil)
}

// gatewayWith is gateway with the session manager's configuration adjusted.
func gatewayWith(t *testing.T, cfg func(*session.Config)) (*discordtest.Server, *gatewaytest.Gateway) {
	t.Helper()
	fake := discordtest.New(t)
	a, err := discord.New(discord.Config{Token: "e2e-token", APIURL: fake.APIURL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{a}, Config: cfg})
	g.Wire("discord", "C1", gatewaytest.Wire{Engage: data.EngageMention, SessionMode: data.SessionPerThread})
	g.Wire("discord", "D1", gatewaytest.Wire{IsDM: true})
	return fake, g
}

func TestDiscordConversation(t *testing.T) {
	t.Parallel()
	fake, g := gateway(t)
	id := fake.Mention("C1", "G1", "200", "hello")
	sent := fake.WaitSent(t, 1, 60*time.Second)
	if sent[0].Content != "echo: hello" || sent[0].ChannelID != "C1" || sent[0].ReplyTo != id {
		t.Fatalf("reply = %+v", sent[0])
	}
	// Without a mention in a mention wiring: no reply, recorded as dropped.
	quiet := fake.Message("C1", "G1", "200", "not for the bot")
	fake.DM("D1", "200", "direct")
	sent = fake.WaitSent(t, 2, 60*time.Second)
	if sent[1].ChannelID != "D1" || sent[1].Content != "echo: direct" {
		t.Fatalf("dm reply = %+v", sent[1])
	}
	dropped := false
	for _, d := range g.Dropped() {
		if d.MessageID == quiet && d.Reason == "trigger not matched" {
			dropped = true
		}
	}
	if !dropped {
		t.Fatalf("unmentioned message not recorded as dropped: %+v", g.Dropped())
	}
	// A thread under C1 is routed by C1's wiring and is its own session.
	fake.ThreadCreate("T1", "C1", "G1")
	fake.Mention("T1", "G1", "200", "in the thread")
	sent = fake.WaitSent(t, 3, 60*time.Second)
	if sent[2].ChannelID != "T1" || sent[2].Content != "echo: in the thread" {
		t.Fatalf("thread reply = %+v", sent[2])
	}
	threads := map[string]bool{}
	for _, s := range g.Sessions() {
		threads[s.ThreadID] = true
	}
	if !threads["T1"] || len(g.Sessions()) != 3 {
		t.Fatalf("sessions = %+v", g.Sessions())
	}
	if len(fake.Typing()) == 0 {
		t.Fatal("no typing indicator while the agent worked")
	}
	g.WaitIdle(30 * time.Second)
	if n := len(fake.Sent()); n != 3 {
		t.Fatalf("%d messages sent, want 3", n)
	}
}

func TestDiscordLongReplyRateLimitAndReconnect(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	fake.RateLimitNext(1, 0.5)
	fake.DM("D1", "200", "long 5000")
	sent := fake.WaitSent(t, 3, 90*time.Second)
	total := 0
	for _, s := range sent {
		if n := utf8.RuneCountInString(s.Content); n > discord.MaxChars {
			t.Fatalf("a message of %d characters", n)
		}
		if strings.Count(s.Content, "```")%2 != 0 {
			t.Fatalf("unbalanced fences in %.80q", s.Content)
		}
		total += utf8.RuneCountInString(s.Content)
	}
	if total < 4900 || !strings.HasPrefix(sent[0].Content, "The quick brown fox") {
		t.Fatalf("%d characters, first %.30q", total, sent[0].Content)
	}
	// A gateway reconnect (op 7) mid-conversation loses nothing.
	n := len(sent)
	fake.DM("D1", "200", "sleep 1s during")
	fake.Reconnect()
	fake.DM("D1", "200", "after")
	sent = fake.WaitSent(t, n+2, 60*time.Second)
	got := map[string]bool{}
	for _, s := range sent[n:] {
		got[s.Content] = true
	}
	if !got["echo: during"] || !got["echo: after"] {
		t.Fatalf("after reconnect: %v", got)
	}
}

// An agent's reply naming @everyone, @here, a role and a user pings
// nobody: the echo provider in a real container says them back.
func TestDiscordAgentMentionsDoNotPing(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	fake.DM("D1", "200", "@everyone @here <@&555> <@300>")
	s := fake.WaitSent(t, 1, 60*time.Second)[0]
	if !strings.Contains(s.Content, "@everyone @here") {
		t.Fatalf("reply %q", s.Content)
	}
	am := s.AllowedMentions
	if am == nil || am.Parse == nil || len(am.Parse) != 0 || len(am.Users) != 0 || len(am.Roles) != 0 || am.RepliedUser {
		t.Fatalf("reply %q allows mentions %+v", s.Content, am)
	}
	// Another conversation keeps answering.
	fake.Mention("C1", "G1", "201", "still here")
	if got := fake.WaitSent(t, 2, 60*time.Second)[1]; got.Content != "echo: still here" {
		t.Fatalf("other conversation got %+v", got)
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
// message in a second conversation is shown queued (⏳, no typing) until
// it gets the slot, then worked on (👀, typing) and answered (✅).
func TestDiscordQueuedBehindTheCap(t *testing.T) {
	t.Parallel()
	fake, _ := gatewayWith(t, func(c *session.Config) {
		c.MaxRunning = 1
		c.IdleTimeout = time.Second // the first conversation makes room soon after its answer
	})
	const (
		queued, starting, working, done = "\u23f3", "\u2699\ufe0f", "\U0001f440", "\u2705"
	)
	first := fake.DM("D1", "200", "sleep 4s holding the slot")
	has := func(r string) bool { return slices.Contains(fake.Reactions(), r) }
	state := func() string { return fmt.Sprintf("reactions %q, typing in %q", fake.Reactions(), fake.Typing()) }
	waitFor(t, 60*time.Second, state, func() bool { return has("add " + working + " " + first) })
	second := fake.Mention("C1", "G1", "201", "waited my turn")
	waitFor(t, 30*time.Second, state, func() bool { return has("add " + queued + " " + second) })
	if has("add "+working+" "+second) || slices.Contains(fake.Typing(), "C1") {
		t.Fatalf("the second message was worked on while the first held the only slot: %s", state())
	}
	sent := fake.WaitSent(t, 2, 90*time.Second)
	if sent[1].ChannelID != "C1" || sent[1].Content != "echo: waited my turn" {
		t.Fatalf("second reply %+v", sent[1])
	}
	waitFor(t, 30*time.Second, state, func() bool { return has("remove " + working + " " + second) })
	if !slices.Contains(fake.Typing(), "C1") {
		t.Fatalf("no typing while the second message was worked on: %s", state())
	}
	// In order: queued, (starting, if the boot was slow,) working, done;
	// each reaction replaced by the next.
	var mine []string
	for _, r := range fake.Reactions() {
		if strings.HasSuffix(r, " "+second) && !strings.Contains(r, " "+starting+" ") {
			mine = append(mine, strings.TrimSuffix(r, " "+second))
		}
	}
	want := []string{"add " + queued, "add " + working, "remove " + queued, "add " + done, "remove " + working}
	if has("add " + starting + " " + second) { // a slow boot: ⚙️ came between ⏳ and 👀 (and is left out above)
		want = []string{"add " + queued, "remove " + queued, "add " + working, "add " + done, "remove " + working}
	}
	if !slices.Equal(mine, want) {
		t.Fatalf("the second message's reactions %q, want %q", mine, want)
	}
}
