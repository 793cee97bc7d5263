package session_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// BenchmarkPerformance prints every figure of issue 19 beside its target,
// in one run (docs/performance.md):
//
//	BERTH_REQUIRE_DOCKER=1 go test -run '^$' -bench Performance -benchtime 1x -timeout 30m ./session/
//
// BERTH_BENCH_WARM (round trips, default 200), BERTH_BENCH_COLD (cold
// starts, default 10) and BERTH_BENCH_IDLE (idle sessions, default 1000)
// change the sizes. A round trip runs from the call that hands berth a
// message to the channel's Send of its reply, echo provider.
func BenchmarkPerformance(b *testing.B) {
	gatewaytest.BuildImage(b, gatewaytest.RequireDocker(b))
	var rep perfReport
	rep.load("start")
	only := os.Getenv("BERTH_BENCH_ONLY") // e.g. "warm,cold": just those parts
	run := func(part string) bool { return only == "" || strings.Contains(","+only+",", ","+part+",") }
	if run("idle") {
		rep.idle(b, envInt("BERTH_BENCH_IDLE", 1000))
	}
	if run("floor") {
		rep.floor(b)
	}
	if run("warm") {
		rep.warm(b, envInt("BERTH_BENCH_WARM", 200))
	}
	if run("cold") {
		rep.cold(b, envInt("BERTH_BENCH_COLD", 10))
	}
	if run("coldn") {
		rep.coldThroughput(b, envInt("BERTH_BENCH_COLDN", 100), 16)
	}
	if run("warmn") {
		rep.warmThroughput(b, 20, 50)
	}
	rep.load("end")
	fmt.Print(rep.out.String())
	b.ReportMetric(0, "ns/op")
}

// perfReport is the table the benchmark prints.
type perfReport struct{ out bytes.Buffer }

func (r *perfReport) printf(format string, args ...any) { fmt.Fprintf(&r.out, format, args...) }

func (r *perfReport) load(when string) {
	b, _ := os.ReadFile("/proc/loadavg")
	r.printf("load at %s: %s", when, b)
}

// floor is the cost of one durable commit as berth's session files make
// it: one row, DELETE journal, synchronous=FULL, a temp dir.
func (r *perfReport) floor(b *testing.B) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.TempDir(), "floor.db")+"?_journal_mode=DELETE&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	for i := 0; i < 200; i++ {
		start := time.Now()
		if _, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, "row"); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	r.printf("%-44s median %s  p99 %s   (the floor; the issue measured ~0.75 ms)\n", "one-row SQLite commit (DELETE, FULL)", ms(pct(ds, 50)), ms(pct(ds, 99)))
}

// timedChannel is a TEST-ONLY channel that notes when each reply was
// handed to it, by the message it answers.
type timedChannel struct {
	mu   sync.Mutex // guards sent and at
	sent []channels.Outbound
	at   map[string]time.Time // ReplyTo -> when Send was called
	more chan struct{}
}

func newTimedChannel() *timedChannel {
	return &timedChannel{at: map[string]time.Time{}, more: make(chan struct{}, 1)}
}

func (c *timedChannel) Type() string                                      { return "fake" }
func (c *timedChannel) Run(ctx context.Context, _ channels.Handler) error { <-ctx.Done(); return nil }
func (c *timedChannel) Send(_ context.Context, out channels.Outbound) (string, error) {
	now := time.Now()
	c.mu.Lock()
	c.sent = append(c.sent, out)
	c.at[out.ReplyTo] = now
	n := len(c.sent)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	return "p" + strconv.Itoa(n), nil
}

func (c *timedChannel) snapshot() []channels.Outbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]channels.Outbound(nil), c.sent...)
}

// wait waits until n replies were sent in all, and says when the n-th was.
func (c *timedChannel) wait(b testing.TB, n int, timeout time.Duration) time.Time {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		got := len(c.sent)
		c.mu.Unlock()
		if got >= n {
			return time.Now()
		}
		select {
		case <-c.more:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			b.Fatalf("%d replies after %v, want %d", got, timeout, n)
		}
	}
}

// traceLog is a TEST-ONLY slog handler that keeps the gateway's trace
// records (session.TraceMsg) and drops the rest.
type traceLog struct {
	mu     sync.Mutex // guards events
	events []traceEvent
}

