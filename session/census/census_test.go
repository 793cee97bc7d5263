package census

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/sessiondb"
)

func TestMessages(t *testing.T) {
	ctx := context.Background()
	home := paths.Home(t.TempDir())
	ss := []data.Session{{ID: "s1", AgentGroupID: "g"}, {ID: "s2", AgentGroupID: "g"}, {ID: "no-file", AgentGroupID: "g"}}
	for i, s := range ss[:2] {
		h := sessiondb.Host{Dir: home.Session(s.AgentGroupID, s.ID)}
		if err := h.Create(ctx, sessiondb.InMessage{ChannelType: "slack", PlatformID: "C"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Append(ctx, sessiondb.InMessage{ID: "a", Content: sessiondb.Content{Text: "waits"}},
			sessiondb.InMessage{ID: "b", Content: sessiondb.Content{Text: "fails"}}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := h.End(ctx, sessiondb.StatusFailed, "broken", "b"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p, f := Messages(ctx, home, ss, time.Now().Add(-time.Hour)); p != 3 || f != 1 {
		t.Errorf("Messages = %d pending, %d failed; want 3, 1", p, f)
	}
}

// engine lists fixed containers and measures all but one.
type engine struct{ list []container.Info }

func (e engine) List(context.Context, map[string]string) ([]container.Info, error) {
	return e.list, nil
}

func (e engine) Stats(_ context.Context, id string) (container.Stats, error) {
	if id == "unmeasured" {
		return container.Stats{}, errors.New("no stats")
	}
	return container.Stats{CPUPercent: 1, MemoryBytes: 2}, nil
}

func TestRunningAndMeasure(t *testing.T) {
	now := time.Now()
	e := engine{list: []container.Info{
		{ID: "young", State: "running", Created: now},
		{ID: "exited", State: "exited", Created: now.Add(-2 * time.Hour)},
		{ID: "old", State: "running", Created: now.Add(-time.Hour)},
		{ID: "unmeasured", State: "running", Created: now.Add(-time.Minute)},
	}}
	list, err := Running(context.Background(), e, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if len(ids) != 3 || ids[0] != "old" || ids[1] != "unmeasured" || ids[2] != "young" {
		t.Fatalf("Running = %v, want the running ones oldest first", ids)
	}
	stats := Measure(context.Background(), e, list)
	if _, ok := stats["unmeasured"]; ok || len(stats) != 2 || stats["old"].MemoryBytes != 2 {
		t.Errorf("Measure = %v", stats)
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {12 << 20, "12.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := Bytes(tt.n); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0s"}, {1500 * time.Millisecond, "2s"}, {90 * time.Minute, "1h30m0s"}, {61*time.Minute + 20*time.Second, "1h1m0s"}} {
		if got := Age(tt.d); got != tt.want {
			t.Errorf("Age(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
