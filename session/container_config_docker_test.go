package session_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestContainerConfigIsValidated: a group's container_config asked for the
// host's network and no pids limit, and both were honoured. Now a refused
// setting fails the message at once (no five wakes first) with a reason
// naming the key, no container is started for it, and a valid config
// still gets network "none" and a pids limit.
func TestContainerConfigIsValidated(t *testing.T) {
	t.Parallel()
	g, ch := start(t, func(c *session.Config) { c.Poll = 100 * time.Millisecond })
	tests := []struct {
		room, config string
		want         string // in the failure text; "" means answered
		pids         int64  // when answered: the container's pids limit
	}{
		{"net-host", `{"network":"host"}`, `"network" is "host"`, 0},
		{"net-bridge", `{"network":"bridge","pids":64}`, `"network" is "bridge"`, 0},
		{"pids-neg", `{"pids":-1}`, `"pids" is -1`, 0},
		{"pids-zero", `{"pids":0}`, `"pids" is 0`, 0},
		{"mem-neg", `{"memory":-1}`, `"memory" is -1`, 0},
		{"cpus-zero", `{"nano_cpus":0}`, `"nano_cpus" is 0`, 0},
		{"image", `{"image":"docker.io/library/busybox:latest"}`, `"image" is "docker.io/library/busybox:latest", which is not berth's agent image`, 0},
		{"not-json", `{"pids":"many"}`, "not valid JSON", 0},
		{"ok-none", `{"network":"none","pids":64}`, "", 64},
		{"ok-default", `{}`, "", 256},
	}
	ctx := context.Background()
	for _, tt := range tests {
		w := g.Wire("fake", tt.room, gatewaytest.Wire{IsDM: true, Group: tt.room})
		if err := g.Store.UpdateGroupConfig(ctx, w.AgentGroupID, "", "", tt.config); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	for _, tt := range tests {
		in := msg("hello " + tt.room)
		in.PlatformID = tt.room
		handle(t, g, in)
	}
	ch.waitSent(t, len(tests), 90*time.Second)
	replies := map[string]string{}
	for _, o := range ch.Sent() {
		replies[o.PlatformID] = o.Text
	}
	byRoom := map[string]string{}
	for _, s := range g.Sessions() {
		w, err := g.Store.Group(ctx, s.AgentGroupID)
		if err != nil {
			t.Fatal(err)
		}
		byRoom[w.Folder] = s.ID
	}
	for _, tt := range tests {
		got := replies[tt.room]
		if tt.want == "" {
			if got != "echo: hello "+tt.room {
				t.Errorf("%s: reply %q, want an answer", tt.room, got)
				continue
			}
			ctrs := g.Containers(byRoom[tt.room])
			if len(ctrs) != 1 {
				t.Errorf("%s: %d containers", tt.room, len(ctrs))
				continue
			}
			hc := inspectHost(t, g, ctrs[0].ID)
			if hc.NetworkMode != "none" || hc.PidsLimit != tt.pids {
				t.Errorf("%s: network %q, pids limit %d; want none, %d", tt.room, hc.NetworkMode, hc.PidsLimit, tt.pids)
			}
			// Seen from inside: no interface but loopback, and the nofile cap.
			out, err := g.Exec(byRoom[tt.room], "ulimit -n; ls /sys/class/net")
			if err != nil || strings.Fields(out)[0] != "1024" || strings.TrimSpace(strings.Join(strings.Fields(out)[1:], " ")) != "lo" {
				t.Errorf("%s: inside the container: %q (%v), want nofile 1024 and only lo", tt.room, out, err)
			}
			continue
		}
		if !strings.Contains(got, "could not answer") || !strings.Contains(got, "container_config is refused") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: failure text %q, want it to say %s", tt.room, got, tt.want)
		}
		if n := len(g.Containers(byRoom[tt.room])); n != 0 {
			t.Errorf("%s: %d containers started for a refused config", tt.room, n)
		}
	}
	// Five wakes with backoff would take longer; the refusal is told at once.
	if d := time.Since(began); d > 45*time.Second {
		t.Errorf("the refusals took %v", d)
	}
}

// TestOutOfMemoryIsReported: the agent uses more memory than its group's
// limit; the kernel kills it. The person is told it ran out of memory and
// what the limit is, the log says so, and the session answers again.
func TestOutOfMemoryIsReported(t *testing.T) {
	t.Parallel()
	g, ch, logs := startLimited(t, `{"memory":67108864}`)
	handle(t, g, msg("alloc 8"))
	if got := ch.waitSent(t, 1, 60*time.Second); got[0].Text != "echo: allocated 8 MiB" {
		t.Fatalf("a small allocation: %q", got[0].Text)
	}
	handle(t, g, msg("alloc 400"))
	got := ch.waitSent(t, 2, 90*time.Second)
	if !strings.Contains(got[1].Text, "could not answer") || !strings.Contains(got[1].Text, "the agent ran out of memory (limit 64 MiB)") {
		t.Fatalf("failure text = %q", got[1].Text)
	}
	if !strings.Contains(logs.String(), `"msg":"out of memory"`) || !strings.Contains(logs.String(), `"limit_bytes":67108864`) {
		t.Errorf("no out-of-memory log line:\n%s", logs.String())
	}
	handle(t, g, msg("after"))
	if got := ch.waitSent(t, 3, 60*time.Second); got[2].Text != "echo: after" {
		t.Fatalf("after the OOM: %q", got[2].Text)
	}
}

type hostConfig struct {
	NetworkMode string
	PidsLimit   int64
	Memory      int64
}

func inspectHost(t *testing.T, g *gatewaytest.Gateway, id string) hostConfig {
	t.Helper()
	raw, err := g.Docker.InspectRaw(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ HostConfig hostConfig }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.HostConfig
}
