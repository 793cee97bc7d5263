package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// from is a message mentioning the bot in the fake channel "room" (not a
// DM) from the fake user id.
func from(id, text string) channels.Inbound {
	in := msg(text)
	in.Sender = channels.User{ID: id, Name: "User " + id}
	in.IsDM = false
	return in
}

// waitText waits for a reply containing want.
func waitText(t *testing.T, ch *fakeChannel, want string, timeout time.Duration) channels.Outbound {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, o := range ch.Sent() {
			if strings.Contains(o.Text, want) {
				return o
			}
		}
		select {
		case <-ch.ready:
		case <-deadline:
			t.Fatalf("no reply containing %q after %v; got %+v", want, timeout, ch.Sent())
		}
	}
}

// countSent counts replies containing want.
func countSent(ch *fakeChannel, want string) int {
	n := 0
	for _, o := range ch.Sent() {
		if strings.Contains(o.Text, want) {
			n++
		}
	}
	return n
}

// countDropped counts dropped messages whose reason contains reason.
func countDropped(g *gatewaytest.Gateway, reason string) int {
	n := 0
	for _, d := range g.Dropped() {
		if strings.Contains(d.Reason, reason) {
			n++
		}
	}
	return n
}

func grant(t *testing.T, g *gatewaytest.Gateway, user string, role data.RoleName, group string) {
	t.Helper()
	ctx := context.Background()
	gid := ""
	if group != "" {
		ag, err := g.Store.Group(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		gid = ag.ID
	}
	if err := g.Store.EnsureUser(ctx, user, ""); err != nil {
		t.Fatal(err)
	}
	if err := g.Store.Grant(ctx, data.Role{UserID: user, Role: role, GroupID: gid}); err != nil {
		t.Fatal(err)
	}
}

// TestMembersWiringRefusesStrangers is the red-team run: 20 users with no
// role mention the bot in a channel wired per thread (each mention would
// be its own session). With the default access (members) none of them
// reaches an agent: no session, no container, every message recorded as
// dropped, and each sender hinted once, not once per message. A member in
// the same channel is answered, and a DM wiring follows the same policy.
// On the code before access existed all 20 got a container.
func TestMembersWiringRefusesStrangers(t *testing.T) {
	t.Parallel()
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}})
	g.Wire("fake", "room", gatewaytest.Wire{Engage: data.EngageMention, SessionMode: data.SessionPerThread, Access: data.AccessMembers})
	const users = 20
	for round := 0; round < 2; round++ {
		for i := 0; i < users; i++ {
			handle(t, g, from(fmt.Sprintf("u%02d", i), fmt.Sprintf("run something %d.%d", round, i)))
		}
	}
	time.Sleep(2 * time.Second) // a container would be starting by now
	if ss := g.Sessions(); len(ss) != 0 {
		t.Errorf("%d sessions for senders with no role, want 0", len(ss))
	}
	if cs := g.Containers(""); len(cs) != 0 {
		t.Errorf("%d containers for senders with no role, want 0", len(cs))
	}
	if n := countDropped(g, "sender has no role in group main"); n != 2*users {
		t.Errorf("%d dropped rows, want %d: %+v", n, 2*users, g.Dropped())
	}
	if n := countSent(ch, "only members of agent group main"); n != users {
		t.Errorf("%d hints, want %d (one per sender per hour): %+v", n, users, ch.Sent())
	}
	if n := countSent(ch, "echo:"); n != 0 {
		t.Errorf("an agent answered a sender with no role")
	}

	// A member of the group is answered in the same channel.
	grant(t, g, "fake:ann", data.RoleMember, "main")
	handle(t, g, from("ann", "a member asks"))
	waitText(t, ch, "echo: a member asks", 60*time.Second)
	if ss := g.Sessions(); len(ss) != 1 {
		t.Errorf("sessions after the member: %+v", ss)
	}

	// DMs follow the same policy.
	g.Wire("fake", "dm-stranger", gatewaytest.Wire{IsDM: true, Access: data.AccessMembers})
	in := from("stranger", "hello in a DM")
	in.PlatformID, in.IsDM = "dm-stranger", true
	handle(t, g, in)
	if n := countSent(ch, "only members of agent group main"); n != users+1 {
		t.Errorf("the DM stranger got no hint: %d hints", n)
	}
	if ss := g.Sessions(); len(ss) != 1 {
		t.Errorf("a DM from a stranger made a session: %+v", ss)
	}
}