type traceEvent struct {
	step string
	at   time.Time
}

func (t *traceLog) Enabled(context.Context, slog.Level) bool { return true }
func (t *traceLog) WithAttrs([]slog.Attr) slog.Handler       { return t }
func (t *traceLog) WithGroup(string) slog.Handler            { return t }
func (t *traceLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != session.TraceMsg {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "step" {
			t.mu.Lock()
			t.events = append(t.events, traceEvent{step: a.Value.String(), at: r.Time})
			t.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

func (t *traceLog) take() []traceEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	ev := t.events
	t.events = nil
	return ev
}

// runnerTrace reads the runner's trace records from its container's output.
func runnerTrace(b *testing.B, id string) []traceEvent {
	out, err := exec.Command("docker", "logs", id).CombinedOutput()
	if err != nil {
		b.Fatalf("docker logs: %v %s", err, out)
	}
	var ev []traceEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg  string `json:"msg"`
			Step string `json:"step"`
			At   int64  `json:"at"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "trace" {
			ev = append(ev, traceEvent{step: rec.Step, at: time.UnixMicro(rec.At)})
		}
	}
	return ev
}

// warmSteps is the warm path in order: each step is looked for after the
// one it follows (after), within its round trip.
var warmSteps = []struct{ step, after, what string }{
	{"sender-known", "", "clean, dedupe, sender row (store write)"},
	{"routed", "sender-known", "route: conversation, wirings, session (store write)"},
	{"inbound-written", "routed", "inbound write (inbound.db commit)"},
	{"session-touched", "inbound-written", "store write: the session's last_active"},
	{"state-told", "session-touched", "the message's first state told"},
	{"handled", "state-told", "seen mark (store write); Handle returns"},
	{"woken", "inbound-written", "wake (container running: a check)"},
	{"runner-event", "routed", "runner's fsnotify wake (may precede the host's trace of its commit)"},
	{"runner-read", "runner-event", "runner read (inbound.db)"},
	{"claimed", "runner-read", "claim (outbound.db commit)"},
	{"provided", "claimed", "provider (echo)"},
	{"reply-written", "provided", "reply and ack write (outbound.db commit)"},
	// A pass that began before the reply's commit ended may read it
	// (waiting on the lock): the first three are "if any" after the write.
	{"host-event", "reply-written", "host's fsnotify event (if one came after)"},
	{"pass-kicked", "host-event", "delivery loop kicked"},
	{"pass-start", "pass-kicked", "pass rate limit"},
	{"acks-read", "reply-written", "host read of the acks (outbound.db)"},
	{"reply-checked", "acks-read", "reply read and checks"},
	{"sending-recorded", "reply-checked", "delivery record: sending (inbound.db commit)"},
	{"handed-off", "sending-recorded", "channel hand-off"},
	{"delivery-recorded", "handed-off", "delivery record: delivered (after hand-off)"},
	{"acks-recorded", "delivery-recorded", "ack record (inbound.db commit, after hand-off)"},
}

// warm measures round trips with the container running, and breaks each
// down by the trace records of the gateway and the runner.
func (r *perfReport) warm(b *testing.B, n int) {
	tl := &traceLog{}
	ch := newTimedChannel()
	g := gatewaytest.Start(b, gatewaytest.Options{Config: func(c *session.Config) {
		c.Log = slog.New(tl)
		c.Env = append(c.Env, "BERTH_TRACE=1")
		c.MaxRepliesPerMinute = 1 << 20
	}})
	defer g.Stop()
	g.Manager.AddChannel(ch)
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	send := func(text string) (string, time.Time) {
		in := msg(text)
		start := time.Now()
		if err := g.Manager.Handle(context.Background(), in); err != nil {
			b.Fatal(err)
		}
		return in.MessageID, start
	}
	for i := 0; i < 5; i++ { // wake the container, warm its caches
		send("warm up")
		ch.wait(b, i+1, 2*time.Minute)
	}
	time.Sleep(500 * time.Millisecond)
	tl.take()
	type trip struct{ start, end time.Time }
	trips := make([]trip, n)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		id, start := send(fmt.Sprintf("ping %d", i))
		ch.wait(b, 5+i+1, time.Minute)
		ch.mu.Lock()
		end := ch.at[id]
		ch.mu.Unlock()
		trips[i] = trip{start, end}
		ds = append(ds, end.Sub(start))
		// As a person's next message would, this one comes after the
		// records that follow a hand-off (the delivery, the acks): the
		// back-to-back rate is the warm throughput's figure.
		time.Sleep(20 * time.Millisecond)
	}
	sid := g.Sessions()[0].ID
	ev := tl.take()
	if cs := g.Containers(sid); len(cs) == 1 {
		ev = append(ev, runnerTrace(b, cs[0].ID)...)
	}
	sort.Slice(ev, func(i, j int) bool { return ev[i].at.Before(ev[j].at) })
	if os.Getenv("BERTH_BENCH_DEBUG") == "1" && n > 2 {
		for _, e := range ev {
			if !e.at.Before(trips[1].start) && e.at.Before(trips[2].start) {
				r.printf("  debug: %-18s @%s\n", e.step, ms(e.at.Sub(trips[1].start)))
			}
		}
		r.printf("  debug: end @%s\n", ms(trips[1].end.Sub(trips[1].start)))
	}
	r.load("warm")
	r.printf("%-44s median %s (target ≤ 10 ms)  p99 %s (target ≤ 25 ms)  n=%d\n", "warm round trip", ms(pct(ds, 50)), ms(pct(ds, 99)), n)
	// The breakdown: for each trip, when each step was first reached
	// after the step it follows.
	gaps := map[string][]time.Duration{}
	since := map[string][]time.Duration{}
	for i, t := range trips {
		limit := t.end.Add(time.Second)
		if i+1 < n {
			limit = trips[i+1].start
		}
		at := map[string]time.Time{"": t.start, "handed-off-ch": t.end}
		for _, s := range warmSteps {
			from, ok := at[s.after]
			if !ok {
				continue
			}
			for _, e := range ev {
				if e.step == s.step && !e.at.Before(from) && e.at.Before(limit) {
					at[s.step] = e.at
					gaps[s.step] = append(gaps[s.step], e.at.Sub(from))
					since[s.step] = append(since[s.step], e.at.Sub(t.start))
					break
				}
			}
		}
	}
	r.printf("  warm path breakdown (median of %d trips; step: time since the step it follows, time since accepted)\n", n)
	for _, s := range warmSteps {
		if len(gaps[s.step]) == 0 {
			r.printf("    %-18s %-52s (no trace)\n", s.step, s.what)
			continue
		}
		r.printf("    %-18s %-52s +%s  @%s  (after %s)\n", s.step, s.what, ms(pct(gaps[s.step], 50)), ms(pct(since[s.step], 50)), cmp.Or(s.after, "accepted"))
	}
}

// cold measures round trips that start the container, each beside a bare
// `docker run --rm` of the agent image running `berth-runner --version`.
func (r *perfReport) cold(b *testing.B, n int) {
	ch := newTimedChannel()
	g := gatewaytest.Start(b, gatewaytest.Options{Config: func(c *session.Config) { c.MaxRepliesPerMinute = 1 << 20 }})
	defer g.Stop()
	g.Manager.AddChannel(ch)
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	roundTrip := func(want int) time.Duration {
		in := msg("ping")
		start := time.Now()
		if err := g.Manager.Handle(context.Background(), in); err != nil {
			b.Fatal(err)
		}
		ch.wait(b, want, 2*time.Minute)
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return ch.at[in.MessageID].Sub(start)
	}
	roundTrip(1)
	sid := g.Sessions()[0].ID
	var berth, bare []time.Duration
	for i := 0; i < n; i++ {
		if err := g.Manager.StopSession(context.Background(), sid); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for (len(g.Containers(sid)) > 0 || g.Sessions()[0].ContainerState != "stopped") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		if out, err := exec.Command("docker", "run", "--rm", gatewaytest.Image, "--version").CombinedOutput(); err != nil {
			b.Fatalf("docker run: %v %s", err, out)
		}
		bare = append(bare, time.Since(start))
		berth = append(berth, roundTrip(i+2))
	}
	r.load("cold")
	mb, md := pct(berth, 50), pct(bare, 50)
	r.printf("%-44s median %s  vs bare docker run --rm <image> --version median %s: %.2f× (target ≤ 1.0×)  n=%d\n",
		"cold round trip", ms(mb), ms(md), float64(mb)/float64(md), n)
}

// coldThroughput starts sessions new sessions at once under a cap, beside
// as many bare `docker run --rm` at the same parallelism.
func (r *perfReport) coldThroughput(b *testing.B, sessions, cap int) {
	ch := newTimedChannel()
	g := gatewaytest.Start(b, gatewaytest.Options{Config: func(c *session.Config) { c.MaxRunning = cap }})
	defer g.Stop()
	g.Manager.AddChannel(ch)
	for i := 0; i < sessions; i++ {
		g.Wire("fake", fmt.Sprintf("cold%03d", i), gatewaytest.Wire{IsDM: true})
	}
	start := time.Now()
	for i := 0; i < sessions; i++ {
		in := msg("hello")
		in.PlatformID = fmt.Sprintf("cold%03d", i)
		if err := g.Manager.Handle(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	ch.wait(b, sessions, 10*time.Minute)
	took := time.Since(start)
	answered := map[string]bool{}
	for _, o := range ch.snapshot() {
		answered[o.PlatformID] = true
	}
	g.Stop()
	start = time.Now()
	work := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < cap; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if out, err := exec.Command("docker", "run", "--rm", gatewaytest.Image, "--version").CombinedOutput(); err != nil {
					b.Errorf("docker run: %v %s", err, out)
				}
			}
		}()
	}
	for i := 0; i < sessions; i++ {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	bare := time.Since(start)
	r.load("cold throughput")
	r.printf("%-44s %d of %d answered, %.1f sessions/s (%v)  vs %d bare docker run at %d: %.1f/s (%v)\n",
		fmt.Sprintf("cold throughput (%d new, --max-running %d)", sessions, cap), len(answered), sessions,
		float64(sessions)/took.Seconds(), took.Round(time.Millisecond), sessions, cap, float64(sessions)/bare.Seconds(), bare.Round(time.Millisecond))
}

// warmThroughput sends perSession messages at once to each of sessions
// running containers and checks each session's replies keep their order.
func (r *perfReport) warmThroughput(b *testing.B, sessions, perSession int) {
	ch := newTimedChannel()
	g := gatewaytest.Start(b, gatewaytest.Options{Config: func(c *session.Config) {
		c.MaxRunning = sessions + 4
		c.MaxRepliesPerMinute = 1 << 20
	}})
	defer g.Stop()
	g.Manager.AddChannel(ch)
	room := func(i int) string { return fmt.Sprintf("warm%02d", i) }
	for i := 0; i < sessions; i++ {
		g.Wire("fake", room(i), gatewaytest.Wire{IsDM: true})
		in := msg("warm up")
		in.PlatformID = room(i)
		if err := g.Manager.Handle(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	ch.wait(b, sessions, 5*time.Minute)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perSession; j++ {
				in := msg(fmt.Sprintf("m%03d", j))
				in.PlatformID = room(i)
				if err := g.Manager.Handle(context.Background(), in); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ch.wait(b, sessions+sessions*perSession, 5*time.Minute)
	took := time.Since(start)
	next := map[string]int{}
	disorder := 0
	for _, o := range ch.snapshot() {
		n, ok := strings.CutPrefix(o.Text, "echo: m")
		if !ok {
			continue
		}
		j, _ := strconv.Atoi(n)
		if j != next[o.PlatformID] {
			disorder++
		}
		next[o.PlatformID] = j + 1
	}
	r.load("warm throughput")
	r.printf("%-44s %.0f messages/s (%v), replies out of order: %d (must be 0)\n",
		fmt.Sprintf("warm throughput (%d sessions × %d)", sessions, perSession), float64(sessions*perSession)/took.Seconds(), took.Round(time.Millisecond), disorder)
	if disorder > 0 {
		b.Errorf("%d replies out of order within their session", disorder)
	}
}

// idle measures the gateway holding n answered sessions whose containers
// have idle-stopped, from outside: the gateway runs in a process of its
// own (this test binary re-executed to run only TestIdleGatewayProcess),
// and its CPU, RSS and inotify watches are read from /proc/<pid>. The
// TEST-ONLY in-process runtime answers the sessions: a real container
// each would take many minutes on 2 cores, and no container touches an
// idle-stopped session either way. Then the same with 10,000 sessions
// (BERTH_BENCH_IDLE_WATCHES), for the inotify watches alone, counted at
// their highest while the sessions are answered and once they are idle.
func (r *perfReport) idle(b *testing.B, n int) {
	m := idleChild(b, n, n, 60*time.Second)
	r.load("idle")
	r.printf("%-44s CPU %.3f %% of one core (target < 0.5 %%), RSS max %.1f MB (target < 50 MB), inotify watches %d (%.2f per session)\n",
		fmt.Sprintf("idle (%d idle-stopped sessions, 60 s)", n), m.pctCore, float64(m.maxRSS)/1024, m.watches, float64(m.watches)/float64(n))
	r.printf("  the gateway's own process (pid %d, GOMEMLIMIT %s): RSS at idle %.1f MB, of which anonymous %.1f MB; Go heap in use %.1f MB, stacks %.1f MB, %d goroutines; answering took %v\n",
		m.pid, cmp.Or(os.Getenv("GOMEMLIMIT"), "unset"), float64(m.rss)/1024, float64(m.anon)/1024, m.heapMB, m.stackMB, m.goroutines, m.answered.Round(time.Second))
	nw := envInt("BERTH_BENCH_IDLE_WATCHES", 10000)
	w := idleChild(b, nw, idleWatchRunning, 0)
	r.printf("%-44s inotify watches: at most %d while %d sessions were answered (at most %d running at once), %d once all idle-stopped (target: within fs.inotify.max_user_watches, 8,192 on many hosts)\n",
		fmt.Sprintf("inotify (%d sessions)", nw), w.peakWatches, nw, idleWatchRunning, w.watches)
}

// idleWatchRunning is how many in-process containers the 10,000-session
// inotify check runs at once: a cap like a large host's --max-running.
const idleWatchRunning = 200

// idleFigures is what idleChild measured of the gateway's process.
type idleFigures struct {
	pid                  int
	pctCore              float64
	maxRSS, rss, anon    int // kB
	watches, peakWatches int
	heapMB, stackMB      float64
	goroutines           int
	answered             time.Duration
}

// idleChild starts the gateway's process with n sessions (maxRunning at
// once), waits until they are all answered and idle-stopped, and measures
// it over span (none when 0).
func idleChild(b *testing.B, n, maxRunning int, span time.Duration) idleFigures {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleGatewayProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("BERTH_PERF_IDLE_CHILD=%d,%d", n, maxRunning))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the child ends when its stdin does
		if err := cmd.Wait(); err != nil {
			b.Errorf("idle gateway process: %v", err)
		}
	}()
	pid := cmd.Process.Pid
	f := idleFigures{pid: pid}
	var child idleChildReport
	// Watches are sampled while the child answers: what it needs at its
	// busiest, not only at rest.
	ready := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	start := time.Now()
	go func() {
		for line := range lines {
			if rest, ok := strings.CutPrefix(line, "idle-ready "); ok {
				ready <- json.Unmarshal([]byte(rest), &child)
				go func() { // the rest, e.g. a failure, is the child's own output
					for line := range lines {
						fmt.Fprintln(os.Stderr, line)
					}
				}()
				return
			}
			fmt.Fprintln(os.Stderr, line) // the test framework reports the child's failure here
		}
		ready <- fmt.Errorf("the idle gateway process ended before its sessions were idle")
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Minute)
wait:
	for {
		select {
		case err := <-ready:
			if err != nil {
				b.Fatal(err)
			}
			break wait
		case <-tick.C:
			f.peakWatches = max(f.peakWatches, inotifyWatches(pid))
		case <-deadline:
			b.Fatal("the idle gateway process's sessions were not idle after 20 minutes")
		}
	}
	f.answered = time.Since(start)
	f.watches = inotifyWatches(pid)
	f.peakWatches = max(f.peakWatches, f.watches)
	f.heapMB, f.stackMB, f.goroutines = child.HeapMB, child.StackMB, child.Goroutines
	if span == 0 {
		return f
	}
	cpu0, t0 := procCPU(b, pid), time.Now()
	for time.Since(t0) < span {
		time.Sleep(time.Second)
		f.maxRSS = max(f.maxRSS, procStatus(b, pid, "VmRSS:"))
	}
	f.pctCore = 100 * (procCPU(b, pid) - cpu0).Seconds() / time.Since(t0).Seconds()
	f.rss = procStatus(b, pid, "VmRSS:")
	f.anon = procStatus(b, pid, "RssAnon:")
	return f
}

// idleChildReport is what the gateway's process says of itself once its
// sessions are idle: the Go runtime's own figures, beside the RSS read
// from outside.
type idleChildReport struct {
	HeapMB, StackMB float64 // in use
	SysMB           float64 // all the Go runtime has from the OS
	ReleasedMB      float64 // of which given back
	Goroutines      int
}

// TestIdleGatewayProcess is the gateway process of BenchmarkPerformance's
// idle part, not a test: it runs only when BERTH_PERF_IDLE_CHILD says how
// many sessions (and how many running at once), answers them, lets their
// containers idle-stop, prints "idle-ready" with its runtime figures, and
// holds the gateway until its stdin ends.
func TestIdleGatewayProcess(t *testing.T) {
	var n, maxRunning int
	if _, err := fmt.Sscanf(os.Getenv("BERTH_PERF_IDLE_CHILD"), "%d,%d", &n, &maxRunning); err != nil {
		t.Skip("the idle gateway process of BenchmarkPerformance; it runs only as that")
	}
	rt := containertest.New(containertest.Options{})
	defer rt.Close()
	ch := newTimedChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Runtime: rt, Config: func(c *session.Config) {
		c.MaxRunning = maxRunning // in-process "containers" cost little
		c.IdleTimeout = 300 * time.Millisecond
		c.Poll = 0 // the production default
		c.StopGrace = time.Second
	}})
	defer g.Stop()
	g.Manager.AddChannel(ch)
	for i := 0; i < n; i++ {
		g.Wire("fake", fmt.Sprintf("idle%05d", i), gatewaytest.Wire{IsDM: true})
	}
	for i := 0; i < n; i++ {
		in := msg("hello")
		in.PlatformID = fmt.Sprintf("idle%05d", i)
		if err := g.Manager.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	ch.wait(t, n, 15*time.Minute)
	deadline := time.Now().Add(5*time.Minute + time.Duration(n)*30*time.Millisecond) // 10,000 sessions stop 200 at a time
	for {
		running := 0
		for _, s := range g.Sessions() {
			if s.ContainerState != "stopped" {
				running++
			}
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still not idle-stopped", running)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// What a gateway at rest holds: what answering left behind is
	// garbage, which the runtime gives back in its own time.
	time.Sleep(15 * time.Second)
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	rep, err := json.Marshal(idleChildReport{HeapMB: float64(mem.HeapInuse) / (1 << 20), StackMB: float64(mem.StackInuse) / (1 << 20),
		SysMB: float64(mem.Sys) / (1 << 20), ReleasedMB: float64(mem.HeapReleased) / (1 << 20), Goroutines: runtime.NumGoroutine()})
	if err != nil {
		t.Fatal(err)
	}
	if prof := os.Getenv("BERTH_PERF_IDLE_HEAP"); prof != "" { // a heap profile of the idle gateway, for looking into its memory
		f, err := os.Create(prof)
		if err != nil {
			t.Fatal(err)
		}
		g, err := os.Create(prof + ".goroutines")
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(pprof.WriteHeapProfile(f), f.Close(), pprof.Lookup("goroutine").WriteTo(g, 1), g.Close()); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("idle-ready %s\n", rep)
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Fatal(err)
	}
}

// inotifyWatches counts the inotify watches of process pid.
func inotifyWatches(pid int) int {
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	if err != nil {
		return 0 // a bad pattern: not with a number
	}
	n := 0
	for _, f := range fds {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // closed meanwhile
		}
		n += strings.Count(string(data), "inotify wd:")
	}
	return n
}

// procCPU is the CPU time process pid has used (user and system).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// After the command's name in parentheses: state is field 3, utime
	// and stime fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return time.Duration(ut+st) * (time.Second / 100)
}

// procStatus reads a kB figure of /proc/<pid>/status, e.g. "VmRSS:".
func procStatus(b *testing.B, pid int, key string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatalf("/proc/%d/status %s %q", pid, key, v)
			}
			return kb
		}
	}
	b.Fatalf("/proc/%d/status has no %s", pid, key)
	return 0
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}
