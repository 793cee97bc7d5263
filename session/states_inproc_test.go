package session_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// progressChannel is a TEST-ONLY fake channel that also records the
// states berth shows each message, by platform message id.
type progressChannel struct {
	*fakeChannel
	mu     sync.Mutex // guards states
	states map[string][]string
}

var _ channels.Progress = (*progressChannel)(nil)

func newProgressChannel() *progressChannel {
	return &progressChannel{fakeChannel: newFakeChannel(), states: map[string][]string{}}
}

// Status implements channels.Progress, recording "queued:2", "working", "retrying", …
func (p *progressChannel) Status(_ context.Context, t channels.Target, s channels.Status) {
	st := string(s.State)
	if s.State == channels.StateQueued {
		st += ":" + strconv.Itoa(s.Ahead)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.states[t.MessageID] = append(p.states[t.MessageID], st)
}

// of returns the states shown for a message so far.
func (p *progressChannel) of(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.states[id])
}

// waitFinal waits for a message to be shown done or failed, and returns its states.
func (p *progressChannel) waitFinal(t *testing.T, id string) []string {
	t.Helper()
	var got []string
	waitUntil(t, "message "+id+" never shown done or failed", func() bool {
		got = p.of(id)
		return len(got) > 0 && channels.State(got[len(got)-1]).Final()
	})
	return got
}

// stateObserver is a TEST-ONLY observer counting state changes.
type stateObserver struct {
	nopObs
	mu sync.Mutex // guards n
	n  map[channels.State]int
}

func (o *stateObserver) StateChanged(s channels.State) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[s]++
}

func (o *stateObserver) count(s channels.State) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[s]
}

// stateEvents returns the states of the "state" log events, checking each
// has the stable keys.
func stateEvents(t *testing.T, logs *channelstest.Buffer) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(logs.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["msg"] != "state" {
			continue
		}
		for _, k := range []string{"session", "channel", "message", "state"} {
			if s, _ := ev[k].(string); s == "" {
				t.Errorf("state event without %s: %s", k, line)
			}
		}
		st, _ := ev["state"].(string)
		out = append(out, st)
	}
	return out
}

// Each message shows the states it goes through, in order, ending done
// or failed; each change is logged and counted.
func TestStatesInProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		boot  time.Duration // how long a container takes to start
		fail  int           // sends that fail before one succeeds
		text  string
		want  []string
		reply string // in the one reply; "": none arrives
	}{
		{"answered", 0, 0, "hello", []string{"working", "done"}, "echo: hello"},
		// Shown only because the boot takes longer than about a second.
		{"slow boot shows starting", 1500 * time.Millisecond, 0, "hello", []string{"starting", "working", "done"}, "echo: hello"},
		{"crash is retrying, then failed", 0, 0, "crash", []string{"working", "retrying", "working", "failed"}, "could not answer"},
		{"a failed send is retrying", 0, 1, "hello", []string{"working", "retrying", "working", "done"}, "echo: hello"},
		{"an answer that cannot be delivered is failed", 0, 4, "hello", []string{"working", "retrying", "failed"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := containertest.New(containertest.Options{Boot: tt.boot})
			t.Cleanup(rt.Close)
			ch := newProgressChannel()
			ch.fail = tt.fail
			obs := &stateObserver{n: map[channels.State]int{}}
			logs := &channelstest.Buffer{}
			g := startInProc(t, rt, ch, "", func(c *session.Config) {
				c.MaxTries = 2
				c.Observer = obs
				c.Log = slog.New(slog.NewJSONHandler(logs, nil))
			})
			g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
			in := msg(tt.text)
			handle(t, g, in)
			got := ch.waitFinal(t, in.MessageID)
			if !slices.Equal(got, tt.want) {
				t.Errorf("states %q, want %q", got, tt.want)
			}
			if tt.reply != "" {
				if sent := ch.waitSent(t, 1, inProcTimeout); !strings.Contains(sent[0].Text, tt.reply) {
					t.Errorf("reply %q, want %q in it", sent[0].Text, tt.reply)
				}
			}
			logged := stateEvents(t, logs)
			for _, s := range tt.want {
				st := channels.State(s)
				want := strings.Count(strings.Join(tt.want, " "), s)
				if n := obs.count(st); n != want {
					t.Errorf("%s counted %d times, want %d", s, n, want)
				}
				if n := strings.Count(strings.Join(logged, " "), s); n != want {
					t.Errorf("%s logged %d times, want %d (%q)", s, n, want, logged)
				}
			}
		})
	}
}

// Behind the running-container cap a message is shown queued, with how
// many conversations wait before it, counted down as they get their turn.
func TestQueuedShowsHowManyAheadInProcess(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ch := newProgressChannel()
	g := startInProc(t, rt, ch, "", func(c *session.Config) {
		c.MaxRunning = 1
		c.IdleTimeout = 100 * time.Millisecond // each conversation makes room soon after its answer
	})
	var ins []channels.Inbound
	for i, text := range []string{"sleep 1s first", "second", "third"} {
		room := "room" + strconv.Itoa(i)
		g.Wire("fake", room, gatewaytest.Wire{IsDM: true})
		in := msg(text)
		in.PlatformID = room
		handle(t, g, in)
		ins = append(ins, in)
		if i == 0 {
			waitUntil(t, "the first conversation never worked", func() bool { return slices.Contains(ch.of(in.MessageID), "working") })
		}
	}
	for i, want := range [][]string{
		{"working", "done"},
		{"queued:0", "working", "done"},
		{"queued:1", "queued:0", "working", "done"},
	} {
		if got := ch.waitFinal(t, ins[i].MessageID); !slices.Equal(got, want) {
			t.Errorf("message %d (%q) shown %q, want %q", i, ins[i].Text, got, want)
		}
	}
	if n := rt.Peak(); n != 1 {
		t.Errorf("%d containers ran at once under a cap of 1", n)
	}
}
