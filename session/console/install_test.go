package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/console"
	"github.com/berth-dev/berth/session/sessiondb"
)

// fakeContainers is a runtime that holds a list of containers: the
// console's handler tests need what it lists and stops, not containers
// that run (the browser test runs real ones).
type fakeContainers struct {
	mu      sync.Mutex // guards list and listErr
	list    []container.Info
	listErr error // what List fails with, when set
}

// failList makes List fail with err.
func (f *fakeContainers) failList(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listErr = err
}

var _ console.Containers = (*fakeContainers)(nil)

func (f *fakeContainers) List(_ context.Context, labels map[string]string) ([]container.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []container.Info
	for _, c := range f.list {
		match := true
		for k, v := range labels {
			match = match && c.Labels[k] == v
		}
		if match {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeContainers) Stats(context.Context, string) (container.Stats, error) {
	return container.Stats{CPUPercent: 12.5, MemoryBytes: 50 << 20}, nil
}

func (f *fakeContainers) LogsSince(_ context.Context, _ string, _ time.Time, stdout, _ io.Writer) error {
	_, err := io.WriteString(stdout, "runner started\n")
	return err
}

func (f *fakeContainers) Stop(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.list {
		if f.list[i].ID == id {
			f.list[i].State = "exited"
		}
	}
	return nil
}

func (f *fakeContainers) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.list {
		if c.Running() {
			n++
		}
	}
	return n
}

// fakeSessions records the sessions reset.
type fakeSessions struct {
	mu    sync.Mutex // guards reset
	reset []string
	store *data.Store
}

func (f *fakeSessions) ResetSession(ctx context.Context, id string) (groups.Halted, error) {
	f.mu.Lock()
	f.reset = append(f.reset, id)
	f.mu.Unlock()
	return groups.Halted{}, f.store.CloseSession(ctx, id)
}

func (f *fakeSessions) wasReset(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.reset, id)
}

// healthyChannel is a channel that says it is connected.
type healthyChannel struct{ name string }

func (c healthyChannel) Type() string                                      { return c.name }
func (c healthyChannel) Run(ctx context.Context, _ channels.Handler) error { <-ctx.Done(); return nil }
func (c healthyChannel) Send(context.Context, channels.Outbound) (string, error) {
	return "", nil
}
func (c healthyChannel) Health() channels.Conn {
	return channels.Conn{Connected: true, LastEvent: time.Now().Add(-3 * time.Second)}
}

// install is a berth install for the console to show: a real store in
// a temporary BERTH_HOME.
type install struct {
	home     paths.Home
	store    *data.Store
	rt       *fakeContainers
	sessions *fakeSessions
	srv      *console.Server
	ids      []string // the sessions, the first one busy
	logs     *syncBuffer
}

// syncBuffer is a log's output, read by a test while the server writes.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// options shape an install.
type options struct {
	sessions int  // 0: an empty install
	loopback bool // the listener is loopback only
	token    bool // a token is set
	logLines int
	inbound  bool // every session has an inbound.db with a message
	captured bool // containers' output is read from berth run's capture files
}

