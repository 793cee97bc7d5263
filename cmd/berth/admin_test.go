package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

// exitCode is the code main exits with for err.
func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// cli runs one berth command in-process against home.
func cli(t *testing.T, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append(args, "--home", home), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), exitCode(err)
}

// ok runs a command that must succeed and returns its output.
func ok(t *testing.T, home string, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, home, args...)
	if code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// decode runs a --json command and decodes its output into v.
func decode(t *testing.T, home string, v any, args ...string) {
	t.Helper()
	out := ok(t, home, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("berth %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func openHome(t *testing.T, home string) *data.Store {
	t.Helper()
	s, err := data.Open(context.Background(), paths.Home(home).Store())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAdminExitCodes(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ok(t, home, "groups", "create", "team")
	tests := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"groups", "create", "team"}, 1, "already exists"},
		{[]string{"groups", "create", "../etc"}, 1, "not valid"},
		{[]string{"groups", "create", strings.Repeat("a", 10000)}, 1, "at most 64"},
		{[]string{"groups", "create", "global"}, 1, "reserved"},
		{[]string{"groups", "create"}, 2, "usage: berth groups create"},
		{[]string{"groups", "create", "a", "b"}, 2, "expected 1 argument"},
		{[]string{"groups", "show", "nosuch"}, 1, `no agent group "nosuch"`},
		{[]string{"groups", "delete", "nosuch"}, 1, "no agent group"},
		{[]string{"groups"}, 2, "usage: berth groups list|show|create|delete"},
		{[]string{"groups", "frob"}, 2, "unknown command"},
		{[]string{"groups", "list", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"groups", "list", "-h"}, 2, "usage: berth groups list"},
		{[]string{"wirings", "create", "C1", "team"}, 2, "expected channel_type:platform_id"},
		{[]string{"wirings", "create", "slack:C1", "nosuch"}, 1, "no agent group"},
		{[]string{"wirings", "create", "slack:C1", "team", "--engage", "pattern:(["}, 1, "does not compile"},
		{[]string{"wirings", "create", "slack:C1", "team", "--session", "forever"}, 1, "not known"},
		{[]string{"wirings", "create", "slack:C1", "team", "--access", "everyone"}, 1, "use members (only users with a role), open"},
		{[]string{"wirings", "delete", "slack:nope"}, 1, "not known"},
		{[]string{"sessions", "show", "nosuch"}, 1, `no session "nosuch"`},
		{[]string{"sessions", "stop", "nosuch"}, 1, `no session "nosuch"`},
		{[]string{"sessions", "stop"}, 2, "usage"},
		{[]string{"users", "list", "extra"}, 2, "expected no arguments"},
		{[]string{"roles", "grant", "nobody", "admin"}, 1, `unknown user "nobody"`},
		{[]string{"roles", "grant", "slack:U1", "king"}, 2, "use owner, admin or member"},
		{[]string{"roles", "grant", "slack:U1", "owner", "--group", "team"}, 2, "owner is always global"},
		{[]string{"roles", "grant", "slack:U1", "admin", "--group", "nosuch"}, 1, "no agent group"},
		{[]string{"roles", "revoke", "slack:U1", "admin"}, 1, "unknown user"},
		{[]string{"dropped", "list", "--limit", "0"}, 2, "--limit must be positive"},
		{[]string{"pair", "extra"}, 2, "expected no arguments"},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		err := run(context.Background(), append(tt.args, "--home", home), strings.NewReader(""), &bytes.Buffer{}, &errb)
		msg := errb.String()
		if err != nil {
			msg += err.Error()
		}
		if code := exitCode(err); code != tt.code || !strings.Contains(msg, tt.want) {
			t.Errorf("berth %.60s: exit %d (%q), want %d with %q", strings.Join(tt.args, " "), code, msg, tt.code, tt.want)
		}
	}
	var gs []groupJSON
	decode(t, home, &gs, "groups", "list")
	if len(gs) != 1 || gs[0].Folder != "team" || len(gs[0].Wirings) != 0 {
		t.Errorf("failed commands changed the store: %+v", gs)
	}
}

