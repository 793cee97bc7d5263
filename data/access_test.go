package data

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/berth-dev/berth/data/paths"
)

func TestWiringAccess(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "a", Folder: "a"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	mg, _ := s.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	tests := []struct {
		set  Access
		want Access
		ok   bool
	}{
		{"", AccessMembers, true},
		{AccessOpen, AccessOpen, true},
		{AccessApproval, AccessApproval, true},
		{AccessMembers, AccessMembers, true},
		{"everyone", "", false},
	}
	for _, tt := range tests {
		w := Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: EngageMention, SessionMode: SessionShared, Access: tt.set}
		err := s.Wire(ctx, &w)
		if (err == nil) != tt.ok {
			t.Fatalf("wire access %q: err %v, want ok %v", tt.set, err, tt.ok)
		}
		if !tt.ok {
			continue
		}
		ws, err := s.Wirings(ctx, mg.ID)
		if err != nil || len(ws) != 1 || ws[0].Access != tt.want {
			t.Fatalf("after wiring access %q: %+v, %v; want %q", tt.set, ws, err, tt.want)
		}
	}
}

// TestAccessMigrationDefaultsToMembers opens a store made before the
// access migration, with a wiring: it becomes members-only.
func TestAccessMigrationDefaultsToMembers(t *testing.T) {
	ctx := context.Background()
	file := paths.Home(t.TempDir()).Store()
	s, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	g := AgentGroup{Name: "a", Folder: "a"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	mg, _ := s.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	if err := s.Wire(ctx, &Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: EngageMention, SessionMode: SessionShared, Access: AccessOpen}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Undo 0005 by hand, as a store of the previous version would be.
	db, err := sql.Open("sqlite3", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE wirings DROP COLUMN access`, `DROP TABLE held_messages`, `DROP TABLE denied_senders`,
		`DELETE FROM schema_version WHERE version = 5`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err = Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ws, err := s.Wirings(ctx, mg.ID)
	if err != nil || len(ws) != 1 || ws[0].Access != AccessMembers {
		t.Fatalf("migrated wiring: %+v, %v; want access members", ws, err)
	}
}

func TestHeldMessages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "a", Folder: "a"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	h := Held{GroupID: g.ID, ChannelType: "slack", PlatformID: "C1", MessageID: "m1", SenderID: "slack:U1", Text: "hi", Inbound: "{}"}
	for i, want := range []bool{true, false} { // a redelivery is held once
		if n, err := s.HoldMessage(ctx, h); err != nil || n != want {
			t.Fatalf("hold %d: new %v, %v; want %v", i, n, err, want)
		}
	}
	h.MessageID = "m2"
	if _, err := s.HoldMessage(ctx, h); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountHeld(ctx, g.ID, "slack:U1"); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	got, err := s.HeldMessages(ctx, HeldFilter{GroupID: g.ID, SenderID: "slack:U1"})
	if err != nil || len(got) != 2 || got[0].MessageID != "m1" || got[1].MessageID != "m2" {
		t.Fatalf("held = %+v, %v", got, err)
	}
	if other, _ := s.HeldMessages(ctx, HeldFilter{SenderID: "slack:U2"}); len(other) != 0 {
		t.Fatalf("another sender's held = %+v", other)
	}
	if err := s.DeleteHeld(ctx, got[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountHeld(ctx, g.ID, "slack:U1"); n != 1 {
		t.Fatalf("count after delete = %d", n)
	}
	if d, _ := s.Denied(ctx, g.ID, "slack:U1"); d {
		t.Fatal("denied before Deny")
	}
	if err := s.Deny(ctx, g.ID, "slack:U1", "slack:A"); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, g.ID, "slack:U1", "slack:A"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Denied(ctx, g.ID, "slack:U1"); !d {
		t.Fatal("not denied after Deny")
	}
	if err := s.Undeny(ctx, g.ID, "slack:U1"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Denied(ctx, g.ID, "slack:U1"); d {
		t.Fatal("denied after Undeny")
	}
	// Deleting the group takes its held messages with it.
	if err := s.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.HeldMessages(ctx, HeldFilter{}); len(left) != 0 {
		t.Fatalf("held after group delete: %+v", left)
	}
}
