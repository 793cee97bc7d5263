package session

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

func TestParseMemTotal(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"MemTotal:       24684084 kB\nMemFree: 1 kB\n", 24684084 << 10},
		{"MemFree: 1 kB\nMemTotal: 2048 kB\n", 2 << 20},
		{"MemTotal: 1024\n", 1024},
		{"MemTotal: lots kB\n", 0},
		{"MemTotal: -5 kB\n", 0},
		{"", 0},
		{"garbage", 0},
	} {
		if got := parseMemTotal([]byte(tt.in)); got != tt.want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDefaultMaxRunning(t *testing.T) {
	cpus := 4 * runtime.NumCPU()
	total := totalMemory()
	type capCase struct {
		per  int64 // memory limit per container
		want int
	}
	tests := []capCase{
		{0, cpus},    // no per-container limit: only the CPU bound
		{1 << 62, 1}, // bigger than the host: still at least one
	}
	if total > 0 { // Linux: the memory bound applies too
		tests = append(tests, capCase{total / 3, min(3, cpus)}, capCase{1 << 30, max(1, min(cpus, int(total>>30)))})
	}
	for _, tt := range tests {
		if got := DefaultMaxRunning(tt.per); got != tt.want {
			t.Errorf("DefaultMaxRunning(%d) = %d, want %d (4×CPUs %d, memory %d)", tt.per, got, tt.want, cpus, total)
		}
	}
	var c Config
	c.defaults()
	if c.MaxRunning != DefaultMaxRunning(1<<30) || c.MaxRunning < 1 {
		t.Errorf("default cap = %d, want %d", c.MaxRunning, DefaultMaxRunning(1<<30))
	}
	c = Config{MaxRunning: 3}
	c.defaults()
	if c.MaxRunning != 3 {
		t.Errorf("an explicit cap became %d", c.MaxRunning)
	}
}

func TestTokenBucket(t *testing.T) {
	var a accessState
	t0 := time.Unix(1e9, 0)
	type step struct {
		at   time.Duration
		want bool
	}
	steps := []step{
		{0, true}, {0, true}, {0, true}, {0, true}, {0, true}, // the burst
		{0, false}, {time.Second, false}, // 1 s earns a sixth of a token
		{6 * time.Second, true}, {6 * time.Second, false}, // 10 a minute: one per 6 s
		{10 * time.Minute, true}, {10 * time.Minute, true}, {10 * time.Minute, true}, {10 * time.Minute, true}, {10 * time.Minute, true},
		{10 * time.Minute, false}, // refilled to the burst, no more
	}
	for i, s := range steps {
		if got := a.take("k", 10, 5, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d at %v: take = %v, want %v", i, s.at, got, s.want)
		}
	}
	if !a.take("other", 10, 5, t0) {
		t.Error("another sender shares the bucket")
	}
	for i := 0; i < 100; i++ {
		if !a.take("k", -1, 5, t0) {
			t.Fatal("a negative rate limits")
		}
	}
}

func TestTellOncePerWindow(t *testing.T) {
	var a accessState
	t0 := time.Unix(1e9, 0)
	for _, s := range []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", time.Minute, false},
		{"b", time.Minute, true},
		{"a", 59 * time.Minute, false},
		{"a", time.Hour, true},
		{"a", time.Hour + time.Second, false},
	} {
		if got := a.tell(s.key, time.Hour, t0.Add(s.at)); got != s.want {
			t.Errorf("tell(%q) at %v = %v, want %v", s.key, s.at, got, s.want)
		}
	}
}

// TestAccessStateBounded: a crowd of new sender ids does not grow the
// maps past maxTracked once their entries are stale.
func TestAccessStateBounded(t *testing.T) {
	var a accessState
	t0 := time.Unix(1e9, 0)
	for i := 0; i < 3*maxTracked; i++ {
		at := t0.Add(time.Duration(i/maxTracked) * 2 * time.Hour)
		a.take(strconv.Itoa(i), 10, 5, at)
		a.tell(strconv.Itoa(i), time.Hour, at)
	}
	if len(a.buckets) > maxTracked+1 || len(a.told) > maxTracked+1 {
		t.Errorf("maps grew to %d buckets, %d notices; bound %d", len(a.buckets), len(a.told), maxTracked)
	}
}