func TestAdminGroups(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if out := ok(t, home, "groups", "create", "team", "--provider", "echo"); !strings.Contains(out, "created agent group team") {
		t.Errorf("create: %q", out)
	}
	ok(t, home, "groups", "create", "ops", "--admin")
	if _, err := os.Stat(filepath.Join(paths.Home(home).Group("team"), groups.MemoryFile)); err != nil {
		t.Errorf("group folder not initialised: %v", err)
	}
	var gs []groupJSON
	decode(t, home, &gs, "groups", "list")
	if len(gs) != 2 || gs[0].Folder != "ops" || !gs[0].IsAdmin || gs[1].Provider != "echo" {
		t.Fatalf("groups list: %+v", gs)
	}
	if out := ok(t, home, "groups", "list"); !regexp.MustCompile(`(?m)^GROUP\s+ADMIN\s+PROVIDER`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^team\s+false\s+echo\s+0\s+0`).MatchString(out) {
		t.Errorf("groups list table:\n%s", out)
	}
	ok(t, home, "wirings", "create", "slack:C1", "team")
	var g groupJSON
	decode(t, home, &g, "groups", "show", "team")
	if g.Folder != "team" || len(g.Wirings) != 1 || g.Wirings[0].Channel != "slack:C1" {
		t.Errorf("groups show: %+v", g)
	}
	if out := ok(t, home, "groups", "show", "team"); !strings.Contains(out, "slack:C1 (engage mention-sticky, sessions per-thread, acces") {
		t.Errorf("groups show table:\n%s", out)
	}
	if out := ok(t, home, "groups", "delete", "team"); !strings.Contains(out, "is kept") {
		t.Errorf("delete: %q", out)
	}
	if _, err := os.Stat(paths.Home(home).Group("team")); err != nil {
		t.Errorf("delete removed the folder: %v", err)
	}
	var ws []wiringJSON
	decode(t, home, &ws, "wirings", "list")
	if len(ws) != 0 {
		t.Errorf("wirings of a deleted group: %+v", ws)
	}
}

func TestAdminWirings(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ok(t, home, "groups", "create", "team")
	ok(t, home, "wirings", "create", "slack:C1", "team")
	ok(t, home, "wirings", "create", "slack:D1", "team", "--dm")
	ok(t, home, "wirings", "create", "discord:9", "team", "--engage", "pattern:^deploy", "--session", "shared", "--accumulate",
		"--access", "approval")
	var ws []wiringJSON
	decode(t, home, &ws, "wirings", "list", "--group", "team")
	got := map[string]wiringJSON{}
	for _, w := range ws {
		got[w.Channel] = w
	}
	for ch, want := range map[string]wiringJSON{
		"slack:C1":  {Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread, Ignored: "drop", Access: "members"},
		"slack:D1":  {Engage: data.EngagePattern, Pattern: ".", SessionMode: data.SessionShared, Ignored: "drop", IsDM: true, Access: "members"},
		"discord:9": {Engage: data.EngagePattern, Pattern: "^deploy", SessionMode: data.SessionShared, Ignored: "accumulate", Access: "approval"},
	} {
		w := got[ch]
		if w.Engage != want.Engage || w.Pattern != want.Pattern || w.SessionMode != want.SessionMode || w.Ignored != want.Ignored ||
			w.IsDM != want.IsDM || w.Group != "team" || w.Access != want.Access {
			t.Errorf("%s: %+v, want %+v", ch, w, want)
		}
	}
	if out := ok(t, home, "wirings", "list"); !strings.Contains(out, "ACCESS") || !strings.Contains(out, "approval") {
		t.Errorf("wirings table lacks the access column: %q", out)
	}
	if out := ok(t, home, "wirings", "delete", "slack:C1", "team"); !strings.Contains(out, "deleted 1 wiring") {
		t.Errorf("delete: %q", out)
	}
	if _, _, code := cli(t, home, "wirings", "delete", "slack:C1"); code != 1 {
		t.Errorf("deleting a deleted wiring: exit %d, want 1", code)
	}
	decode(t, home, &ws, "wirings", "list")
	if len(ws) != 2 {
		t.Errorf("wirings after delete: %+v", ws)
	}
}

func TestAdminUsersAndRoles(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ok(t, home, "groups", "create", "team")
	s := openHome(t, home)
	s.EnsureUser(context.Background(), "slack:U2", "Ann")
	ok(t, home, "roles", "grant", "slack:U1", "admin", "--group", "team")
	ok(t, home, "roles", "grant", "Ann", "owner")
	var us []userJSON
	decode(t, home, &us, "users", "list")
	if len(us) != 2 || us[0].ID != "slack:U1" || len(us[0].Roles) != 1 || us[0].Roles[0].Group != "team" ||
		us[1].DisplayName != "Ann" || us[1].Roles[0].Role != data.RoleOwner {
		t.Fatalf("users list: %+v", us)
	}
	if out := ok(t, home, "users", "list"); !regexp.MustCompile(`(?m)^slack:U1\s+-\s+admin of team`).MatchString(out) {
		t.Errorf("users list table:\n%s", out)
	}
	ok(t, home, "roles", "revoke", "slack:U1", "admin", "--group", "team")
	if _, stderr, code := cli(t, home, "roles", "revoke", "slack:U1", "admin", "--group", "team"); code != 1 {
		t.Errorf("second revoke: exit %d, %s", code, stderr)
	}
	decode(t, home, &us, "users", "list")
	if len(us[0].Roles) != 0 {
		t.Errorf("roles after revoke: %+v", us[0].Roles)
	}
}

func TestAdminSessionsAndDropped(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ctx := context.Background()
	ok(t, home, "groups", "create", "team")
	s := openHome(t, home)
	g, _ := s.Group(ctx, "team")
	mg, _ := s.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	one, _, _ := s.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, ThreadID: "t1", Mode: data.SessionPerThread})
	two, _, _ := s.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, ThreadID: "t2", Mode: data.SessionPerThread})
	s.CloseSession(ctx, two.ID)
	s.RecordDropped(ctx, data.Dropped{ChannelType: "slack", PlatformID: "C9", SenderID: "slack:U1", Reason: "unwired channel", Text: "hi\nthere"})

	var ss []sessionJSON
	decode(t, home, &ss, "sessions", "list")
	if len(ss) != 1 || ss[0].ID != one.ID || ss[0].Group != "team" || ss[0].Channel != "slack:C1" || ss[0].ThreadID != "t1" {
		t.Fatalf("sessions list: %+v", ss)
	}
	decode(t, home, &ss, "sessions", "list", "--all", "--group", "team")
	if len(ss) != 2 {
		t.Errorf("sessions list --all: %+v", ss)
	}
	var one1 sessionJSON
	decode(t, home, &one1, "sessions", "show", one.ID[:6])
	if one1.ID != one.ID || one1.Dir != paths.Home(home).Session(g.ID, one.ID) {
		t.Errorf("sessions show: %+v", one1)
	}
	var ds []map[string]any
	decode(t, home, &ds, "dropped", "list")
	if len(ds) != 1 || ds[0]["reason"] != "unwired channel" || ds[0]["channel"] != "slack:C9" {
		t.Errorf("dropped list: %+v", ds)
	}
	if out := ok(t, home, "dropped", "list"); strings.Count(out, "\n") != 2 || !strings.Contains(out, `"hi\nthere"`) {
		t.Errorf("dropped list table:\n%s", out)
	}
}

func TestAdminPair(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	out := ok(t, home, "pair")
	m := regexp.MustCompile(`!pair ([A-Z2-9]{8})\b`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "10 minutes") {
		t.Fatalf("berth pair printed:\n%s", out)
	}
	var j struct {
		Code string `json:"code"`
	}
	decode(t, home, &j, "pair")
	s := openHome(t, home)
	ctx := context.Background()
	for _, code := range []string{m[1], j.Code} {
		if err := groups.ClaimPairCode(ctx, s, code, "slack:U1", time.Now()); err != nil {
			t.Errorf("claim %s: %v", code, err)
		}
	}
	if err := groups.ClaimPairCode(ctx, s, m[1], "slack:U2", time.Now()); err == nil {
		t.Error("a code worked twice")
	}
}

// TestAdminWhileGatewayRuns: the CLI needs neither the gateway's lock nor
// exclusive use of the store.
func TestAdminWhileGatewayRuns(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	lock, err := lockHome(home)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	s := openHome(t, home)
	ok(t, home, "groups", "create", "team")
	if _, err := s.Group(context.Background(), "team"); err != nil {
		t.Errorf("the gateway's store does not see the new group: %v", err)
	}
	ok(t, home, "pair")
}

func TestAdminHomeFromEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv("BERTH_HOME", home)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"groups", "create", "team"}, nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths.Home(home).Store()); err != nil {
		t.Fatalf("BERTH_HOME not used: %v", err)
	}
}