// TestApprovalHoldsThenAllow: an unknown sender's messages to an approval
// wiring are held (durably: the gateway restarts in between), a group
// admin is asked in the conversation, and once the admin answers !allow
// the held messages are answered. A denied sender's messages are dropped
// and the sender told once.
func TestApprovalHoldsThenAllow(t *testing.T) {
	t.Parallel()
	ch := newFakeChannel()
	commands := func(g *gatewaytest.Gateway) session.Commands {
		return groups.NewCommands(g.Store, g.Layout, g.Manager, nil)
	}
	cfg := func(c *session.Config) { c.SenderRate = 10 }
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Commands: commands, Config: cfg})
	g.Wire("fake", "room", gatewaytest.Wire{Engage: data.EngageMention, Access: data.AccessApproval})
	grant(t, g, "fake:boss", data.RoleOwner, "")

	handle(t, g, from("u9", "hello from u9"))
	handle(t, g, from("u9", "still there?"))
	asked := waitText(t, ch, "message is held until a group admin answers !allow fake:u9 or !deny fake:u9", 10*time.Second)
	if asked.PlatformID != "room" {
		t.Errorf("the admin was asked elsewhere: %+v", asked)
	}
	if n := countSent(ch, "is held"); n != 1 {
		t.Errorf("%d held notices, want 1", n)
	}
	// DMs follow the same policy; no admin is in a DM, so the sender is
	// told to wait and the admins find it with !held in the group's channel.
	g.Wire("fake", "dm-u9", gatewaytest.Wire{IsDM: true, Access: data.AccessApproval})
	dm := from("u9", "from the dm")
	dm.PlatformID, dm.IsDM = "dm-u9", true
	handle(t, g, dm)
	if o := waitText(t, ch, "your message is held until an admin of it allows you", 10*time.Second); o.PlatformID != "dm-u9" {
		t.Errorf("the DM notice went to %+v", o)
	}
	held, err := g.Store.HeldMessages(context.Background(), data.HeldFilter{SenderID: "fake:u9"})
	if err != nil || len(held) != 3 {
		t.Fatalf("held = %+v, %v", held, err)
	}
	if ss, cs := g.Sessions(), g.Containers(""); len(ss) != 0 || len(cs) != 0 {
		t.Fatalf("a held message started work: sessions %+v, containers %+v", ss, cs)
	}

	// Held means stored: a restart keeps it.
	home := g.Home
	g.Stop()
	g = gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Commands: commands, Config: cfg, Home: home})

	// Only a group admin may allow.
	handle(t, g, from("u8", "!allow fake:u9"))
	waitText(t, ch, "!allow needs the admin role", 10*time.Second)
	handle(t, g, from("boss", "!held"))
	waitText(t, ch, `User u9 (fake:u9) for main: 3 message(s), the first "hello from u9" (some in 1 other conversation(s))`, 10*time.Second)
	handle(t, g, from("boss", "!allow fake:u9"))
	waitText(t, ch, "is now member of main; 3 held message(s) passed on", 10*time.Second)
	for want, where := range map[string]string{"echo: hello from u9": "room", "echo: still there?": "room", "echo: from the dm": "dm-u9"} {
		if o := waitText(t, ch, want, 60*time.Second); o.PlatformID != where {
			t.Errorf("%q went to %+v, want %s", want, o, where)
		}
	}
	if left, _ := g.Store.HeldMessages(context.Background(), data.HeldFilter{}); len(left) != 0 {
		t.Errorf("still held after !allow: %+v", left)
	}
	// Now a member, u9 is answered directly.
	handle(t, g, from("u9", "and now?"))
	waitText(t, ch, "echo: and now?", 60*time.Second)

	// !deny drops what is held and tells the sender once; later messages
	// are dropped without asking again.
	handle(t, g, from("u7", "me too"))
	waitText(t, ch, "!allow fake:u7", 10*time.Second)
	handle(t, g, from("boss", "!deny fake:u7"))
	waitText(t, ch, "an admin declined to pass your messages on", 10*time.Second)
	handle(t, g, from("u7", "please?"))
	if n := countDropped(g, "sender denied by an admin of group main"); n != 2 {
		t.Errorf("%d denied drops, want 2 (the held one and the next): %+v", n, g.Dropped())
	}
	if n := countSent(ch, "fake:u7"); n != 2 {
		t.Errorf("%d notices naming u7, want 2 (the ask and the denial): %+v", n, ch.Sent())
	}
	if n := countSent(ch, "echo: me too") + countSent(ch, "echo: please?"); n != 0 {
		t.Error("a denied sender was answered")
	}
}

