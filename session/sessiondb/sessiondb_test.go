package sessiondb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-sqlite3"
)

func newSession(t testing.TB) (Host, Container) {
	t.Helper()
	dir := t.TempDir()
	h := Host{Dir: dir}
	if err := h.Create(context.Background(), InMessage{ChannelType: "terminal", PlatformID: "local"}); err != nil {
		t.Fatal(err)
	}
	c := Container{InDir: filepath.Join(dir, InDir), OutDir: filepath.Join(dir, OutDir)}
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h, c
}

func chat(id, text string) InMessage {
	return InMessage{ID: id, Kind: KindChat, Trigger: true, ChannelType: "terminal", PlatformID: "local", Content: Content{Text: text}}
}

func TestSeqParityOrdersTheConversation(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	ids, err := h.Append(ctx, chat("a", "one"), chat("b", "two"))
	if err != nil || len(ids) != 2 {
		t.Fatalf("append: %v %v", ids, err)
	}
	due, _ := c.Due(ctx, time.Now(), time.Now())
	if len(due) != 2 || due[0].Seq != 2 || due[1].Seq != 4 {
		t.Fatalf("due = %+v", due)
	}
	if err := c.Finish(ctx, []string{"a", "b"}, StatusCompleted, "", OutMessage{InReplyTo: "a", Content: OutContent{Text: "r1"}},
		OutMessage{InReplyTo: "b", Content: OutContent{Text: "r2"}}); err != nil {
		t.Fatal(err)
	}
	h.Append(ctx, chat("c", "three"))
	out, _ := h.Undelivered(ctx)
	if len(out) != 2 || out[0].Seq != 5 || out[1].Seq != 7 {
		t.Fatalf("replies = %+v", out)
	}
	due, _ = c.Due(ctx, time.Now(), time.Now())
	if len(due) != 1 || due[0].ID != "c" || due[0].Seq != 8 {
		t.Fatalf("third message = %+v, want seq 8 after odd 7", due)
	}
}

func TestAppendIsIdempotent(t *testing.T) {
	ctx := context.Background()
	h, _ := newSession(t)
	h.Append(ctx, chat("a", "one"))
	ids, err := h.Append(ctx, chat("a", "one again"))
	if err != nil || len(ids) != 0 {
		t.Fatalf("redelivery inserted %v, %v", ids, err)
	}
	open, _ := h.Open(ctx)
	if len(open) != 1 || open[0].Content.Text != "one" {
		t.Fatalf("open = %+v", open)
	}
}

func TestAcksFinishAndDelivery(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	c.Claim(ctx, "a")
	acks, _ := h.Acks(ctx)
	if acks["a"].Status != StatusProcessing {
		t.Fatalf("ack = %+v", acks["a"])
	}
	// A live runner's claim is not due again; a dead one's is.
	if due, _ := c.Due(ctx, time.Now().Add(-time.Hour), time.Now()); len(due) != 0 {
		t.Fatal("claimed message due for the runner that claimed it")
	}
	if due, _ := c.Due(ctx, time.Now().Add(time.Hour), time.Now()); len(due) != 1 {
		t.Fatal("stale claim not due for a new runner")
	}
	c.Finish(ctx, []string{"a"}, StatusCompleted, "", OutMessage{InReplyTo: "a", Content: OutContent{Text: "r"}})
	acks, _ = h.Acks(ctx)
	changed, err := h.Finish(ctx, acks)
	if err != nil || len(changed) != 1 {
		t.Fatalf("finish: %v %v", changed, err)
	}
	if open, _ := h.Open(ctx); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	out, _ := h.Undelivered(ctx)
	h.RecordDelivery(ctx, out[0], "p1", "delivered", "")
	if out, _ := h.Undelivered(ctx); len(out) != 0 {
		t.Fatalf("delivered twice: %+v", out)
	}
}

func TestRetryBacksOffThenFails(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	backoff := func(tries int) time.Duration { return time.Hour }
	for i := 1; i <= 3; i++ {
		failed, err := h.Retry(ctx, "a", backoff, 3, "container died")
		if err != nil {
			t.Fatal(err)
		}
		if failed != (i == 3) {
			t.Fatalf("try %d: failed = %v", i, failed)
		}
		if i == 1 {
			if due, _ := c.Due(ctx, time.Now(), time.Now()); len(due) != 0 {
				t.Fatal("message due before its backoff")
			}
		}
	}
	f, _ := h.FailedUnnotified(ctx)
	if len(f) != 1 || f[0].Error != "container died" {
		t.Fatalf("failed = %+v", f)
	}
	h.MarkNotified(ctx, "a")
	if f, _ := h.FailedUnnotified(ctx); len(f) != 0 {
		t.Fatal("notified twice")
	}
}

