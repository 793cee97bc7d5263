package sessiondb

import (
	"context"
	"testing"
	"time"
)

func TestCounts(t *testing.T) {
	ctx := context.Background()
	h := Host{Dir: t.TempDir()}
	if c, err := h.Counts(ctx, time.Time{}); err != nil || c != (Counts{}) {
		t.Fatalf("no inbound.db: %+v, %v", c, err)
	}
	if err := h.Create(ctx, InMessage{ChannelType: "terminal", PlatformID: "local"}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	msgs := []InMessage{
		{ID: "a", Content: Content{Text: "pending"}},
		{ID: "b", Content: Content{Text: "pending too"}},
		{ID: "c", Content: Content{Text: "fails now"}},
		{ID: "d", Timestamp: old, Content: Content{Text: "failed long ago"}},
	}
	if _, err := h.Append(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c", "d"} {
		if failed, err := h.Retry(ctx, id, func(int) time.Duration { return 0 }, 1, "broken"); err != nil || !failed {
			t.Fatalf("retry %s: %v %v", id, failed, err)
		}
	}
	tests := []struct {
		name  string
		since time.Time
		want  Counts
	}{
		{"last hour", time.Now().Add(-time.Hour), Counts{Pending: 2, Failed: 1}},
		{"ever", time.Time{}, Counts{Pending: 2, Failed: 2}},
		{"future", time.Now().Add(time.Hour), Counts{Pending: 2}},
	}
	for _, tt := range tests {
		got, err := h.Counts(ctx, tt.since)
		if err != nil || got != tt.want {
			t.Errorf("%s: Counts = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}
