package sessiondb

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestHistory(t *testing.T) {
	ctx := context.Background()
	h, c := newTaskSession(t)
	if got, err := h.History(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("empty session: %+v, %v", got, err)
	}
	long := strings.Repeat("é", MaxHistoryText)
	if _, err := h.Append(ctx,
		InMessage{ID: "answered", Kind: KindChat, Content: Content{Text: "hello", SenderName: "Ana"}},
		InMessage{ID: "working", Kind: KindChat, Content: Content{Text: long}},
		InMessage{ID: "queued", Kind: KindChat, Content: Content{Text: "later"}},
		InMessage{ID: "failed", Kind: KindChat, Content: Content{Text: "breaks"}},
	); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	reply := OutMessage{ID: "r1", InReplyTo: "answered", Kind: KindChat, Content: OutContent{Text: "echo: hello"}}
	if err := c.Finish(ctx, []string{"answered"}, StatusCompleted, "", reply); err != nil {
		t.Fatal(err)
	}
	if err := c.Claim(ctx, "working"); err != nil {
		t.Fatal(err)
	}
	acks, err := h.Acks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Finish(ctx, map[string]Ack{"answered": acks["answered"]}); err != nil {
		t.Fatal(err)
	}
	if failed, err := h.Retry(ctx, "failed", func(int) time.Duration { return 0 }, 1, "broken"); err != nil || !failed {
		t.Fatalf("retry: %v %v", failed, err)
	}
	if err := h.RecordDelivery(ctx, OutMessage{ID: "r1", Seq: 1}, "P123", DeliveryDelivered, ""); err != nil {
		t.Fatal(err)
	}

	got, err := h.History(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "failed,queued,working,answered" {
		t.Fatalf("order = %v, want newest first", ids)
	}
	byID := map[string]Message{}
	for _, m := range got {
		byID[m.ID] = m
	}
	tests := []struct {
		id      string
		status  Status
		working bool
		replies int
	}{
		{"answered", StatusCompleted, false, 1},
		{"working", StatusPending, true, 0},
		{"queued", StatusPending, false, 0},
		{"failed", StatusFailed, false, 0},
	}
	for _, tt := range tests {
		m := byID[tt.id]
		if m.Status != tt.status || m.Working != tt.working || len(m.Replies) != tt.replies {
			t.Errorf("%s: status %s working %v replies %d; want %s %v %d", tt.id, m.Status, m.Working, len(m.Replies), tt.status, tt.working, tt.replies)
		}
	}
	if r := byID["answered"].Replies[0]; r.PlatformID != "P123" || r.Status != DeliveryDelivered || r.At.IsZero() {
		t.Errorf("reply = %+v, want posted as P123", r)
	}
	if m := byID["answered"]; m.Text != "hello" || m.SenderName != "Ana" {
		t.Errorf("answered = %q from %q", m.Text, m.SenderName)
	}
	if w := byID["working"].Text; len(w) > MaxHistoryText+len("…") || !strings.HasSuffix(w, "…") {
		t.Errorf("long text kept %d bytes, want it cut to %d", len(w), MaxHistoryText)
	}
	if e := byID["failed"].Error; e != "broken" {
		t.Errorf("failed error = %q", e)
	}
	if got, err := h.History(ctx, 2); err != nil || len(got) != 2 {
		t.Errorf("limit 2: %d, %v", len(got), err)
	}
}