func newInstall(t testing.TB, o options) (*install, string) {
	t.Helper()
	ctx := context.Background()
	home := paths.Home(t.TempDir())
	st, err := data.Open(ctx, home.Store())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	in := &install{home: home, store: st, rt: &fakeContainers{}, sessions: &fakeSessions{store: st}, logs: &syncBuffer{}}
	tok := ""
	if o.token {
		if tok, err = console.NewToken(home); err != nil {
			t.Fatal(err)
		}
	}
	if o.sessions > 0 {
		in.populate(t, o.sessions)
	}
	if o.inbound {
		in.fillInbound(t)
	}
	if o.logLines > 0 {
		writeLog(t, home, o.logLines)
	}
	srv, err := console.New(console.Config{
		Home: home, Store: st, Containers: in.rt, Sessions: in.sessions,
		Channels:   []channels.Channel{healthyChannel{"slack"}},
		Install:    groups.Install{Provider: "echo", Image: "berth-agent:latest", IdleTimeout: 10 * time.Minute},
		MaxRunning: 4, Loopback: o.loopback, OutputFromLogs: o.captured, Log: slog.New(slog.NewJSONHandler(in.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	in.srv = srv
	srv.Refresh(ctx)
	return in, tok
}

// populate makes two groups wired to two conversations and n sessions;
// the first has messages in every outcome and a running container.
func (in *install) populate(t testing.TB, n int) {
	t.Helper()
	ctx := context.Background()
	var gs []data.AgentGroup
	for _, name := range []string{"team", "ops"} {
		g := data.AgentGroup{Name: name, Folder: name}
		if err := in.store.CreateGroup(ctx, &g); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	var mgs []data.MessagingGroup
	for i, ch := range []string{"slack", "discord"} {
		mg, err := in.store.EnsureMessagingGroup(ctx, ch, fmt.Sprintf("C%d", i), "general", false)
		if err != nil {
			t.Fatal(err)
		}
		w := data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: gs[i].ID, Engage: data.EngagePattern, Pattern: ".", SessionMode: data.SessionPerThread}
		if err := in.store.Wire(ctx, &w); err != nil {
			t.Fatal(err)
		}
		mgs = append(mgs, mg)
	}
	for i := range n {
		k := data.SessionKey{AgentGroupID: gs[i%2].ID, MessagingGroupID: mgs[i%2].ID, ThreadID: fmt.Sprintf("17000000%02d.%06d", i%100, i), Mode: data.SessionPerThread}
		s, _, err := in.store.ResolveSession(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		in.ids = append(in.ids, s.ID)
	}
	first, err := in.store.Session(ctx, in.ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := in.store.TouchSession(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	h := sessiondb.Host{Dir: in.home.Session(first.AgentGroupID, first.ID)}
	if err := h.Create(ctx, sessiondb.InMessage{ChannelType: "slack", PlatformID: "C0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Append(ctx,
		sessiondb.InMessage{ID: "m-answered", Kind: sessiondb.KindChat, Content: sessiondb.Content{Text: "hello <b>there</b>", SenderName: "Ana"}},
		sessiondb.InMessage{ID: "m-queued", Kind: sessiondb.KindChat, Content: sessiondb.Content{Text: "and then?"}},
		sessiondb.InMessage{ID: "m-failed", Kind: sessiondb.KindChat, Content: sessiondb.Content{Text: "this breaks"}},
	); err != nil {
		t.Fatal(err)
	}
	c := sessiondb.Container{InDir: h.InDir(), OutDir: filepath.Join(h.Dir, sessiondb.OutDir)}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	reply := sessiondb.OutMessage{ID: "r-1", InReplyTo: "m-answered", Kind: sessiondb.KindChat, Content: sessiondb.OutContent{Text: "echo: hello"}}
	if err := c.Finish(ctx, []string{"m-answered"}, sessiondb.StatusCompleted, "", reply); err != nil {
		t.Fatal(err)
	}
	acks, err := h.Acks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Finish(ctx, map[string]sessiondb.Ack{"m-answered": acks["m-answered"]}); err != nil {
		t.Fatal(err)
	}
	if err := h.RecordDelivery(ctx, sessiondb.OutMessage{ID: "r-1", Seq: 1}, "1700000000.000100", sessiondb.DeliveryDelivered, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.End(ctx, sessiondb.StatusFailed, "the model refused", "m-failed"); err != nil {
		t.Fatal(err)
	}
	if err := in.store.SetContainerState(ctx, first.ID, data.ContainerRunning, "c1"); err != nil {
		t.Fatal(err)
	}
	in.rt.list = append(in.rt.list, container.Info{ID: "c1", Name: "berth-team-" + first.ID[:8], State: "running", Created: time.Now().Add(-time.Minute),
		Labels: map[string]string{container.LabelHome: in.home.String(), container.LabelSession: first.ID, container.LabelGroup: "team"}})
}

// fillInbound gives every session but the first an inbound.db holding
// one message waiting, as a real install's sessions have.
func (in *install) fillInbound(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, id := range in.ids[1:] {
		s, err := in.store.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		h := sessiondb.Host{Dir: in.home.Session(s.AgentGroupID, s.ID)}
		if err := h.Create(ctx, sessiondb.InMessage{ChannelType: "slack", PlatformID: "C0"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Append(ctx, sessiondb.InMessage{ID: "m-" + id, Kind: sessiondb.KindChat, Content: sessiondb.Content{Text: "hi"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// writeLog writes n gateway log lines, as berth's logger does.
func writeLog(t testing.TB, home paths.Home, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(home.GatewayLog()), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(home.GatewayLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i := range n {
		if i%2 == 0 {
			log.Info("message routed", "group", "team", "session", "s-team", "channel", "slack", "n", i)
		} else {
			log.Warn("send retried", "group", "ops", "session", "s-ops", "channel", "discord", "n", i)
		}
	}
}

// readFile reads a file and its permission bits.
func readFile(t testing.TB, path string) (string, os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), fi.Mode().Perm()
}
