package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-dev/berth/channels"
)

func TestCountersMove(t *testing.T) {
	m := New()
	m.Routed("slack")
	m.Routed("slack")
	m.Routed("discord")
	m.Woke(true, 300*time.Millisecond)
	m.Woke(false, 10*time.Millisecond)
	m.Delivered("slack", 2*time.Second)
	m.Delivered("slack", 0)
	m.DeliveryFailed("discord")
	m.Retried()
	m.Failed()
	m.Running(3)
	m.Dropped("slack", "message is too long (70000 bytes; the limit is 65536)")
	m.Dropped("slack", "message is too long (80000 bytes; the limit is 65536)")
	m.Dropped("discord", "unwired channel")
	m.StateChanged(channels.StateQueued)
	m.StateChanged(channels.StateWorking)
	m.StateChanged(channels.StateWorking)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"messages in slack", testutil.ToFloat64(m.messagesIn.WithLabelValues("slack")), 2},
		{"messages in discord", testutil.ToFloat64(m.messagesIn.WithLabelValues("discord")), 1},
		{"messages out slack", testutil.ToFloat64(m.messagesOut.WithLabelValues("slack")), 2},
		{"wakes", testutil.ToFloat64(m.wakes), 2},
		{"cold starts", testutil.ToFloat64(m.coldStarts), 1},
		{"running", testutil.ToFloat64(m.running), 3},
		{"delivery failures", testutil.ToFloat64(m.deliveryFailed.WithLabelValues("discord")), 1},
		{"retries", testutil.ToFloat64(m.retries), 1},
		{"failures", testutil.ToFloat64(m.failures), 1},
		{"dropped too long", testutil.ToFloat64(m.dropped.WithLabelValues("slack", "message is too long")), 2},
		{"dropped unwired", testutil.ToFloat64(m.dropped.WithLabelValues("discord", "unwired channel")), 1},
		{"states queued", testutil.ToFloat64(m.states.WithLabelValues("queued")), 1},
		{"states working", testutil.ToFloat64(m.states.WithLabelValues("working")), 2},
		{"round trips timed", float64(testutil.CollectAndCount(m.roundTrip)), 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	m := New()
	m.Routed("terminal")
	m.Delivered("terminal", time.Second)
	m.StateChanged(channels.StateDone)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`berth_messages_in_total{channel="terminal"} 1`,
		`berth_messages_out_total{channel="terminal"} 1`,
		`berth_round_trip_seconds_count{channel="terminal"} 1`,
		`berth_message_states_total{state="done"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestTwoInstancesDoNotShareState(t *testing.T) {
	a, b := New(), New()
	a.Retried()
	if got := testutil.ToFloat64(b.retries); got != 0 {
		t.Fatalf("second instance sees %v retries", got)
	}
}

func TestReason(t *testing.T) {
	tests := []struct{ in, want string }{
		{"message is too long (70000 bytes; the limit is 65536)", "message is too long"},
		{"wiring pattern does not compile: error parsing regexp", "wiring pattern does not compile"},
		{"Unwired channel", "unwired channel"},
		{"", "other"},
		{strings.Repeat("x", 100), strings.Repeat("x", 40)},
	}
	for _, tt := range tests {
		if got := Reason(tt.in); got != tt.want {
			t.Errorf("Reason(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
