package data

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data/paths"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), paths.Home(t.TempDir()).Store())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrationsApplyOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		s, err := Open(ctx, paths.Home(dir).Store())
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		applied, known, err := s.SchemaVersion(ctx)
		if err != nil || applied != known || known < 1 {
			t.Fatalf("schema version = %d of %d, %v", applied, known, err)
		}
		s.Close()
	}
}

func TestResolveSessionModes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "a", Folder: "a"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	mg1, _ := s.EnsureMessagingGroup(ctx, "slack", "C1", "c1", false)
	mg2, _ := s.EnsureMessagingGroup(ctx, "slack", "C2", "c2", false)
	type call struct {
		mg     MessagingGroup
		thread string
	}
	tests := []struct {
		mode       SessionMode
		a, b       call
		wantSame   bool
		wantThread string
	}{
		{SessionShared, call{mg1, "t1"}, call{mg1, "t2"}, true, ""},
		{SessionShared, call{mg1, ""}, call{mg2, ""}, false, ""},
		{SessionPerThread, call{mg1, "t1"}, call{mg1, "t1"}, true, "t1"},
		{SessionPerThread, call{mg1, "t1"}, call{mg1, "t2"}, false, "t1"},
		{SessionAgentShared, call{mg1, "t1"}, call{mg2, "t9"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s := openTest(t)
			g := AgentGroup{Name: "a", Folder: "a"}
			s.CreateGroup(ctx, &g)
			key := func(c call) SessionKey {
				t.Helper()
				in := channels.Inbound{ChannelType: c.mg.ChannelType, PlatformID: c.mg.PlatformID, ThreadID: c.thread, MessageID: "m1"}
				k, err := ConversationKey(in, c.mg, Wiring{AgentGroupID: g.ID, SessionMode: tt.mode})
				if err != nil {
					t.Fatal(err)
				}
				return k
			}
			a, createdA, err := s.ResolveSession(ctx, key(tt.a))
			if err != nil || !createdA {
				t.Fatalf("first resolve: %v created=%v", err, createdA)
			}
			b, _, err := s.ResolveSession(ctx, key(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if (a.ID == b.ID) != tt.wantSame {
				t.Errorf("same session = %v, want %v", a.ID == b.ID, tt.wantSame)
			}
			if a.ThreadID != tt.wantThread {
				t.Errorf("thread = %q, want %q", a.ThreadID, tt.wantThread)
			}
		})
	}
	if _, _, err := s.ResolveSession(ctx, SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg1.ID, Mode: "bogus"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestResolveSessionConcurrentAgrees(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "a", Folder: "a"}
	s.CreateGroup(ctx, &g)
	mg, _ := s.EnsureMessagingGroup(ctx, "terminal", "local", "", true)
	ids := make(chan string, 20)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, _, err := s.ResolveSession(ctx, SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, Mode: SessionShared})
			if err != nil {
				t.Error(err)
			}
			ids <- sess.ID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("20 concurrent resolves made %d sessions", len(seen))
	}
}

func TestGroupsAndWirings(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "main", Folder: "main"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, &AgentGroup{Name: "main", Folder: "main"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate folder: %v", err)
	}
	if _, err := s.Group(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing group: %v", err)
	}
	mg, _ := s.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	w := Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: "sometimes", SessionMode: SessionShared}
	if err := s.Wire(ctx, &w); err == nil {
		t.Fatal("bad engage accepted")
	}
	w.Engage = EngageMention
	if err := s.Wire(ctx, &w); err != nil {
		t.Fatal(err)
	}
	ws, _ := s.Wirings(ctx, mg.ID)
	if len(ws) != 1 || ws[0].Engage != EngageMention {
		t.Fatalf("wirings = %+v", ws)
	}
	if n, _ := s.Unwire(ctx, mg.ID, ""); n != 1 {
		t.Fatalf("unwired %d", n)
	}
}

