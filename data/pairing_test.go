package data

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPairingCodes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	if err := s.AddPairingCode(ctx, "h1", t0, t0.Add(10*time.Minute), 3); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hash, user string
		at         time.Time
		want       error
	}{
		{"nope", "x:a", t0, ErrNotFound},
		{"h1", "x:a", t0.Add(10 * time.Minute), ErrCodeExpired},
		{"h1", "x:a", t0.Add(9*time.Minute + 500*time.Millisecond), nil},
		{"h1", "x:b", t0.Add(time.Minute), ErrCodeUsed},
	}
	for _, tt := range tests {
		if err := s.ClaimPairingCode(ctx, tt.hash, tt.user, tt.at); !errors.Is(err, tt.want) {
			t.Errorf("claim %s at %v: %v, want %v", tt.hash, tt.at, err, tt.want)
		}
	}
	roles, _ := s.Roles(ctx, "")
	if len(roles) != 1 || roles[0].UserID != "x:a" || roles[0].Role != RoleOwner || roles[0].GroupID != "" {
		t.Fatalf("roles after claims: %+v", roles)
	}
	// Only the newest few codes stay pending; used and expired ones go.
	for i, h := range []string{"h2", "h3", "h4", "h5"} {
		at := t0.Add(time.Duration(i) * time.Second)
		if err := s.AddPairingCode(ctx, h, at, at.Add(10*time.Minute), 3); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PendingPairingCodes(ctx, t0.Add(5*time.Second)); err != nil || n != 3 {
		t.Errorf("pending = %d, %v; want 3", n, err)
	}
	if err := s.ClaimPairingCode(ctx, "h2", "x:c", t0.Add(5*time.Second)); !errors.Is(err, ErrNotFound) {
		t.Errorf("the oldest code was not dropped: %v", err)
	}
	if n, _ := s.PendingPairingCodes(ctx, t0.Add(time.Hour)); n != 0 {
		t.Errorf("pending after expiry = %d", n)
	}
}
