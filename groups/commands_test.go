package groups_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text    string
		want    groups.Command
		wantErr string
	}{
		{text: "!help", want: groups.Command{Name: "help"}},
		{text: "  !HELP  ", want: groups.Command{Name: "help"}},
		{text: "<@U123> !status", want: groups.Command{Name: "status"}},
		{text: "@berth !status", want: groups.Command{Name: "status"}},
		{text: "!register team --engage mention --session=shared",
			want: groups.Command{Name: "register", Args: []string{"team"}, Flags: map[string]string{"engage": "mention", "session": "shared"}}},
		{text: `!register team --engage "pattern:hello world"`,
			want: groups.Command{Name: "register", Args: []string{"team"}, Flags: map[string]string{"engage": "pattern:hello world"}}},
		{text: "!grant “Ann Lee” admin team", want: groups.Command{Name: "grant", Args: []string{"Ann Lee", "admin", "team"}}},
		{text: "!grant O'Brien member", want: groups.Command{Name: "grant", Args: []string{"O'Brien", "member"}}},
		{text: "!wire team -- --not-a-flag", want: groups.Command{Name: "wire", Args: []string{"team", "--not-a-flag"}}},
		{text: "!pair ''", want: groups.Command{Name: "pair", Args: []string{""}}},
		{text: "hello", wantErr: "not a command"},
		{text: "@berth hello", wantErr: "not a command"},
		{text: "!", wantErr: "empty command"},
		{text: "!!", wantErr: "unknown command"},
		{text: "!../x", wantErr: "unknown command"},
		{text: "!" + strings.Repeat("a", 100), wantErr: "unknown command"},
		{text: "!register team --engage", wantErr: "--engage needs a value"},
		{text: "!register team --engage --session x", wantErr: "--engage needs a value"},
		{text: "!register team --x=1 --x=2", wantErr: "given twice"},
		{text: "!register team --Ö=1", wantErr: "not valid"},
		{text: `!register "team`, wantErr: "quote is not closed"},
		{text: "!x" + strings.Repeat(" a", 40), wantErr: "too many arguments"},
		{text: "!x " + strings.Repeat("a", groups.MaxCommandBytes), wantErr: "too long"},
		{text: "!x \xff", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.30s", tt.text), func(t *testing.T) {
			got, err := groups.ParseCommand(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCommand(%q) error = %v, want %q", tt.text, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", tt.text, err)
			}
			if tt.want.Flags == nil {
				tt.want.Flags = map[string]string{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCommand(%q) = %#v, want %#v", tt.text, got, tt.want)
			}
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"!help", "<@U1> !status", "@b !x", "!register team --engage pattern:^a.*b$ --session per-thread",
		`!grant "a b" admin`, "!grant “x” member", "!wire a -- --b", "!x --a=b --c d e", "!", "", "!" + strings.Repeat("a ", 20),
		"!pair 'unterminated", "! \u00a0 !", "!x\t--y\nz", "<@!123|name> !pair ABCD2345",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := groups.ParseCommand(text)
		if err != nil {
			if cmd.Name != "" || cmd.Args != nil || cmd.Flags != nil {
				t.Fatalf("error %v with a non-empty command %#v", err, cmd)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error is %d bytes", len(err.Error()))
			}
			return
		}
		if cmd.Name == "" || len(cmd.Name) > 32 {
			t.Fatalf("name %q", cmd.Name)
		}
		if n := len(cmd.Args) + len(cmd.Flags); n > groups.MaxCommandArgs {
			t.Fatalf("%d arguments and options", n)
		}
		size := len(cmd.Name)
		for _, a := range cmd.Args {
			size += len(a)
		}
		for k, v := range cmd.Flags {
			size += len(k) + len(v)
		}
		if size > len(text) {
			t.Fatalf("output (%d bytes) is longer than input (%d)", size, len(text))
		}
	})
}