// TestOpenWiringAnswersEveryoneUnderTheDefaultCap: an open wiring answers
// senders with no role; with no cap configured the host-sized default
// holds (memory sized so that it is 2); and a sender with no role is
// rate limited (burst 5), told once, the excess recorded, while a member
// is not.
func TestOpenWiringAnswersEveryoneUnderTheDefaultCap(t *testing.T) {
	t.Parallel()
	obs := &runningObserver{Observer: nopObs{}}
	// Containers so big (as limits) that two fill the host's memory: the
	// default cap is then 2 (1 on a host under 2 GiB).
	memory := int64(1 << 30)
	for session.DefaultMaxRunning(memory) > 2 {
		memory += 1 << 30
	}
	wantCap := session.DefaultMaxRunning(memory)
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.Memory = memory
		c.SenderRate, c.SenderBurst = 10, 5
		c.IdleTimeout = 500 * time.Millisecond
		c.Observer = obs
	}})
	g.Wire("fake", "room", gatewaytest.Wire{Engage: data.EngageMention, SessionMode: data.SessionPerThread, Access: data.AccessOpen})
	const users = 5
	for i := 0; i < users; i++ {
		handle(t, g, from(fmt.Sprintf("s%d", i), fmt.Sprintf("open to s%d", i)))
	}
	for i := 0; i < users; i++ {
		waitText(t, ch, fmt.Sprintf("echo: open to s%d", i), 2*time.Minute)
	}
	if m := obs.Max(); m > wantCap || m < 1 {
		t.Errorf("at most %d containers ran at once, want the default cap %d", m, wantCap)
	}

	// One sender with no role, 8 messages at once: 5 pass, 3 are dropped.
	g.Wire("fake", "flood", gatewaytest.Wire{Engage: data.EngageMention, Access: data.AccessOpen})
	for i := 0; i < 8; i++ {
		in := from("flooder", fmt.Sprintf("burst %d", i))
		in.PlatformID = "flood"
		handle(t, g, in)
	}
	if n := countDropped(g, "rate limited"); n != 3 {
		t.Errorf("%d rate-limited drops, want 3", n)
	}
	if n := countSent(ch, "you are sending faster than 10 messages a minute"); n != 1 {
		t.Errorf("%d rate notices, want 1 per window", n)
	}
	// A member is not limited.
	grant(t, g, "fake:ann", data.RoleMember, "main")
	for i := 0; i < 8; i++ {
		in := from("ann", fmt.Sprintf("member %d", i))
		in.PlatformID = "flood"
		handle(t, g, in)
	}
	if n := countDropped(g, "rate limited"); n != 3 {
		t.Errorf("a member was rate limited: %d drops", n)
	}
	for i := 0; i < 5; i++ {
		waitText(t, ch, fmt.Sprintf("echo: burst %d", i), 2*time.Minute)
	}
	waitText(t, ch, "echo: member 7", 2*time.Minute)
	if n := countSent(ch, "echo: burst 5") + countSent(ch, "echo: burst 7"); n != 0 {
		t.Error("a rate-limited message was answered")
	}
}

// TestFailingWiringDoesNotBlockOthers: two groups share a conversation.
// The agent of one replaces its out/outbound.db with garbage, from inside
// its container, so storing a message for its session fails. The other
// group still gets and answers the message; the sender hears which group
// did not take it; the error makes the platform redeliver, and the
// redelivery is not answered twice.
func TestFailingWiringDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}})
	g.Wire("fake", "room", gatewaytest.Wire{Group: "alpha"})
	g.Wire("fake", "room", gatewaytest.Wire{Group: "beta"})
	handle(t, g, from("u1", "one"))
	ch.waitSent(t, 2, 60*time.Second)
	var alpha data.Session
	for _, s := range g.Sessions() {
		if ag, _ := g.Store.Group(context.Background(), s.AgentGroupID); ag.Folder == "alpha" {
			alpha = s
		}
	}
	if alpha.ID == "" {
		t.Fatalf("no session of alpha: %+v", g.Sessions())
	}
	// The attack, as the agent: garbage where berth reads its replies.
	if out, err := g.Exec(alpha.ID, "rm -f /workspace/out/outbound.db*; head -c 8192 /dev/urandom > /workspace/out/outbound.db; ls -l /workspace/out"); err != nil {
		t.Fatalf("exec: %v: %s", err, out)
	}
	// The message is stored for both groups (storing never depends on
	// the agent's file): beta answers, alpha's sender is told alpha could
	// not answer, and alpha recovers with a fresh file.
	handle(t, g, from("u1", "two"))
	waitText(t, ch, "echo: two", 60*time.Second)
	waitText(t, ch, "reply database was refused", 60*time.Second)
	handle(t, g, from("u1", "three"))
	for deadline := time.Now().Add(60 * time.Second); countSent(ch, "echo: three") < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("both groups did not answer after the attack: %+v", ch.Sent())
		}
	}
}

// TestCapYieldsIdleSlot: with the cap full of idle containers (the idle
// timeout is long), a session waiting for a slot is served in seconds,
// not after the idle timeout: an idle container yields its slot.
func TestCapYieldsIdleSlot(t *testing.T) {
	t.Parallel()
	ch := newFakeChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.MaxRunning = 1
		c.IdleTimeout = 10 * time.Minute
	}})
	for _, room := range []string{"first", "second"} {
		g.Wire("fake", room, gatewaytest.Wire{IsDM: true})
	}
	in := msg("to the first")
	in.PlatformID = "first"
	handle(t, g, in)
	waitText(t, ch, "echo: to the first", 60*time.Second)
	began := time.Now()
	in = msg("to the second")
	in.PlatformID = "second"
	handle(t, g, in)
	waitText(t, ch, "echo: to the second", 60*time.Second)
	t.Logf("the waiting session was served after %v", time.Since(began).Round(100*time.Millisecond))
}
