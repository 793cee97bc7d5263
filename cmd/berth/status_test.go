package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway"
	"github.com/berth-dev/berth/session/sessiondb"
)

func TestGatewayRunning(t *testing.T) {
	home := t.TempDir()
	if up, err := gatewayRunning(home); up || err != nil {
		t.Fatalf("no lock file: up=%v err=%v", up, err)
	}
	lock, err := lockHome(home)
	if err != nil {
		t.Fatal(err)
	}
	if up, err := gatewayRunning(home); !up || err != nil {
		t.Fatalf("locked: up=%v err=%v", up, err)
	}
	// Probing must not get in a gateway's way.
	lock.Close()
	if up, _ := gatewayRunning(home); up {
		t.Fatal("unlocked but reported up")
	}
	again, err := lockHome(home)
	if err != nil {
		t.Fatalf("a probe left the lock taken: %v", err)
	}
	again.Close()
}

// TestStatusScreen builds a state folder by hand (store, a session with
// pending and failed messages, a status file, a held lock) and reads it
// back with Docker unreachable.
func TestStatusScreen(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	store, err := data.Open(ctx, paths.Home(home).Store())
	if err != nil {
		t.Fatal(err)
	}
	g := data.AgentGroup{Name: "main", Folder: "main"}
	if err := store.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	mg, err := store.EnsureMessagingGroup(ctx, "slack", "C1", "general", false)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, Mode: data.SessionShared})
	if err != nil {
		t.Fatal(err)
	}
	store.SetContainerState(ctx, s.ID, data.ContainerRunning, "c1")
	store.Close()
	h := sessiondb.Host{Dir: paths.Home(home).Session(g.ID, s.ID)}
	h.Create(ctx, sessiondb.InMessage{})
	h.Append(ctx, sessiondb.InMessage{ID: "p1"}, sessiondb.InMessage{ID: "p2"}, sessiondb.InMessage{ID: "f1"})
	h.Retry(ctx, "f1", func(int) time.Duration { return 0 }, 1, "broken")

	lock, err := lockHome(home)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	now := time.Now()
	started := now.Add(-90 * time.Minute)
	writeJSONFile(paths.Home(home).Status(), gatewayStatus{PID: 4242, Started: started, Updated: now,
		Channels: []channelStatus{{Name: "slack", State: "configured"},
			{Name: "discord", State: "connected", Conn: &channelConn{Connected: true, LastEvent: now.Add(-42 * time.Second), Reconnects: 3, DeafReconnects: 2}}},
		MetricsAddr: "127.0.0.1:9464"})

	var out bytes.Buffer
	if err := writeStatus(ctx, config{Home: home, DockerHost: "unix:///tmp/nonexistent.sock"}, &out, now); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"up, pid 4242", "1h30m0s", "http://127.0.0.1:9464/metrics",
		"slack (configured)",
		// The last event's age is counted when status is read, not when
		// the file was written.
		"discord (connected, last event 42s ago, 3 reconnects, 2 deaf reconnects)",
		"groups      1: main",
		"1 active: 1 running; 0 closed",
		"2 pending, 1 failed in the last hour",
		"Docker unreachable",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
}

func TestStatusDown(t *testing.T) {
	home := t.TempDir()
	var out bytes.Buffer
	if err := writeStatus(context.Background(), config{Home: home, DockerHost: "unix:///tmp/nonexistent.sock"}, &out, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"down (start it with: berth run)", "store", "none yet"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

// openObserved opens a gateway on the TEST-ONLY in-process runtime (no
// Docker) with cfg's metrics address and cmd/berth's Observe hook, and
// returns what the hook started.
func openObserved(t *testing.T, cfg config, log *slog.Logger) (*gateway.Gateway, gateway.Observation) {
	t.Helper()
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	hook := observe(cfg, log)
	var obs gateway.Observation
	g, err := gateway.Open(context.Background(), gateway.Config{
		Home: paths.Home(cfg.Home), Runtime: rt, MetricsAddr: cfg.MetricsAddr, Log: log,
		Observe: func(ctx context.Context, d session.Runtime, metricsAddr, consoleAddr string) (gateway.Observation, error) {
			var err error
			obs, err = hook(ctx, d, metricsAddr, consoleAddr)
			return obs, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
	})
	return g, obs
}

// TestObservabilityLifecycle starts what a gateway starts beside its core
// and checks the status file and metrics endpoint come and go.
func TestObservabilityLifecycle(t *testing.T) {
	home := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	g, o := openObserved(t, config{Home: home, MetricsAddr: "127.0.0.1:0", DiscordToken: "x"}, log)
	if g.Metrics() == nil || o.ContainerLogs == nil {
		t.Fatal("no observer or capture")
	}
	var st gatewayStatus
	deadline := time.Now().Add(5 * time.Second)
	for readJSONFile(paths.Home(home).Status(), &st) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no status.json")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.PID != os.Getpid() || len(st.Channels) != 1 || st.Channels[0].Name != "discord" || st.MetricsAddr == "" {
		t.Fatalf("status = %+v", st)
	}
	g.Metrics().Routed("discord")
	resp, err := http.Get("http://" + st.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `berth_messages_in_total{channel="discord"} 1`) {
		t.Fatalf("/metrics:\n%.2000s", body)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths.Home(home).Status()); err == nil {
		t.Fatal("status.json left behind")
	}
	if _, err := http.Get("http://" + st.MetricsAddr + "/metrics"); err == nil {
		t.Fatal("metrics endpoint still up")
	}
}

func TestObservabilityNoMetrics(t *testing.T) {
	g, _ := openObserved(t, config{Home: t.TempDir()}, slog.New(slog.DiscardHandler))
	if g.Metrics() != nil || g.MetricsAddr() != "" {
		t.Fatal("an observer without --metrics-addr")
	}
}

// TestStatusConsole: status names the console's address, says when the
// listener serves none, and reads a file from a gateway older than
// console_addr as it was (the console at the metrics address).
func TestStatusConsole(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   gatewayStatus
		want []string
		not  string
	}{
		{"console", gatewayStatus{MetricsAddr: "127.0.0.1:7777", ConsoleAddr: "127.0.0.1:7777"},
			[]string{"console at http://127.0.0.1:7777/", "metrics at http://127.0.0.1:7777/metrics"}, "no console"},
		{"two listeners", gatewayStatus{MetricsAddr: "0.0.0.0:9464", ConsoleAddr: "127.0.0.1:7777"},
			[]string{"console at http://127.0.0.1:7777/", "metrics at http://0.0.0.0:9464/metrics"}, "no console"},
		{"metrics only", gatewayStatus{MetricsAddr: "0.0.0.0:9464", NoConsole: true},
			[]string{"no console (--metrics-addr", "metrics at http://0.0.0.0:9464/metrics"}, "console at"},
		{"older gateway", gatewayStatus{MetricsAddr: "127.0.0.1:9464"},
			[]string{"console at http://127.0.0.1:9464/"}, "no console"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			lock, err := lockHome(home)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Close()
			now := time.Now()
			tt.st.PID, tt.st.Started, tt.st.Updated = 4242, now, now
			writeJSONFile(paths.Home(home).Status(), tt.st)
			var out bytes.Buffer
			if err := writeStatus(context.Background(), config{Home: home, DockerHost: "unix:///tmp/nonexistent.sock"}, &out, now); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("status lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), tt.not) {
				t.Errorf("status says %q:\n%s", tt.not, out.String())
			}
		})
	}
}