// TestContextOnlyRowsKeepNothingBusy: a pending row that does not trigger (an
// accumulate wiring's chatter, berth's own note to the agent) keeps no
// session busy, yet is still due, to ride along with the next turn.
func TestContextOnlyRowsKeepNothingBusy(t *testing.T) {
	note := InMessage{ID: "n", Kind: KindSystem, ChannelType: "terminal", PlatformID: "local",
		Content: Content{Event: "delivery_failed", Text: "Your reply could not be delivered"}}
	chatter := chat("c", "chatter")
	chatter.Trigger = false
	tests := []struct {
		name string
		rows []InMessage
		busy bool
	}{
		{"nothing", nil, false},
		{"chatter", []InMessage{chatter}, false},
		{"a note to the agent", []InMessage{note}, false},
		{"chatter and a note", []InMessage{chatter, note}, false},
		{"a message", []InMessage{chat("a", "one")}, true},
		{"chatter, then a message", []InMessage{chatter, chat("a", "one")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h, c := newSession(t)
			if len(tt.rows) > 0 {
				if _, err := h.Append(ctx, tt.rows...); err != nil {
					t.Fatal(err)
				}
			}
			busy, err := h.Busy(ctx)
			if err != nil || busy != tt.busy {
				t.Fatalf("Busy = %v, %v; want %v", busy, err, tt.busy)
			}
			due, err := c.Due(ctx, time.Now(), time.Now())
			if err != nil || len(due) != len(tt.rows) {
				t.Fatalf("due = %+v, %v; want all %d rows, context ones too", due, err, len(tt.rows))
			}
			if got := Triggers(due); got != tt.busy {
				t.Fatalf("Triggers = %v, want %v", got, tt.busy)
			}
		})
	}
}

// A reply being sent keeps its session busy until its outcome is
// recorded: it is past Undelivered's mark, but not settled.
func TestSendingReplyKeepsBusy(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	if _, err := h.Append(ctx, chat("a", "one")); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(ctx, []string{"a"}, StatusCompleted, "", OutMessage{InReplyTo: "a", Content: OutContent{Text: "echo: one"}}); err != nil {
		t.Fatal(err)
	}
	acks, err := h.Acks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Finish(ctx, acks); err != nil {
		t.Fatal(err)
	}
	out, err := h.Undelivered(ctx)
	if err != nil || len(out) != 1 {
		t.Fatalf("undelivered = %+v, %v; want the reply", out, err)
	}
	busy := func(want bool, when string) {
		t.Helper()
		if b, err := h.Busy(ctx); err != nil || b != want {
			t.Fatalf("%s: Busy = %v, %v; want %v", when, b, err, want)
		}
	}
	busy(true, "reply written")
	if err := h.BeginDelivery(ctx, out[0]); err != nil {
		t.Fatal(err)
	}
	busy(true, "reply being sent")
	if err := h.RecordDelivery(ctx, out[0], "p1", DeliveryDelivered, ""); err != nil {
		t.Fatal(err)
	}
	busy(false, "reply delivered")
}

