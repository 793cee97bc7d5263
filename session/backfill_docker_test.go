package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// historyChannel is a TEST-ONLY channel with a history it can be asked
// about, like Slack's conversations.history.
type historyChannel struct {
	*fakeChannel
	history []channels.Inbound
	asked   []string
}

func (h *historyChannel) Missed(ctx context.Context, platformID, after string, since time.Time) ([]channels.Inbound, error) {
	h.asked = append(h.asked, after)
	var out []channels.Inbound
	for _, in := range h.history {
		if in.PlatformID == platformID && channels.CompareIDs(in.MessageID, after) > 0 {
			out = append(out, in)
		}
	}
	return out, nil
}

func TestBackfillAnswersWhatWasMissedOnce(t *testing.T) {
	t.Parallel()
	ch := &historyChannel{fakeChannel: newFakeChannel()}
	g := gatewaytest.Start(t, gatewaytest.Options{Channels: []channels.Channel{ch}})
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	at := func(id, text string) channels.Inbound {
		in := msg(text)
		in.MessageID = id
		return in
	}
	handle(t, g, at("1700000000.000100", "seen before the outage"))
	ch.waitSent(t, 1, 60*time.Second)
	// While berth was away: two new messages; the platform's history also
	// still holds the one berth handled.
	ch.history = []channels.Inbound{
		at("1700000000.000100", "seen before the outage"),
		at("1700000000.000200", "missed one"),
		at("1700000000.000300", "missed two"),
	}
	if err := g.Manager.Backfill(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	if len(ch.asked) != 1 || ch.asked[0] != "1700000000.000100" {
		t.Fatalf("asked for history after %v", ch.asked)
	}
	got := ch.waitSent(t, 3, 60*time.Second)
	if got[1].Text != "echo: missed one" || got[2].Text != "echo: missed two" {
		t.Fatalf("backfilled replies = %q, %q", got[1].Text, got[2].Text)
	}
	// A second backfill (a reconnect) finds nothing new to answer.
	g.Manager.Backfill(context.Background(), ch)
	g.WaitIdle(30 * time.Second)
	if n := len(ch.Sent()); n != 3 {
		t.Fatalf("%d replies after a second backfill, want 3", n)
	}
}
