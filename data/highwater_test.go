package data

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
)

func TestThreadHighWater(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for _, id := range []string{"1700000000.000300", "1700000000.000500", "1700000000.000400"} {
		if err := s.AdvanceThreadHighWater(ctx, "slack", "C1", "1700000000.000100", id); err != nil {
			t.Fatal(err)
		}
	}
	if hw, err := s.ThreadHighWater(ctx, "slack", "C1", "1700000000.000100"); err != nil || hw != "1700000000.000500" {
		t.Fatalf("thread high water = %q, %v; want the newest", hw, err)
	}
	// A thread's mark is its own: the channel's and other threads' stay.
	if hw, _ := s.HighWater(ctx, "slack", "C1"); hw != "" {
		t.Fatalf("channel high water = %q, want none", hw)
	}
	if hw, _ := s.ThreadHighWater(ctx, "slack", "C1", "1700000000.000200"); hw != "" {
		t.Fatalf("other thread's high water = %q, want none", hw)
	}
}

// TestRecentThreads checks which threads a catch-up asks about: those of
// active per-thread sessions and those with a mark, recent ones only, each
// once, with its mark.
func TestRecentThreads(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	g := AgentGroup{Name: "a", Folder: "a"}
	if err := s.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	mg, err := s.EnsureMessagingGroup(ctx, "slack", "C1", "c1", false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.EnsureMessagingGroup(ctx, "slack", "C2", "c2", false)
	if err != nil {
		t.Fatal(err)
	}
	session := func(mg MessagingGroup, thread string) {
		t.Helper()
		if _, _, err := s.ResolveSession(ctx, SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, ThreadID: thread, Mode: SessionPerThread}); err != nil {
			t.Fatal(err)
		}
	}
	session(mg, "100.1")  // a session, no mark yet
	session(mg, "200.1")  // a session and a mark
	session(other, "9.1") // another conversation's
	for _, m := range [][2]string{{"200.1", "200.5"}, {"300.1", "300.2"}} {
		if err := s.AdvanceThreadHighWater(ctx, "slack", "C1", m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AdvanceThreadHighWater(ctx, "discord", "C1", "400.1", "400.2"); err != nil { // another platform's
		t.Fatal(err)
	}
	got, err := s.RecentThreads(ctx, mg, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b channels.ThreadMark) int { return channels.CompareIDs(a.ThreadID, b.ThreadID) })
	want := []channels.ThreadMark{{ThreadID: "100.1"}, {ThreadID: "200.1", After: "200.5"}, {ThreadID: "300.1", After: "300.2"}}
	if !slices.Equal(got, want) {
		t.Fatalf("RecentThreads = %v, want %v", got, want)
	}
	// Nothing is recent once the window starts after it all.
	if got, err := s.RecentThreads(ctx, mg, time.Now().Add(time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("RecentThreads after the window = %v, %v; want none", got, err)
	}
}