func TestParseEngage(t *testing.T) {
	tests := []struct {
		in, pattern, wantErr string
		engage               data.Engage
	}{
		{in: "mention", engage: data.EngageMention},
		{in: "mention-sticky", engage: data.EngageMentionSticky},
		{in: "all", engage: data.EngagePattern, pattern: "."},
		{in: "pattern:^deploy\\b", engage: data.EngagePattern, pattern: "^deploy\\b"},
		{in: "pattern:([", wantErr: "does not compile"},
		{in: "pattern:", wantErr: "empty"},
		{in: "pattern:" + strings.Repeat("a", 2000), wantErr: "at most"},
		{in: "sometimes", wantErr: "not known"},
	}
	for _, tt := range tests {
		e, p, err := groups.ParseEngage(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEngage(%.30q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || e != tt.engage || p != tt.pattern {
			t.Errorf("ParseEngage(%q) = %q, %q, %v", tt.in, e, p, err)
		}
	}
}

func openStore(t *testing.T) *data.Store {
	t.Helper()
	s, err := data.Open(context.Background(), paths.Home(t.TempDir()).Store())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAllowed(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	team := data.AgentGroup{Name: "team", Folder: "team"}
	other := data.AgentGroup{Name: "other", Folder: "other"}
	s.CreateGroup(ctx, &team)
	s.CreateGroup(ctx, &other)
	grant := func(user string, role data.RoleName, group string) {
		if err := s.Grant(ctx, data.Role{UserID: user, Role: role, GroupID: group}); err != nil {
			t.Fatal(err)
		}
	}
	grant("x:gadmin", data.RoleAdmin, "")
	grant("x:tadmin", data.RoleAdmin, team.ID)
	grant("x:tmember", data.RoleMember, team.ID)
	grant("x:gmember", data.RoleMember, "")
	type c struct {
		user  string
		need  data.RoleName
		group string
		want  bool
	}
	check := func(cases []c) {
		t.Helper()
		for _, tt := range cases {
			got, err := groups.Allowed(ctx, s, tt.user, tt.need, tt.group)
			if err != nil || got != tt.want {
				t.Errorf("Allowed(%s, %s, %s) = %v, %v; want %v", tt.user, tt.need, tt.group, got, err, tt.want)
			}
		}
	}
	// No owner yet: nobody but the terminal operator holds an admin role.
	check([]c{
		{groups.Operator, data.RoleOwner, "", true},
		{"x:gadmin", data.RoleAdmin, "", false},
		{"x:tadmin", data.RoleAdmin, team.ID, false},
		{"x:tmember", data.RoleMember, team.ID, true},
	})
	grant("x:owner", data.RoleOwner, "")
	check([]c{
		{"x:owner", data.RoleOwner, "", true},
		{"x:owner", data.RoleAdmin, team.ID, true},
		{"x:gadmin", data.RoleOwner, "", false},
		{"x:gadmin", data.RoleAdmin, "", true},
		{"x:gadmin", data.RoleAdmin, other.ID, true},
		{"x:gadmin", data.RoleMember, team.ID, true},
		{"x:tadmin", data.RoleAdmin, team.ID, true},
		{"x:tadmin", data.RoleAdmin, other.ID, false},
		{"x:tadmin", data.RoleAdmin, "", false},
		{"x:tadmin", data.RoleMember, team.ID, true},
		{"x:tmember", data.RoleMember, team.ID, true},
		{"x:tmember", data.RoleMember, other.ID, false},
		{"x:tmember", data.RoleAdmin, team.ID, false},
		{"x:gmember", data.RoleMember, other.ID, true},
		{"x:gmember", data.RoleAdmin, other.ID, false},
		{"x:nobody", data.RoleMember, team.ID, false},
		{"terminal:bob", data.RoleMember, "", false},
	})
	if _, err := groups.Allowed(ctx, s, "x:owner", "king", ""); err == nil {
		t.Error("an unknown role is not an error")
	}
}

func TestPairCode(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	code, err := groups.NewPairCode(ctx, s, now, groups.PairCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != groups.PairCodeLen || strings.ToUpper(code) != code {
		t.Fatalf("code %q", code)
	}
	if err := groups.ClaimPairCode(ctx, s, "ZZZZ2222", "x:eve", now); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Errorf("wrong code: %v", err)
	}
	// Typed in lower case with a dash: still the code.
	typed := strings.ToLower(code[:4] + "-" + code[4:])
	if err := groups.ClaimPairCode(ctx, s, typed, "x:ann", now.Add(9*time.Minute)); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if ok, _ := groups.Allowed(ctx, s, "x:ann", data.RoleOwner, ""); !ok {
		t.Error("ann is not an owner after pairing")
	}
	if err := groups.ClaimPairCode(ctx, s, code, "x:eve", now.Add(time.Minute)); err == nil || !strings.Contains(err.Error(), "already been used") {
		t.Errorf("second claim: %v", err)
	}
	late, _ := groups.NewPairCode(ctx, s, now, groups.PairCodeTTL)
	if err := groups.ClaimPairCode(ctx, s, late, "x:eve", now.Add(groups.PairCodeTTL)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("claim after expiry: %v", err)
	}
	if ok, _ := groups.Allowed(ctx, s, "x:eve", data.RoleOwner, ""); ok {
		t.Error("eve became an owner")
	}
}

// fakeSessions is a TEST-ONLY Sessions: it records the sessions stopped
// and reset and the held messages released, answers with halted, and
// closes a reset session in store as the manager does.
type fakeSessions struct {
	store    *data.Store
	mu       sync.Mutex
	halted   groups.Halted
	stopped  []string
	reset    []string
	released []string // "group user"
}

func (f *fakeSessions) ReleaseHeld(ctx context.Context, groupID, userID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, groupID+" "+userID)
	return 0, nil
}

func (f *fakeSessions) StopTurn(ctx context.Context, id string) (groups.Halted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	return f.halted, nil
}

func (f *fakeSessions) ResetSession(ctx context.Context, id string) (groups.Halted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reset = append(f.reset, id)
	return f.halted, f.store.CloseSession(ctx, id)
}

// unit drives the command handler directly, without a gateway.
type unit struct {
	t      *testing.T
	store  *data.Store
	layout groups.Layout
	cmds   *groups.Commands
	stops  *fakeSessions
}

func newUnit(t *testing.T) *unit {
	root := t.TempDir()
	u := &unit{t: t, store: openStore(t), layout: groups.Layout{Root: paths.Home(root).Groups(), UID: -1}}
	u.stops = &fakeSessions{store: u.store}
	u.layout.InitGlobal()
	u.cmds = groups.NewCommands(u.store, u.layout, u.stops, nil)
	return u
}

// say sends text from user (an id in the terminal channel) in a channel and returns the answer.
func (u *unit) say(user, platformID string, dm bool, text string) string {
	u.t.Helper()
	in := inbound(user, platformID, "", dm, text)
	if err := u.store.EnsureUser(context.Background(), channels.UserKey(in.ChannelType, in.Sender.ID), in.Sender.Name); err != nil {
		u.t.Fatal(err)
	}
	var replies []string
	if err := u.cmds.Handle(context.Background(), in, func(s string) { replies = append(replies, s) }); err != nil {
		u.t.Fatalf("Handle(%.40q): %v", text, err)
	}
	if len(replies) != 1 {
		u.t.Fatalf("Handle(%.40q): %d replies, want 1: %q", text, len(replies), replies)
	}
	return replies[0]
}

// Senders in the tests: the terminal operator (owner) and Bob, who has no role.
const (
	operator = "local"
	bob      = "bob"
)

// inbound is a message in the terminal channel from user.
func inbound(user, platformID, thread string, dm bool, text string) channels.Inbound {
	name := map[string]string{operator: "operator", bob: "Bob"}[user]
	return channels.Inbound{ChannelType: "terminal", PlatformID: platformID, ThreadID: thread, MessageID: msgID(),
		Sender: channels.User{ID: user, Name: name}, Text: text, Mentioned: true, IsDM: dm, Time: time.Now()}
}

var msgN struct {
	sync.Mutex
	n int
}

func msgID() string {
	msgN.Lock()
	defer msgN.Unlock()
	msgN.n++
	return fmt.Sprintf("m%d-%d", time.Now().UnixNano(), msgN.n)
}

// snapshot renders what commands may change: groups, channels, wirings,
// roles, sessions and the group folders on disk.
func snapshot(t *testing.T, s *data.Store, groupsRoot string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	gs, err1 := s.Groups(ctx)
	mgs, err2 := s.MessagingGroups(ctx)
	ws, err3 := s.Wirings(ctx, "")
	rs, err4 := s.Roles(ctx, "")
	ss, err5 := s.Sessions(ctx, data.SessionFilter{})
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		fmt.Fprintf(&b, "group %s %s\n", g.ID, g.Folder)
	}
	for _, m := range mgs {
		fmt.Fprintf(&b, "channel %s %s:%s\n", m.ID, m.ChannelType, m.PlatformID)
	}
	for _, w := range ws {
		fmt.Fprintf(&b, "wiring %s %s %s %s %q %s %s\n", w.MessagingGroupID, w.AgentGroupID, w.Engage, w.SessionMode, w.Pattern, w.Ignored,
			w.Access)
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "role %s %s %s\n", r.UserID, r.Role, r.GroupID)
	}
	for _, x := range ss {
		fmt.Fprintf(&b, "session %s %s %s\n", x.ID, x.AgentGroupID, x.Status)
	}
	entries, _ := os.ReadDir(groupsRoot)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "folders %v\n", names)
	return b.String()
}

