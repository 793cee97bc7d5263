package groups_test

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

func TestParseAccess(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want data.Access
		err  string
	}{
		{"members", data.AccessMembers, ""},
		{"open", data.AccessOpen, ""},
		{"approval", data.AccessApproval, ""},
		{"", "", "use members"},
		{"Open", "", "not known"},
		{"everyone", "", "open (anyone in the channel)"},
	} {
		got, err := groups.ParseAccess(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseAccess(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAccess(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestCommandsAccess drives --access, !allow, !deny and !held through the
// command handler, with a TEST-ONLY Sessions that records releases.
func TestCommandsAccess(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	u.say(bob, "room", false, "!help") // Bob is known
	access := func(room string) data.Access {
		t.Helper()
		mg, err := u.store.MessagingGroup(ctx, "terminal", room)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := u.store.Wirings(ctx, mg.ID)
		if err != nil || len(ws) != 1 {
			t.Fatalf("wirings of %s: %+v, %v", room, ws, err)
		}
		return ws[0].Access
	}
	steps := []struct{ who, text, want string }{
		{operator, "!register team --access approval", "access approval"},
		{operator, "!help", "--access members|open|approval"},
		{operator, "!help", "!allow <user> [<group>]"},
		{operator, "!held", "Nothing is held for this channel"},
		{bob, "!allow bob", "needs the admin role for group team"},
		{bob, "!held", "needs the admin role"},
		{operator, "!wire team --engage all", "Rewired this channel to agent group team (engage every message, sessions per-thread, access approval)"},
	}
	for _, st := range steps {
		if got := u.say(st.who, "room", false, st.text); !strings.Contains(got, st.want) {
			t.Fatalf("%s: %q: answer %q lacks %q", st.who, st.text, got, st.want)
		}
	}
	if a := access("room"); a != data.AccessApproval {
		t.Fatalf("access after a rewire without --access = %q, want approval kept", a)
	}
	g, err := u.store.Group(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	// Something held from Bob shows in !held and is dropped by !deny.
	if _, err := u.store.HoldMessage(ctx, data.Held{GroupID: g.ID, ChannelType: "terminal", PlatformID: "room", MessageID: "h1",
		SenderID: "terminal:bob", SenderName: "Bob", Text: "let me in", Inbound: "{}"}); err != nil {
		t.Fatal(err)
	}
	if got := u.say(operator, "room", false, "!held"); !strings.Contains(got, `Bob (terminal:bob) for team: 1 message(s), the first "let me in"`) {
		t.Fatalf("!held: %q", got)
	}
	if got := u.say(operator, "room", false, "!deny bob"); !strings.Contains(got, "may not talk to agent group team here; 1 held message(s) dropped") {
		t.Fatalf("!deny: %q", got)
	}
	if d, _ := u.store.Denied(ctx, g.ID, "terminal:bob"); !d {
		t.Fatal("bob not recorded as denied")
	}
	if hs, _ := u.store.HeldMessages(ctx, data.HeldFilter{}); len(hs) != 0 {
		t.Fatalf("held after !deny: %+v", hs)
	}
	dropped, _ := u.store.DroppedMessages(ctx, 10)
	if len(dropped) == 0 || dropped[0].MessageID != "h1" || !strings.Contains(dropped[0].Reason, "denied") {
		t.Fatalf("dropped after !deny: %+v", dropped)
	}
	// !allow makes Bob a member, forgets the denial, and releases what is held.
	if got := u.say(operator, "room", false, "!allow Bob team"); !strings.Contains(got, "Bob (terminal:bob) is now member of team") {
		t.Fatalf("!allow: %q", got)
	}
	if ok, _ := groups.Allowed(ctx, u.store, "terminal:bob", data.RoleMember, g.ID); !ok {
		t.Fatal("bob is not a member after !allow")
	}
	if d, _ := u.store.Denied(ctx, g.ID, "terminal:bob"); d {
		t.Fatal("bob still denied after !allow")
	}
	if want := g.ID + " terminal:bob"; len(u.stops.released) != 1 || u.stops.released[0] != want {
		t.Fatalf("released = %q, want [%q]", u.stops.released, want)
	}
	// --access on !wire changes it; a DM register can be open.
	u.say(operator, "room", false, "!wire team --access open")
	if a := access("room"); a != data.AccessOpen {
		t.Fatalf("access after --access open = %q", a)
	}
	if got := u.say(operator, "dm", true, "!register solo --access open"); !strings.Contains(got, "access open") {
		t.Fatalf("register in a DM: %q", got)
	}
}