func TestRolesAndSeen(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	// Owner grants are global even when a group is named, and never duplicated.
	for i := 0; i < 2; i++ {
		if err := s.Grant(ctx, Role{UserID: "slack:U1", Role: RoleOwner, GroupID: "g"}); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := s.Roles(ctx, "slack:U1")
	if len(rs) != 1 || rs[0].GroupID != "" {
		t.Fatalf("roles = %+v", rs)
	}
	if ok, _ := s.HasOwner(ctx); !ok {
		t.Fatal("no owner")
	}
	first, _ := s.MarkSeen(ctx, "slack", "C1", "1.2")
	again, _ := s.MarkSeen(ctx, "slack", "C1", "1.2")
	if !first || again {
		t.Fatalf("MarkSeen = %v then %v", first, again)
	}
}

func TestHighWater(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for _, id := range []string{"999", "1000", "998"} { // snowflakes: 1000 is newest
		if err := s.AdvanceHighWater(ctx, "discord", "C1", id); err != nil {
			t.Fatal(err)
		}
	}
	if hw, _ := s.HighWater(ctx, "discord", "C1"); hw != "1000" {
		t.Fatalf("high water = %q", hw)
	}
	s.AdvanceHighWater(ctx, "slack", "C1", "1700000000.000200")
	s.AdvanceHighWater(ctx, "slack", "C1", "1700000000.000100")
	if hw, _ := s.HighWater(ctx, "slack", "C1"); hw != "1700000000.000200" {
		t.Fatalf("high water = %q", hw)
	}
}

// TestNamedTypesRoundTrip checks that every named string type reads back
// from the store with the value written, the SQL text being unchanged.
func TestNamedTypesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "main", Folder: "main"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		engage  Engage
		mode    SessionMode
		ignored Ignored
		access  Access
	}{
		{"mention", EngageMention, SessionPerThread, IgnoredDrop, AccessMembers},
		{"mention-sticky", EngageMentionSticky, SessionAgentShared, IgnoredAccumulate, AccessApproval},
		{"pattern", EngagePattern, SessionShared, IgnoredDrop, AccessOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mg, err := s.EnsureMessagingGroup(ctx, "slack", "C-"+tt.name, "", false)
			if err != nil {
				t.Fatal(err)
			}
			w := Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: tt.engage, Pattern: ".", SessionMode: tt.mode,
				Ignored: tt.ignored, Access: tt.access}
			if err := s.Wire(ctx, &w); err != nil {
				t.Fatal(err)
			}
			ws, err := s.Wirings(ctx, mg.ID)
			if err != nil || len(ws) != 1 {
				t.Fatalf("wirings = %+v, %v", ws, err)
			}
			if got := ws[0]; got.Engage != tt.engage || got.SessionMode != tt.mode || got.Ignored != tt.ignored || got.Access != tt.access {
				t.Errorf("wiring read back as %+v", got)
			}
			sess, _, err := s.ResolveSession(ctx, SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, Mode: SessionShared})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Session(ctx, sess.ID); err != nil || got.Status != SessionActive {
				t.Fatalf("new session status = %q, %v; want %q", got.Status, err, SessionActive)
			}
			if err := s.CloseSession(ctx, sess.ID); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Session(ctx, sess.ID); err != nil || got.Status != SessionClosed {
				t.Fatalf("closed session status = %q, %v; want %q", got.Status, err, SessionClosed)
			}
		})
	}
	for _, role := range []RoleName{RoleOwner, RoleAdmin, RoleMember} {
		user := "x:" + string(role)
		if err := s.Grant(ctx, Role{UserID: user, Role: role}); err != nil {
			t.Fatal(err)
		}
		rs, err := s.Roles(ctx, user)
		if err != nil || len(rs) != 1 || rs[0].Role != role {
			t.Errorf("roles of %s = %+v, %v", user, rs, err)
		}
	}
}