// badInputs are commands the owner sends that must be answered clearly
// and change nothing. The channel is wired to group "team".
var badInputs = []struct {
	text, want string
}{
	{"!frobnicate", "unknown command !frobnicate"},
	{"!register", "missing an argument"},
	{"!register a b", "at most 1"},
	{"!register ../etc", "not valid"},
	{"!register ..", "not valid"},
	{"!register " + strings.Repeat("a", 10000), "10000 characters; at most 64"},
	{"!register global", "reserved"},
	{"!register team", "already exists"},
	{"!register x --engage pattern:([", "does not compile"},
	{"!register x --engage sometimes", "not known"},
	{"!register x --session forever", "not known"},
	{"!register x --bogus 1", "no option --bogus"},
	{"!register x --access everyone", "use members (only users with a role), open (anyone in the channel) or approval"},
	{"!wire team --access public", `access "public" is not known`},
	{"!allow", "missing an argument"},
	{"!allow nobody", `unknown user "nobody"`},
	{"!allow bob nosuch", `no agent group "nosuch"`},
	{"!deny bob a b", "at most 2"},
	{`!register "x`, "quote is not closed"},
	{"!wire", "missing an argument"},
	{"!wire nosuch", `no agent group "nosuch"`},
	{"!wire team --engage pattern:a(b", "does not compile"},
	{"!unwire nosuch", `no agent group "nosuch"`},
	{"!grant nobody admin", `unknown user "nobody"`},
	{"!grant <@U404> member", `unknown user "U404"`},
	{"!grant bob", "missing an argument"},
	{"!grant bob superuser", "use admin or member"},
	{"!grant bob owner", "use admin or member"},
	{"!grant bob member nosuch", `no agent group "nosuch"`},
	{"!revoke bob admin", "is not admin"},
	{"!pair", "missing an argument"},
	{"!pair NOTACODE", "not valid"},
	{"!", "empty command"},
}