// recorder is a TEST-ONLY channel that keeps what berth sent.
type recorder struct{ sent []string }

func (r *recorder) Type() string { return "fake" }
func (r *recorder) Run(ctx context.Context, h channels.Handler) error {
	<-ctx.Done()
	return nil
}
func (r *recorder) Send(ctx context.Context, out channels.Outbound) (string, error) {
	r.sent = append(r.sent, out.Text)
	return "p", nil
}

// TestHeldCapPerSender: an unknown sender to an approval wiring can park
// only maxHeldPerSender messages; the rest are dropped and recorded, and
// the admins are asked once. Nothing here needs a container: a held
// message never reaches a session.
func TestHeldCapPerSender(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	store, err := data.Open(ctx, paths.Home(home).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := data.AgentGroup{Name: "main", Folder: "main"}
	if err := store.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	mg, err := store.EnsureMessagingGroup(ctx, "fake", "room", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Wire(ctx, &data.Wiring{MessagingGroupID: mg.ID, AgentGroupID: g.ID, Engage: data.EngagePattern, Pattern: ".",
		SessionMode: data.SessionShared, Access: data.AccessApproval}); err != nil {
		t.Fatal(err)
	}
	m := New(Config{Home: home, SenderRate: -1}, store, nil, groups.Layout{Root: paths.Home(home).Groups(), UID: -1})
	rec := &recorder{}
	m.AddChannel(rec)
	const sent = maxHeldPerSender + 5
	for i := 0; i < sent; i++ {
		in := channels.Inbound{ChannelType: "fake", PlatformID: "room", MessageID: "m" + strconv.Itoa(i), Sender: channels.User{ID: "x"},
			Text: "let me in " + strconv.Itoa(i), Time: time.Now()}
		if err := m.Handle(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := store.CountHeld(ctx, g.ID, "fake:x"); n != maxHeldPerSender {
		t.Errorf("%d held, want the cap %d", n, maxHeldPerSender)
	}
	ds, _ := store.DroppedMessages(ctx, 100)
	over := 0
	for _, d := range ds {
		if strings.Contains(d.Reason, "too many held messages") {
			over++
		}
	}
	if over != sent-maxHeldPerSender {
		t.Errorf("%d dropped over the cap, want %d: %+v", over, sent-maxHeldPerSender, ds)
	}
	if len(rec.sent) != 1 || !strings.Contains(rec.sent[0], "!allow fake:x") {
		t.Errorf("sent %q, want one request to the admins", rec.sent)
	}
	if ss, _ := store.Sessions(ctx, data.SessionFilter{}); len(ss) != 0 {
		t.Errorf("held messages made sessions: %+v", ss)
	}
}

func TestIdleStop(t *testing.T) {
	for _, tt := range []struct {
		idleFor   time.Duration
		yield     int
		want      bool
		yieldLeft int
	}{
		{time.Second, 0, false, 0},
		{11 * time.Minute, 0, true, 0},         // past the idle timeout
		{11 * time.Minute, 2, true, 2},         // a stop that was due anyway frees a slot without counting
		{yieldIdle + time.Second, 0, false, 0}, // nobody waits: keep it warm
		{yieldIdle + time.Second, 1, true, 0},  // someone waits: make room
		{time.Second, 1, false, 1},             // too fresh to stop
	} {
		y := tt.yield
		if got := idleStop(tt.idleFor, 10*time.Minute, &y); got != tt.want || y != tt.yieldLeft {
			t.Errorf("idleStop(%v, yield %d) = %v, left %d; want %v, %d", tt.idleFor, tt.yield, got, y, tt.want, tt.yieldLeft)
		}
	}
}