func TestHostRefusesPlantedSymlink(t *testing.T) {
	ctx := context.Background()
	h, _ := newSession(t)
	os.Remove(h.OutboundPath())
	secret := filepath.Join(t.TempDir(), "secret.db")
	os.WriteFile(secret, []byte("host secret"), 0o600)
	if err := os.Symlink(secret, h.OutboundPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Undelivered(ctx); err == nil {
		t.Fatal("host read outbound.db through a symlink the agent planted")
	}
}

func TestOversizedReplyIsCut(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	huge := strings.Repeat("é", MaxReply) // twice MaxReply in bytes
	c.Finish(ctx, []string{"a"}, StatusCompleted, "", OutMessage{InReplyTo: "a", Content: OutContent{Text: huge}})
	out, err := h.Undelivered(ctx)
	if err != nil || len(out) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	if n := len(out[0].Content.Text); n > MaxReply+200 || !strings.Contains(out[0].Content.Text, "reply cut") {
		t.Fatalf("reply of %d bytes delivered", n)
	}
	if !utf8.ValidString(out[0].Content.Text) {
		t.Fatal("cut inside a character")
	}
}

func TestDiskFull(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"sqlite full", fmt.Errorf("insert message m1: %w", sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{"enospc", &os.PathError{Op: "write", Path: "inbound.db", Err: syscall.ENOSPC}, true},
		{"joined", errors.Join(errors.New("other"), sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{"busy", sqlite3.Error{Code: sqlite3.ErrBusy}, false},
		{"text only", errors.New("database or disk is full"), false},
	} {
		if got := DiskFull(tt.err); got != tt.want {
			t.Errorf("%s: DiskFull(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestEndSettlesOnlyPendingMessages(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		status  Status
		ids     []string
		changed []string // ids End reports
		wantErr bool
	}{
		{"cancel the claimed one", StatusCancelled, []string{"claimed"}, []string{"claimed"}, false},
		{"fail every waiting one", StatusFailed, []string{"claimed", "waiting"}, []string{"claimed", "waiting"}, false},
		{"a finished one stays finished", StatusCancelled, []string{"done", "claimed"}, []string{"claimed"}, false},
		{"an unknown id changes nothing", StatusFailed, []string{"nope"}, nil, false},
		{"pending is no final status", StatusPending, []string{"claimed"}, nil, true},
		{"completed is the agent's to say", StatusCompleted, []string{"claimed"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := newSession(t)
			if _, err := h.Append(ctx, chat("done", "one"), chat("claimed", "two"), chat("waiting", "three")); err != nil {
				t.Fatal(err)
			}
			if err := c.Finish(ctx, []string{"done"}, StatusCompleted, ""); err != nil {
				t.Fatal(err)
			}
			acks, _ := h.Acks(ctx)
			if _, err := h.Finish(ctx, acks); err != nil {
				t.Fatal(err)
			}
			if err := c.Claim(ctx, "claimed"); err != nil {
				t.Fatal(err)
			}
			changed, err := h.End(ctx, tt.status, "why", tt.ids...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("End: %v, want error %v", err, tt.wantErr)
			}
			if strings.Join(changed, ",") != strings.Join(tt.changed, ",") {
				t.Errorf("changed %v, want %v", changed, tt.changed)
			}
			// What End changed is no longer pending: no runner sees it due
			// and the host reads no ack of it.
			open, _ := h.Open(ctx)
			due, _ := c.Due(ctx, time.Now().Add(time.Hour), time.Now()) // every claim is stale: due again if pending
			for _, id := range changed {
				for _, m := range append(open, due...) {
					if m.ID == id {
						t.Errorf("%s still pending after End", id)
					}
				}
			}
			failed, _ := h.FailedUnnotified(ctx)
			cancelled, _ := h.Cancelled(ctx, 10)
			if tt.status == StatusFailed && len(failed) != len(changed) {
				t.Errorf("%d failures to tell, want %d", len(failed), len(changed))
			}
			if tt.status == StatusCancelled {
				if len(failed) != 0 {
					t.Errorf("a cancelled message is told as failed: %+v", failed)
				}
				if strings.Join(cancelled, ",") != strings.Join(changed, ",") {
					t.Errorf("Cancelled = %v, want %v", cancelled, changed)
				}
			}
		})
	}
}

func TestCancelledNewestFirstBounded(t *testing.T) {
	ctx := context.Background()
	h, _ := newSession(t)
	for i := range 5 {
		id := fmt.Sprint("m", i)
		if _, err := h.Append(ctx, chat(id, "x")); err != nil {
			t.Fatal(err)
		}
		if _, err := h.End(ctx, StatusCancelled, "stopped", id); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.Cancelled(ctx, 3)
	if err != nil || strings.Join(got, ",") != "m4,m3,m2" {
		t.Fatalf("Cancelled(3) = %v, %v; want the newest three", got, err)
	}
	if got, err := (Host{Dir: t.TempDir()}).Cancelled(ctx, 3); err != nil || len(got) != 0 {
		t.Fatalf("Cancelled without inbound.db = %v, %v", got, err)
	}
}