func TestCommandsBadInputChangesNothing(t *testing.T) {
	u := newUnit(t)
	u.say(bob, "room", false, "!help") // Bob is known
	if got := u.say(operator, "room", false, "!register team"); !strings.Contains(got, "Created agent group team") {
		t.Fatalf("register: %s", got)
	}
	before := snapshot(t, u.store, u.layout.Root)
	for _, tt := range badInputs {
		got := u.say(operator, "room", false, tt.text)
		if !strings.Contains(got, tt.want) {
			t.Errorf("%.40q: answer %q lacks %q", tt.text, got, tt.want)
		}
		if len(got) > 600 {
			t.Errorf("%.40q: answer is %d bytes", tt.text, len(got))
		}
		if after := snapshot(t, u.store, u.layout.Root); after != before {
			t.Errorf("%.40q changed the store:\nbefore:\n%s\nafter:\n%s", tt.text, before, after)
		}
	}
}

func TestCommandsRoles(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	steps := []struct {
		who, room string
		dm        bool
		text      string
		want      string
	}{
		{bob, "room", false, "!help", "no owner yet"},
		{bob, "room", false, "!register bobs", "needs the admin role"},
		{bob, "room", false, "!status", "not wired"},
		{operator, "room", false, "!register team", "Created agent group team"},
		{bob, "room", false, "!status", "needs the member role for group team"},
		{bob, "room", false, "!grant bob admin", "needs the owner role"},
		{operator, "room", false, "!grant bob member team", "Bob (terminal:bob) is now member of team"},
		{bob, "room", false, "!status", "team: engage mention-sticky, sessions per-thread"},
		{bob, "room", false, "!unwire", "needs the admin role for group team"},
		{bob, "room", false, "!help", "!status"},
		{operator, "room", false, "!grant Bob admin", "Bob (terminal:bob) is now admin (all groups)"},
		{operator, "room", false, "!grant terminal:bob admin", "already admin"},
		// Bob is a global admin, but there is still no owner in the store.
		{bob, "room", false, "!register bobs", "no owner yet"},
		{operator, "room", false, "!users", "terminal:bob"},
	}
	for _, st := range steps {
		if got := u.say(st.who, st.room, st.dm, st.text); !strings.Contains(got, st.want) {
			t.Fatalf("%s: %q: answer %q lacks %q", st.who, st.text, got, st.want)
		}
	}
	code, err := groups.NewPairCode(ctx, u.store, time.Now(), groups.PairCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct{ who, text, want string }{
		{bob, "!pair " + code, "now an owner"},
		{bob, "!help", "!register"},
		{bob, "!register bobs --engage mention --session shared", "engage mention, sessions shared"},
		{bob, "!wire team --engage all", "Rewired this channel to agent group team (engage every message"},
		{bob, "!groups", "bobs"},
		{bob, "!revoke bob admin", "no longer admin"},
		{bob, "!unwire team", "Unwired this channel from agent group team"},
	} {
		if got := u.say(st.who, "room", false, st.text); !strings.Contains(got, st.want) {
			t.Fatalf("%s: %q: answer %q lacks %q", st.who, st.text, got, st.want)
		}
	}
	if strings.Contains(u.say(bob, "room", false, "!help"), "no owner") {
		t.Error("!help still says there is no owner")
	}
}

func TestCommandsRegisterDefaults(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	u.say(operator, "dm1", true, "!register solo")
	u.say(operator, "chan1", false, "!register team")
	for _, tt := range []struct {
		room, pattern string
		engage        data.Engage
		mode          data.SessionMode
	}{
		{room: "dm1", engage: data.EngagePattern, pattern: ".", mode: data.SessionShared},
		{room: "chan1", engage: data.EngageMentionSticky, mode: data.SessionPerThread},
	} {
		mg, err := u.store.MessagingGroup(ctx, "terminal", tt.room)
		if err != nil {
			t.Fatal(err)
		}
		ws, _ := u.store.Wirings(ctx, mg.ID)
		if len(ws) != 1 || ws[0].Engage != tt.engage || ws[0].Pattern != tt.pattern || ws[0].SessionMode != tt.mode ||
			ws[0].Access != data.AccessMembers {
			t.Errorf("%s: wirings %+v", tt.room, ws)
		}
	}
	if _, err := os.Stat(filepath.Join(u.layout.Dir("solo"), groups.MemoryFile)); err != nil {
		t.Errorf("group folder not initialised: %v", err)
	}
}

func TestCommandsResetAndStop(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	u.say(operator, "room", false, "!register team")
	g, _ := u.store.Group(ctx, "team")
	mg, _ := u.store.MessagingGroup(ctx, "terminal", "room")
	s, _, err := u.store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, ThreadID: "t1", Mode: data.SessionPerThread})
	if err != nil {
		t.Fatal(err)
	}
	u.store.SetContainerState(ctx, s.ID, data.ContainerRunning, "c1")
	thread := func(text string) string {
		in := inbound(operator, "room", "t1", false, text)
		var out string
		u.cmds.Handle(ctx, in, func(s string) { out = s })
		return out
	}
	if got := thread("!status"); !strings.Contains(got, s.ID[:8]) || !strings.Contains(got, "(this conversation)") {
		t.Errorf("status: %s", got)
	}
	if got := u.say(operator, "room", false, "!reset"); !strings.Contains(got, "no session here") {
		t.Errorf("reset outside the thread: %s", got)
	}
	// !stop answers with what stopping did.
	name := "session " + s.ID[:8] + " (group team)"
	for _, tt := range []struct {
		halted groups.Halted
		want   string
	}{
		{groups.Halted{Cancelled: 2, Container: true}, "Stopped the turn of " + name + ": 2 messages will not be answered."},
		{groups.Halted{Cancelled: 1}, "Stopped the turn of " + name + ": 1 message will not be answered."},
		{groups.Halted{Container: true}, "Nothing was running in " + name + "; its idle container is being stopped."},
		{groups.Halted{}, "Nothing was running for this conversation."},
	} {
		u.stops.halted = tt.halted
		if got := thread("!stop"); !strings.Contains(got, tt.want) {
			t.Errorf("stop after %+v: %q, want %q", tt.halted, got, tt.want)
		}
	}
	u.stops.halted = groups.Halted{Cancelled: 1, Failed: 2, Container: true}
	got := thread("!reset")
	for _, want := range []string{"Closed session " + s.ID[:8], "The turn it was working on was stopped and will not be answered.",
		"2 messages waiting for it will not be answered either; each sender was told."} {
		if !strings.Contains(got, want) {
			t.Errorf("reset: %q lacks %q", got, want)
		}
	}
	if after, _ := u.store.Session(ctx, s.ID); after.Status != "closed" {
		t.Errorf("session status %s after reset", after.Status)
	}
	if want := []string{s.ID, s.ID, s.ID, s.ID}; !reflect.DeepEqual(u.stops.stopped, want) {
		t.Errorf("stopped %v, want %v", u.stops.stopped, want)
	}
	if want := []string{s.ID}; !reflect.DeepEqual(u.stops.reset, want) {
		t.Errorf("reset %v, want %v", u.stops.reset, want)
	}
	if got := thread("!reset"); !strings.Contains(got, "no session here") {
		t.Errorf("second reset: %s", got)
	}
}

