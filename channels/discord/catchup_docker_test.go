package discord_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord"
	"github.com/berth-dev/berth/channels/discord/discordtest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// catchingUp starts the real gateway on home with the real adapter
// talking to fake, caught up as `berth` does (gatewaytest's Backfill: at
// start, and after every reconnect through the adapter's OnReconnect).
// C1 is wired on mention, a session per thread; D1 is a DM. The
// wirings are made once the gateway runs, so on a fresh home the
// start-up catch-up had nothing to do; a test wires them by hand, as a
// person does with !register, and the next reconnect or restart sees
// them.
func catchingUp(t *testing.T, fake *discordtest.Server, home string, deafAfter time.Duration) (*discord.Adapter, *gatewaytest.Gateway) {
	t.Helper()
	a, err := discord.New(discord.Config{Token: "e2e-token", APIURL: fake.APIURL(), DeafAfter: deafAfter}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{a}, Backfill: true})
	g.Wire("discord", "C1", gatewaytest.Wire{Engage: data.EngageMention, SessionMode: data.SessionPerThread})
	g.Wire("discord", "D1", gatewaytest.Wire{IsDM: true})
	return a, g
}

// answers maps each message berth answered to the channels (a thread is
// one) its replies went to, in order.
func answers(fake *discordtest.Server) map[string][]string {
	got := map[string][]string{}
	for _, s := range fake.Sent() {
		got[s.ReplyTo] = append(got[s.ReplyTo], s.ChannelID)
	}
	return got
}

// answeredOnce fails unless each of want (message id -> its channel) was
// answered exactly once, in its channel or thread, and nothing else was
// sent beyond total.
func answeredOnce(t *testing.T, fake *discordtest.Server, total int, want map[string]string) {
	t.Helper()
	got := answers(fake)
	for id, ch := range want {
		if len(got[id]) != 1 || got[id][0] != ch {
			t.Fatalf("message %s answered in %v, want once in %s (all: %v)", id, got[id], ch, got)
		}
	}
	if n := len(fake.Sent()); n != total {
		t.Fatalf("%d messages sent, want %d: %v", n, total, got)
	}
}

// Messages posted in a channel and in an active thread while the gateway
// connection is down are answered, once each, in their channel and
// thread, once it is back: its resume is refused, discordgo identifies
// again, and that new session catches up, without a restart.
func TestDiscordCatchUpAfterReconnect(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	_, g := catchingUp(t, fake, t.TempDir(), -1)
	fake.ThreadCreate("T1", "C1", "G1")
	first := fake.Mention("T1", "G1", "200", "first in the thread")
	fake.WaitSent(t, 1, 60*time.Second)

	fake.GoDown()
	inChannel := fake.Mention("C1", "G1", "200", "missed in the channel")
	inThread := fake.Mention("T1", "G1", "201", "missed in the thread")
	fake.ComeUp()
	fake.WaitSent(t, 3, 90*time.Second)
	g.WaitIdle(60 * time.Second)
	if fake.InvalidSessions() < 1 || fake.Lost() != 2 {
		t.Fatalf("the gateway did not lose the session and the two dispatches: %d invalid sessions, %d lost", fake.InvalidSessions(), fake.Lost())
	}
	answeredOnce(t, fake, 3, map[string]string{first: "T1", inChannel: "C1", inThread: "T1"})
	// The new connection delivers as before.
	after := fake.Mention("C1", "G1", "200", "after the reconnect")
	fake.WaitSent(t, 4, 60*time.Second)
	g.WaitIdle(60 * time.Second)
	answeredOnce(t, fake, 4, map[string]string{after: "C1"})
}

// The same across a process restart: what was posted while berth was
// stopped, in the channel, in a thread berth has a session for and in a
// thread created meanwhile, is answered once each by the next berth.
func TestDiscordCatchUpAcrossRestart(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	home := t.TempDir()
	_, g := catchingUp(t, fake, home, -1)
	fake.ThreadCreate("T1", "C1", "G1")
	first := fake.Mention("T1", "G1", "200", "first in the thread")
	fake.WaitSent(t, 1, 60*time.Second)
	g.WaitIdle(60 * time.Second)
	g.Stop()

	fake.GoDown() // nobody listens: nothing is dispatched
	inChannel := fake.Mention("C1", "G1", "200", "missed in the channel")
	inThread := fake.Mention("T1", "G1", "201", "missed in the thread")
	fake.ThreadQuiet("T2", "C1", "G1")
	inNewThread := fake.Mention("T2", "G1", "202", "missed in a new thread")
	fake.ComeUp()

	_, g = catchingUp(t, fake, home, -1)
	fake.WaitSent(t, 4, 90*time.Second)
	g.WaitIdle(60 * time.Second)
	answeredOnce(t, fake, 4, map[string]string{first: "T1", inChannel: "C1", inThread: "T1", inNewThread: "T2"})
}

// A gateway connection that answers heartbeats but dispatches nothing,
// while C1 has a newer message, is replaced by exactly one connection,
// and the message it missed is answered.
func TestDiscordDeafGatewayReplaced(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	const deafAfter = 2 * time.Second
	a, g := catchingUp(t, fake, t.TempDir(), deafAfter)
	before := fake.Mention("C1", "G1", "200", "heard")
	fake.WaitSent(t, 1, 60*time.Second)
	g.WaitIdle(60 * time.Second)
	conns := fake.Connections()

	fake.Deafen()
	posted := time.Now()
	missed := fake.Mention("C1", "G1", "200", "said to a deaf gateway")
	fake.WaitSent(t, 2, 90*time.Second)
	t.Logf("answered %v after it was posted to a deaf connection (threshold %v)", time.Since(posted).Round(time.Millisecond), deafAfter)
	g.WaitIdle(60 * time.Second)
	answeredOnce(t, fake, 2, map[string]string{before: "C1", missed: "C1"})
	if h := a.Health(); h.DeafReconnects != 1 || fake.Connections() != conns+1 || fake.Lost() != 1 {
		t.Fatalf("health %+v, %d connections (was %d), %d lost: want one deaf reconnect, one new connection", h, fake.Connections(), conns, fake.Lost())
	}
	// The new connection hears; still one replacement.
	after := fake.Mention("C1", "G1", "200", "heard again")
	fake.WaitSent(t, 3, 60*time.Second)
	g.WaitIdle(60 * time.Second)
	answeredOnce(t, fake, 3, map[string]string{after: "C1"})
	if h := a.Health(); h.DeafReconnects != 1 || fake.Connections() != conns+1 {
		t.Fatalf("replaced again: health %+v, %d connections (was %d)", h, fake.Connections(), conns)
	}
}

// A 12-part reply, through a real container, is posted without a single
// 429 from a fake that limits each channel's posts as Discord does (5
// per 5 s, told in the rate-limit headers).
func TestDiscordTwelvePartReplyNeverRateLimited(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	_, g := catchingUp(t, fake, t.TempDir(), -1)
	fake.LimitRoute(5, 5*time.Second)
	id := fake.DM("D1", "200", "long 21000")
	sent := fake.WaitSent(t, 12, 120*time.Second)
	g.WaitIdle(60 * time.Second)
	if n := len(fake.Sent()); n != 12 || sent[0].ReplyTo != id {
		t.Fatalf("%d parts, the first replying to %q", n, sent[0].ReplyTo)
	}
	for i, s := range fake.Sent() {
		if s.ChannelID != "D1" {
			t.Fatalf("part %d went to %s", i+1, s.ChannelID)
		}
	}
	if n := fake.TooMany(); n != 0 {
		t.Fatalf("the fake answered %d 429s", n)
	}
}
