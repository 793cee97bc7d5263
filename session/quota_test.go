package session

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

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/sessiondb"
)

// allocated is what a file takes on disk, as measure counts it.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return max(fi.Size(), fi.Sys().(*syscall.Stat_t).Blocks*512)
}

func write(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMeasure(t *testing.T) {
	const mib = 1 << 20
	lim := walkLimits{MaxEntries: 10_000, Timeout: 10 * time.Second}
	tests := []struct {
		name string
		lim  walkLimits
		// fill builds the folder under root; decoy is a folder outside it.
		fill func(t *testing.T, root, decoy string)
		// min and max bound the bytes counted; unmeasured is the expected
		// reason ("" for a complete walk).
		min, max   int64
		unmeasured string
	}{
		{
			name: "empty",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {},
			min:  0, max: 64 << 10,
		},
		{
			name: "nested files",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				write(t, filepath.Join(root, "a", "one"), mib)
				write(t, filepath.Join(root, "a", "b", "two"), mib)
				write(t, filepath.Join(root, "a", "b", "c", "three"), mib)
			},
			min: 3 * mib, max: 3*mib + 64<<10,
		},
		{
			name: "sparse file counts at its size",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				f, err := os.Create(filepath.Join(root, "sparse"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := f.Truncate(1 << 30); err != nil {
					t.Fatal(err)
				}
			},
			min: 1 << 30, max: 1<<30 + 64<<10,
		},
		{
			name: "symlink to a decoy folder is neither counted nor followed",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				write(t, filepath.Join(decoy, "big"), 8*mib)
				if err := os.Symlink(decoy, filepath.Join(root, "link")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(decoy, "big"), filepath.Join(root, "filelink")); err != nil {
					t.Fatal(err)
				}
			},
			min: 0, max: 64 << 10,
		},
		{
			name: "many tiny files count their blocks",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				for i := range 2000 {
					write(t, filepath.Join(root, "tiny", fmt.Sprint(i)), 1)
				}
			},
			min: 2000, max: 2000*64<<10 + 1<<20, // checked exactly below
		},
		{
			name: "hard links count once",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				write(t, filepath.Join(root, "file"), 2*mib)
				for i := range 5 {
					if err := os.Link(filepath.Join(root, "file"), filepath.Join(root, fmt.Sprint("link", i))); err != nil {
						t.Fatal(err)
					}
				}
			},
			min: 2 * mib, max: 2*mib + 64<<10,
		},
		{
			name: "too many entries is over",
			lim:  walkLimits{MaxEntries: 100, Timeout: 10 * time.Second},
			fill: func(t *testing.T, root, decoy string) {
				for i := range 150 {
					write(t, filepath.Join(root, fmt.Sprint(i)), 0)
				}
			},
			min: 0, max: 1 << 20, unmeasured: "more than 100 files",
		},
		{
			name: "a directory of more than one read batch",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				for i := range 3 * walkBatch {
					write(t, filepath.Join(root, fmt.Sprint(i)), 4096)
				}
			},
			min: 3 * walkBatch * 4096, max: 3*walkBatch*4096 + 1<<20,
		},
		{
			name: "nested too deep is over",
			lim:  lim,
			fill: func(t *testing.T, root, decoy string) {
				p := root
				for range maxWalkDepth + 2 {
					p = filepath.Join(p, "d")
				}
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			min: 0, max: 4 << 20, unmeasured: "nested more than",
		},
		{
			name: "out of time is over",
			lim:  walkLimits{MaxEntries: 10_000, Timeout: time.Nanosecond},
			fill: func(t *testing.T, root, decoy string) {
				for i := range 1100 {
					write(t, filepath.Join(root, fmt.Sprint(i)), 0)
				}
			},
			min: 0, max: 1 << 20, unmeasured: "too large to measure",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, decoy := t.TempDir(), t.TempDir()
			tt.fill(t, root, decoy)
			u, err := measure(context.Background(), root, tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			if u.Bytes < tt.min || u.Bytes > tt.max {
				t.Errorf("bytes = %d, want %d..%d", u.Bytes, tt.min, tt.max)
			}
			if !strings.Contains(u.Unmeasured, tt.unmeasured) || (tt.unmeasured == "") != (u.Unmeasured == "") {
				t.Errorf("unmeasured = %q, want %q", u.Unmeasured, tt.unmeasured)
			}
			// The decoy is untouched: still there, still its own size.
			if fi, err := os.Lstat(filepath.Join(decoy, "big")); err == nil && fi.Size() != 8*mib {
				t.Errorf("decoy changed: %d bytes", fi.Size())
			}
		})
	}
}