func TestPairRateLimit(t *testing.T) {
	u := newUnit(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	u.cmds.Now = func() time.Time { return now }
	code, _ := groups.NewPairCode(context.Background(), u.store, now, groups.PairCodeTTL)
	for i := 0; i < 5; i++ {
		u.say(bob, "room", false, "!pair WRONG234")
	}
	if got := u.say(bob, "room", false, "!pair "+code); !strings.Contains(got, "too many") {
		t.Fatalf("sixth try: %s", got)
	}
	now = now.Add(11 * time.Minute)
	if got := u.say(bob, "room", false, "!pair "+code); !strings.Contains(got, "expired") {
		t.Fatalf("after the wait: %s", got)
	}
}

func TestCommandsUnaddressed(t *testing.T) {
	u := newUnit(t)
	tests := []struct {
		text    string
		answers bool
	}{
		{"!wow", false},
		{"!", false},
		{"!!!", false},
		{"!help", true},
		{"!register", true}, // a known command with a mistake is still answered
	}
	for _, tt := range tests {
		in := inbound(bob, "room", "", false, tt.text)
		in.Mentioned = false
		var replies []string
		if err := u.cmds.Handle(context.Background(), in, func(s string) { replies = append(replies, s) }); err != nil {
			t.Fatal(err)
		}
		if (len(replies) > 0) != tt.answers {
			t.Errorf("%q without a mention: replies %q, want answered=%v", tt.text, replies, tt.answers)
		}
	}
}
