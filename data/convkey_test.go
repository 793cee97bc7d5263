package data

import (
	"context"
	"errors"
	"testing"

	"github.com/berth-dev/berth/channels"
)

func TestConversationKey(t *testing.T) {
	channel := MessagingGroup{ID: "mg-c", ChannelType: "slack", PlatformID: "C1"}
	dm := MessagingGroup{ID: "mg-d", ChannelType: "slack", PlatformID: "D1", IsDM: true}
	parent := MessagingGroup{ID: "mg-p", ChannelType: "discord", PlatformID: "P1"}
	messages := []struct {
		name string
		in   channels.Inbound
		mg   MessagingGroup
		conv Conversation
	}{
		{"channel message", channels.Inbound{PlatformID: "C1", MessageID: "m1"}, channel, Conversation{"C1", ""}},
		{"thread reply", channels.Inbound{PlatformID: "C1", ThreadID: "t1", MessageID: "m2"}, channel, Conversation{"C1", "t1"}},
		{"dm", channels.Inbound{PlatformID: "D1", MessageID: "m3", IsDM: true}, dm, Conversation{"D1", ""}},
		{"dm thread reply", channels.Inbound{PlatformID: "D1", ThreadID: "t2", MessageID: "m4", IsDM: true}, dm, Conversation{"D1", "t2"}},
		{"discord thread", channels.Inbound{PlatformID: "T1", ParentID: "P1", MessageID: "m5"}, parent, Conversation{"P1", "T1"}},
	}
	// want is the thread of the session each message belongs to, and
	// whether the message opens it, per mode.
	type want struct {
		thread string
		opens  bool
	}
	wants := map[SessionMode]map[string]want{
		SessionShared: {
			"channel message": {}, "thread reply": {}, "dm": {}, "dm thread reply": {}, "discord thread": {},
		},
		SessionAgentShared: {
			"channel message": {}, "thread reply": {}, "dm": {}, "dm thread reply": {}, "discord thread": {},
		},
		SessionPerThread: {
			"channel message": {"m1", true}, // a top-level message opens its own thread
			"thread reply":    {"t1", false},
			"dm":              {"", false}, // a DM is one conversation
			"dm thread reply": {"t2", false},
			"discord thread":  {"T1", false},
		},
	}
	for mode, byMessage := range wants {
		for _, m := range messages {
			t.Run(string(mode)+"/"+m.name, func(t *testing.T) {
				if got := ConversationOf(m.in); got != m.conv {
					t.Errorf("ConversationOf = %+v, want %+v", got, m.conv)
				}
				w := Wiring{AgentGroupID: "g1", MessagingGroupID: m.mg.ID, SessionMode: mode}
				got, err := ConversationKey(m.in, m.mg, w)
				if err != nil {
					t.Fatal(err)
				}
				wt := byMessage[m.name]
				want := SessionKey{AgentGroupID: "g1", MessagingGroupID: m.mg.ID, ThreadID: wt.thread, Mode: mode, Opens: wt.opens}
				if got != want {
					t.Errorf("key = %+v, want %+v", got, want)
				}
			})
		}
	}
	if _, err := ConversationKey(messages[0].in, channel, Wiring{AgentGroupID: "g1", SessionMode: "bogus"}); err == nil {
		t.Error("unknown session mode accepted")
	}
}

// A reply in the thread a top-level message opened, and a redelivery of
// that message, find the session the message created; the lookup that
// does not create agrees with the one that does.
func TestConversationKeySessions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "a", Folder: "a"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	c1, err := s.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.EnsureMessagingGroup(ctx, "slack", "C2", "", false)
	if err != nil {
		t.Fatal(err)
	}
	top := channels.Inbound{ChannelType: "slack", PlatformID: "C1", MessageID: "100.1"}
	reply := channels.Inbound{ChannelType: "slack", PlatformID: "C1", ThreadID: "100.1", MessageID: "100.2"}
	other := channels.Inbound{ChannelType: "slack", PlatformID: "C1", MessageID: "200.1"}
	elsewhere := channels.Inbound{ChannelType: "slack", PlatformID: "C2", MessageID: "300.1"}
	tests := []struct {
		mode      SessionMode
		same      []channels.Inbound // in the session top creates
		different []channels.Inbound
	}{
		{SessionPerThread, []channels.Inbound{top, reply}, []channels.Inbound{other, elsewhere}},
		{SessionShared, []channels.Inbound{top, reply, other}, []channels.Inbound{elsewhere}},
		{SessionAgentShared, []channels.Inbound{top, reply, other, elsewhere}, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			w := Wiring{AgentGroupID: g.ID, SessionMode: tt.mode}
			key := func(in channels.Inbound) SessionKey {
				t.Helper()
				mg := c1
				if in.PlatformID == c2.PlatformID {
					mg = c2
				}
				k, err := ConversationKey(in, mg, w)
				if err != nil {
					t.Fatal(err)
				}
				return k
			}
			first, created, err := s.ResolveSession(ctx, key(top))
			if err != nil || !created {
				t.Fatalf("resolve: %v created=%v", err, created)
			}
			t.Cleanup(func() {
				if err := s.CloseSession(ctx, first.ID); err != nil {
					t.Error(err)
				}
			})
			for _, in := range tt.same {
				found, err := s.KeyedSession(ctx, key(in))
				if err != nil || found.ID != first.ID {
					t.Errorf("%s: found %s, %v; want %s", in.MessageID, found.ID, err, first.ID)
				}
			}
			for _, in := range tt.different {
				if found, err := s.KeyedSession(ctx, key(in)); !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: found %s, %v; want none", in.MessageID, found.ID, err)
				}
			}
		})
	}
}
