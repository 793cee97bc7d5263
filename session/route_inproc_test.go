package session_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// post is a message in a channel (not a DM) of the fake platform.
func post(room, thread, text string, mentioned bool) channels.Inbound {
	in := msg(text)
	in.PlatformID, in.ThreadID, in.Mentioned, in.IsDM = room, thread, mentioned, false
	return in
}

// reply is what a test expects a platform to have been sent.
type reply struct{ room, thread, text string }

func TestRouteInProcess(t *testing.T) {
	t.Parallel()
	type wiring struct {
		room string
		w    gatewaytest.Wire
	}
	pattern := func(p string) gatewaytest.Wire { return gatewaytest.Wire{Engage: data.EngagePattern, Pattern: p} }
	redelivered := post("room", "", "once", false)
	tests := []struct {
		name     string
		wirings  []wiring
		posts    []channels.Inbound
		want     []reply
		sessions int
		dropped  []string // reasons
	}{{
		name:     "a pattern engages what matches",
		wirings:  []wiring{{"room", pattern("^hey")}},
		posts:    []channels.Inbound{post("room", "", "hey one", false), post("room", "", "not me", true)},
		want:     []reply{{"room", "", "echo: hey one"}},
		sessions: 1,
		dropped:  []string{"trigger not matched"},
	}, {
		name:     "mention engages a mention only",
		wirings:  []wiring{{"room", gatewaytest.Wire{Engage: data.EngageMention}}},
		posts:    []channels.Inbound{post("room", "", "chatter", false), post("room", "", "you", true)},
		want:     []reply{{"room", "", "echo: you"}},
		sessions: 1,
		dropped:  []string{"trigger not matched"},
	}, {
		name:    "mention-sticky follows the thread a mention began",
		wirings: []wiring{{"room", gatewaytest.Wire{Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread}}},
		posts: []channels.Inbound{post("room", "t1", "start", true), post("room", "t1", "more", false),
			post("room", "t2", "elsewhere", false)},
		want:     []reply{{"room", "t1", "echo: start"}, {"room", "t1", "echo: more"}},
		sessions: 1,
		dropped:  []string{"trigger not matched"},
	}, {
		name:     "shared: one session for the channel's threads",
		wirings:  []wiring{{"room", pattern(".")}},
		posts:    []channels.Inbound{post("room", "t1", "a", false), post("room", "t2", "b", false)},
		want:     []reply{{"room", "t1", "echo: a"}, {"room", "t2", "echo: b"}},
		sessions: 1,
	}, {
		name:    "per-thread: one session per thread",
		wirings: []wiring{{"room", gatewaytest.Wire{Engage: data.EngagePattern, Pattern: ".", SessionMode: data.SessionPerThread}}},
		posts: []channels.Inbound{post("room", "t1", "a", false), post("room", "t2", "b", false),
			post("room", "t1", "c", false)},
		want:     []reply{{"room", "t1", "echo: a"}, {"room", "t2", "echo: b"}, {"room", "t1", "echo: c"}},
		sessions: 2,
	}, {
		name: "agent-shared: one session for the group's channels, each answered where it asked",
		wirings: []wiring{
			{"room", gatewaytest.Wire{Engage: data.EngagePattern, Pattern: ".", SessionMode: data.SessionAgentShared}},
			{"hall", gatewaytest.Wire{Engage: data.EngagePattern, Pattern: ".", SessionMode: data.SessionAgentShared}}},
		posts:    []channels.Inbound{post("room", "", "a", false), post("hall", "", "b", false)},
		want:     []reply{{"room", "", "echo: a"}, {"hall", "", "echo: b"}},
		sessions: 1,
	}, {
		name:     "two wirings of a channel: a session each",
		wirings:  []wiring{{"room", pattern(".")}, {"room", gatewaytest.Wire{Group: "other", Engage: data.EngagePattern, Pattern: "."}}},
		posts:    []channels.Inbound{post("room", "", "both", false)},
		want:     []reply{{"room", "", "echo: both"}, {"room", "", "echo: both"}},
		sessions: 2,
	}, {
		name:     "a redelivery is stored and answered once",
		wirings:  []wiring{{"room", pattern(".")}},
		posts:    []channels.Inbound{redelivered, redelivered},
		want:     []reply{{"room", "", "echo: once"}},
		sessions: 1,
	}, {
		name:    "an unwired channel is told how to wire it",
		wirings: []wiring{{"room", pattern(".")}},
		posts:   []channels.Inbound{post("nowhere", "", "hello?", true)},
		want:    []reply{{"nowhere", "", "This channel is not registered with berth; an admin can run !register <name>."}},
		dropped: []string{"unwired channel"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := newRuntime(t)
			ch := newFakeChannel()
			g := startInProc(t, rt, ch, "", nil)
			for _, w := range tt.wirings {
				g.Wire("fake", w.room, w.w)
			}
			for _, in := range tt.posts {
				handle(t, g, in)
			}
			g.WaitIdle(inProcTimeout)
			var got []reply
			for _, o := range ch.Sent() {
				got = append(got, reply{o.PlatformID, o.ThreadID, o.Text})
			}
			cmpReply := func(a, b reply) int {
				return strings.Compare(a.room+"\x00"+a.thread+"\x00"+a.text, b.room+"\x00"+b.thread+"\x00"+b.text)
			}
			slices.SortFunc(got, cmpReply)
			want := slices.SortedFunc(slices.Values(tt.want), cmpReply)
			if !slices.Equal(got, want) {
				t.Errorf("replies = %q, want %q", got, want)
			}
			if n := len(g.Sessions()); n != tt.sessions {
				t.Errorf("%d sessions, want %d", n, tt.sessions)
			}
			var dropped []string
			for _, d := range g.Dropped() {
				dropped = append(dropped, d.Reason)
			}
			slices.Sort(dropped)
			if !slices.Equal(dropped, tt.dropped) {
				t.Errorf("dropped %q, want %q", dropped, tt.dropped)
			}
			if tt.sessions == 1 {
				ins := map[string]int{}
				for _, in := range tt.posts {
					ins[in.MessageID]++
				}
				if n := inboundRows(t, g, "messages_in", "1=1"); n > len(ins) {
					t.Errorf("%d rows in inbound.db for %d distinct messages", n, len(ins))
				}
			}
		})
	}
}