// TestMeasureTinyFilesExactly: each tiny file counts what it takes on
// disk (a block on most filesystems), not its one byte.
func TestMeasureTinyFilesExactly(t *testing.T) {
	root := t.TempDir()
	var want int64
	for i := range 100 {
		p := filepath.Join(root, fmt.Sprint(i))
		write(t, p, 1)
		want += allocated(t, p)
	}
	want += allocated(t, root)
	u, err := measure(context.Background(), root, walkLimits{MaxEntries: 1000, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if u.Bytes != want || u.Entries != 101 {
		t.Fatalf("measured %d bytes in %d entries, want %d in 101", u.Bytes, u.Entries, want)
	}
}

// TestMeasureRootSymlink: a root that is a link is refused, not followed.
func TestMeasureRootSymlink(t *testing.T) {
	decoy, dir := t.TempDir(), t.TempDir()
	write(t, filepath.Join(decoy, "big"), 1<<20)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(decoy, link); err != nil {
		t.Fatal(err)
	}
	u, err := measure(context.Background(), link, walkLimits{MaxEntries: 10, Timeout: time.Second})
	if err == nil || u.Bytes != 0 {
		t.Fatalf("measured through a link: %+v, %v", u, err)
	}
}

func TestMeasureMissingRoot(t *testing.T) {
	u, err := measure(context.Background(), filepath.Join(t.TempDir(), "gone"), walkLimits{MaxEntries: 10, Timeout: time.Second})
	if err != nil || u.Bytes != 0 || u.Unmeasured != "" {
		t.Fatalf("missing root: %+v, %v", u, err)
	}
}

func TestDiskQuotas(t *testing.T) {
	tests := []struct {
		config         string
		global         [2]int64
		group, session int64
	}{
		{"", [2]int64{0, 0}, groups.DefaultDiskQuota, groups.DefaultSessionDiskQuota},
		{"{}", [2]int64{0, 0}, groups.DefaultDiskQuota, groups.DefaultSessionDiskQuota},
		{`{"disk_quota_mb":20}`, [2]int64{0, 0}, 20 << 20, groups.DefaultSessionDiskQuota},
		{`{"session_disk_quota_mb":5}`, [2]int64{0, 0}, groups.DefaultDiskQuota, 5 << 20},
		{`{"disk_quota_mb":-1,"session_disk_quota_mb":0}`, [2]int64{0, 0}, groups.DefaultDiskQuota, groups.DefaultSessionDiskQuota}, // a group cannot switch it off
		{`{"disk_quota_mb":9223372036854775807}`, [2]int64{0, 0}, (1<<63 - 1) >> 20 << 20, groups.DefaultSessionDiskQuota},
		{`{"disk_quota_mb":`, [2]int64{0, 0}, groups.DefaultDiskQuota, groups.DefaultSessionDiskQuota},
		{"{}", [2]int64{-1, 7 << 20}, -1, 7 << 20},
		{`{"disk_quota_mb":3}`, [2]int64{-1, -1}, 3 << 20, -1},
	}
	for _, tt := range tests {
		cfg := Config{GroupDiskQuota: tt.global[0], SessionDiskQuota: tt.global[1]}
		cfg.defaults()
		m := New(cfg, nil, nil, groups.Layout{}).sup
		// What a session loaded from this row holds: a refused config
		// (a negative quota, bad JSON) is the zero Config, and the
		// gateway's quotas hold meanwhile.
		gc, err := groups.LoadConfig(data.AgentGroup{ContainerConfig: tt.config})
		if err != nil {
			gc = groups.Config{}
		}
		g, s := m.diskQuotas(gc)
		if g != tt.group || s != tt.session {
			t.Errorf("%s with %v: quotas %d, %d; want %d, %d", tt.config, tt.global, g, s, tt.group, tt.session)
		}
	}
}

func TestJudge(t *testing.T) {
	cfg := Config{}
	cfg.defaults()
	m := New(cfg, nil, nil, groups.Layout{}).sup
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f"), 3<<20)
	tests := []struct {
		scope quotaScope
		limit int64
		over  bool
		why   string
	}{
		{scopeGroup, 10 << 20, false, ""},
		{scopeGroup, 1 << 20, true, "this agent's folder is over its disk quota (3.0 MiB of 1.0 MiB); an admin must free space"},
		{scopeSession, 1 << 20, true, "this conversation's session folder is over its disk quota (3.0 MiB of 1.0 MiB); an admin must free space"},
		{scopeGroup, -1, false, ""},
	}
	for _, tt := range tests {
		v, _ := m.judge(context.Background(), tt.scope, "x", dir, tt.limit)
		if v.over != tt.over || v.why != tt.why {
			t.Errorf("%s limit %d: over %v %q; want %v %q", tt.scope, tt.limit, v.over, v.why, tt.over, tt.why)
		}
		if got, ok := m.quota.get(quotaKey(tt.scope, "x")); !ok || got.over != v.over {
			t.Errorf("verdict not cached")
		}
	}
}

// stopRecorder is a TEST-ONLY Runtime that records the containers it is
// asked to stop; nothing else is used by the quota pass.
type stopRecorder struct {
	stops chan string
}

func (r *stopRecorder) Ensure(context.Context, container.Spec) (container.Info, bool, error) {
	return container.Info{}, false, errors.New("TEST-ONLY runtime starts nothing")
}
func (r *stopRecorder) Stop(_ context.Context, id string, grace time.Duration) error {
	r.stops <- fmt.Sprint(id, " grace=", grace)
	return nil
}
func (r *stopRecorder) Remove(context.Context, string) error { return nil }
func (r *stopRecorder) Wait(ctx context.Context, _ string) (container.Exit, error) {
	<-ctx.Done()
	return container.Exit{}, ctx.Err()
}
func (r *stopRecorder) List(context.Context, map[string]string) ([]container.Info, error) {
	return nil, nil
}

// TestQuotaPassStopsAndRefuses: a group folder over its quota gets its
// running container killed once; a wake is then refused and the waiting
// message fails with the reason; once space is freed, wakes pass again.
func TestQuotaPassStopsAndRefuses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	home := t.TempDir()
	store, err := data.Open(ctx, paths.Home(home).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rt := &stopRecorder{stops: make(chan string, 10)}
	m := New(Config{Home: home, UID: -1, DiskQuotaEvery: time.Hour}, store, rt, groups.Layout{Root: paths.Home(home).Groups(), UID: -1})
	m.ctx = ctx
	g := data.AgentGroup{ID: "g1", Folder: "hog", ContainerConfig: `{"disk_quota_mb":1}`}
	fill := filepath.Join(m.layout.Dir(g.Folder), "fill")
	write(t, fill, 2<<20)
	dir := paths.Home(home).Session(g.ID, "s1")
	conf, err := groups.LoadConfig(g)
	if err != nil {
		t.Fatal(err)
	}
	l := &handle{c: m.core, id: "s1", group: g, row: g, conf: conf, dir: dir, db: sessiondb.Host{Dir: dir}, kick: make(chan struct{}, 1),
		targets: map[string]progressTarget{}, running: true, ctrID: "c1"}
	if err := l.db.Create(ctx, sessiondb.InMessage{ChannelType: "fake", PlatformID: "room"}); err != nil {
		t.Fatal(err)
	}
	m.sessions[l.id] = l
	qw := &quotaWatch{log: m.log, watched: map[string]bool{}}

	m.sup.quotaPass(ctx, nil, qw)
	select {
	case got := <-rt.stops:
		if got != "c1 grace=0s" {
			t.Fatalf("stop = %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the container of a group over its quota was not stopped")
	}
	m.sup.quotaPass(ctx, nil, qw)
	select {
	case got := <-rt.stops:
		t.Fatalf("stopped twice: %q", got)
	case <-time.After(100 * time.Millisecond):
	}

	// The container is gone; a message waits; the wake is refused.
	l.running, l.ctrID = false, ""
	if _, err := l.db.Append(ctx, sessiondb.InMessage{ID: "m1", Kind: sessiondb.KindChat, Trigger: true, ChannelType: "fake", PlatformID: "room"}); err != nil {
		t.Fatal(err)
	}
	if err := m.sup.refuseOverQuota(ctx, l); !errors.Is(err, errOverQuota) {
		t.Fatalf("wake over quota: %v", err)
	}
	failed, err := l.db.FailedUnnotified(ctx)
	if err != nil || len(failed) != 1 || !strings.Contains(failed[0].Error, "over its disk quota (2.0 MiB of 1.0 MiB)") {
		t.Fatalf("failed messages: %+v, %v", failed, err)
	}

	// Space is freed: the next pass sees it (over folders are measured
	// with no container running) and wakes pass.
	os.Remove(fill)
	m.sup.quotaPass(ctx, nil, qw)
	if err := m.sup.refuseOverQuota(ctx, l); err != nil {
		t.Fatalf("wake after space was freed: %v", err)
	}
}
