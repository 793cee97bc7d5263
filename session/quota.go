package session

// Disk quotas.
//
// An agent can write into two host folders: its group folder
// (groups/<folder>, mounted at /workspace/group and shared by every session
// of the group) and its session's out/ folder (mounted at /workspace/out).
// A bind mount carries no byte limit of its own, so unless the operator put
// each group folder on its own size-limited filesystem (see
// docs/security.md), the quota is measured: while a container of the group
// runs, both folders are walked every Config.DiskQuotaEvery and shortly
// after a file event at their top level. When a folder is over its
// quota, the containers that can write it are killed at once, new turns of
// the group (or of the session, for out/) are refused at wake with the
// reason, the messages already accepted fail with it (their senders are
// told), the admin is told in the log and in the conversation, and turns
// are accepted again once usage is back under.
//
// Defaults: a group folder may hold 1 GiB, a session's out/ folder 256 MiB,
// and either at most 200,000 entries. A group's container_config can set
// its own ("disk_quota_mb", "session_disk_quota_mb"); the operator sets the
// global ones in Config (a negative value turns that measurement off).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Quota defaults, used where Config sets no value. What a folder may hold
// by default is groups.DefaultDiskQuota and groups.DefaultSessionDiskQuota.
const (
	// DefaultDiskQuotaFiles is how many entries a measured folder may hold;
	// more counts as over quota (inodes are a disk resource too, and the
	// bound keeps one walk cheap).
	DefaultDiskQuotaFiles = 200_000
	// DefaultDiskQuotaEvery is how often the folders of running sessions
	// are measured.
	DefaultDiskQuotaEvery = 2 * time.Second
)

const (
	// diskWalkTimeout bounds one walk; a folder that cannot be measured
	// in this time counts as over quota.
	diskWalkTimeout = 10 * time.Second
	// diskEventDelay is how long after a file event in a group folder it
	// is measured, so a burst of writes costs one walk.
	diskEventDelay = 50 * time.Millisecond
	// diskWalkShare caps the time spent walking one folder at about one
	// part in diskWalkShare: after a walk that took d, that folder is not
	// walked again for diskWalkShare·d.
	diskWalkShare = 10
)

// errOverQuota is why a wake was refused.
var errOverQuota = errors.New("over disk quota")

// diskUsage is what one walk of a folder found.
type diskUsage struct {
	Bytes   int64 // per entry the larger of its apparent size and its allocated blocks, summed
	Entries int   // entries seen, the root included
	// Unmeasured, when set, says why the walk stopped before the end (too
	// many entries, out of time, an unreadable entry). Such a folder
	// counts as over quota: the agent controls what is in it.
	Unmeasured string
}

// walkLimits bound one walk.
type walkLimits struct {
	MaxEntries int
	Timeout    time.Duration
}

// maxWalkDepth bounds how deep a walk goes (one descriptor is open per
// level); a deeper folder counts as over quota.
const maxWalkDepth = 128

// walkBatch is how many names are read from a directory at once, so one
// huge directory never lands in memory whole.
const walkBatch = 512

// walkFrame is one open directory of a walk and the subdirectories of the
// batch last read from it, still to be entered.
type walkFrame struct {
	dir     *os.File
	pending []string
}

// measure walks root and sums what its entries take on disk: per entry
// the larger of its size and its allocated blocks, so sparse files count
// at their size and tiny files at least a block; hard links to one file
// count once. It never follows a symlink, not even by a race: every
// entry is looked up relative to its parent's open descriptor, with
// AT_SYMLINK_NOFOLLOW and O_NOFOLLOW, so a link counts as itself and a
// directory swapped for a link meanwhile is skipped. A missing root holds
// nothing.
func measure(ctx context.Context, root string, lim walkLimits) (diskUsage, error) {
	var u diskUsage
	deadline := time.Now().Add(lim.Timeout)
	seen := map[[2]uint64]bool{} // (dev, ino) of files with more than one link
	count := func(st *unix.Stat_t) {
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			key := [2]uint64{st.Dev, st.Ino}
			if seen[key] {
				return
			}
			seen[key] = true
		}
		u.Bytes = satAdd(u.Bytes, max(st.Size, st.Blocks*512, 0))
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return u, nil
	}
	if err != nil {
		return u, fmt.Errorf("measure %s: %w", root, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return u, errors.Join(fmt.Errorf("measure %s: %w", root, err), unix.Close(fd))
	}
	u.Entries++
	count(&st)
	stack := []*walkFrame{{dir: os.NewFile(uintptr(fd), root)}}
	defer func() {
		// Read-only descriptors: a close that fails loses nothing.
		for _, f := range stack {
			_ = f.dir.Close()
		}
	}()
	for len(stack) > 0 {
		if ctx.Err() != nil || time.Now().After(deadline) {
			u.Unmeasured = fmt.Sprintf("too large to measure in %v", lim.Timeout)
			return u, nil
		}
		top := stack[len(stack)-1]
		dfd := int(top.dir.Fd())
		if n := len(top.pending); n > 0 {
			name := top.pending[n-1]
			top.pending = top.pending[:n-1]
			if len(stack) >= maxWalkDepth {
				u.Unmeasured = fmt.Sprintf("folders nested more than %d deep", maxWalkDepth)
				return u, nil
			}
			cfd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			switch {
			case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
				// Removed, or swapped for a link or a file since it was listed.
			case err != nil:
				u.Unmeasured = "a folder in it could not be read"
				return u, nil
			default:
				stack = append(stack, &walkFrame{dir: os.NewFile(uintptr(cfd), name)})
			}
			continue
		}
		names, err := top.dir.Readdirnames(walkBatch)
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			_ = top.dir.Close() // read-only: a failed close loses nothing
			stack = stack[:len(stack)-1]
			continue
		}
		if err != nil {
			u.Unmeasured = "a folder in it could not be read"
			return u, nil
		}
		for _, name := range names {
			if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue // removed while we walked
				}
				u.Unmeasured = "an entry in it could not be read"
				return u, nil
			}
			u.Entries++
			if u.Entries > lim.MaxEntries {
				u.Unmeasured = fmt.Sprintf("more than %d files", lim.MaxEntries)
				return u, nil
			}
			count(&st)
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				top.pending = append(top.pending, name)
			}
		}
	}
	return u, nil
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// quotaScope names what a quota applies to.
type quotaScope string

const (
	scopeGroup   quotaScope = "group"   // a group folder; all its sessions
	scopeSession quotaScope = "session" // one session's out/ folder
)

// quotaVerdict is the last measurement of one folder against its quota.
type quotaVerdict struct {
	over  bool
	used  int64
	limit int64
	why   string // what the person is told when over
	at    time.Time
	next  time.Time // not walked again before this (cost bound)
}

// quotas caches verdicts so a wake reads one instead of walking.
type quotas struct {
	mu       sync.Mutex              // guards verdicts and killed
	verdicts map[string]quotaVerdict // quotaKey -> last verdict
	killed   map[string]time.Time    // container id -> when it was stopped for a quota
}

func quotaKey(s quotaScope, id string) string { return string(s) + ":" + id }

func (q *quotas) get(key string) (quotaVerdict, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, ok := q.verdicts[key]
	return v, ok
}

func (q *quotas) set(key string, v quotaVerdict) (prev quotaVerdict) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.verdicts == nil {
		q.verdicts = map[string]quotaVerdict{}
	}
	prev = q.verdicts[key]
	q.verdicts[key] = v
	return prev
}

// markKilled records that a container is being stopped for a quota; it
// reports false if it already was (its exit may not be seen yet).
func (q *quotas) markKilled(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.killed == nil {
		q.killed = map[string]time.Time{}
	}
	if _, ok := q.killed[id]; ok {
		return false
	}
	for k, at := range q.killed {
		if time.Since(at) > time.Hour {
			delete(q.killed, k) // long gone: ids are never reused
		}
	}
	q.killed[id] = time.Now()
	return true
}

// diskQuotas are a group's limits in bytes; a negative value means none.
// Only a positive value in the group's config overrides the gateway's (the
// parser refuses any other): a group cannot switch its quota off.
func (sv *supervisor) diskQuotas(gc groups.Config) (group, session int64) {
	return cmp.Or(gc.DiskQuota, sv.cfg.GroupDiskQuota), cmp.Or(gc.SessionDiskQuota, sv.cfg.SessionDiskQuota)
}

// judge measures one folder against its limit and caches the verdict. It
// reports the verdict and the one before it.
func (sv *supervisor) judge(ctx context.Context, scope quotaScope, id, dir string, limit int64) (quotaVerdict, quotaVerdict) {
	key := quotaKey(scope, id)
	if limit < 0 {
		v := quotaVerdict{limit: limit, at: time.Now()}
		return v, sv.quota.set(key, v)
	}
	began := time.Now()
	u, err := measure(ctx, dir, walkLimits{MaxEntries: sv.cfg.DiskQuotaFiles, Timeout: diskWalkTimeout})
	took := time.Since(began)
	if ctx.Err() != nil {
		prev, _ := sv.quota.get(key) // shutting down: a cut walk says nothing
		return prev, prev
	}
	if err != nil {
		// Fail closed: a folder berth cannot measure is not trusted.
		idKey := "group"
		if scope == scopeSession {
			idKey = "session"
		}
		sv.log.Warn("disk quota: measure", idKey, id, "err", err)
		u.Unmeasured = "it could not be measured"
	}
	v := quotaVerdict{used: u.Bytes, limit: limit, at: time.Now(), next: time.Now().Add(diskWalkShare * took)}
	v.over = u.Bytes > limit || u.Unmeasured != ""
	what := "this agent's folder"
	if scope == scopeSession {
		what = "this conversation's session folder"
	}
	if u.Unmeasured != "" {
		v.why = fmt.Sprintf("%s is over its disk quota (%s; the limit is %s); an admin must free space", what, u.Unmeasured, fmtBytes(limit))
	} else if v.over {
		v.why = fmt.Sprintf("%s is over its disk quota (%s of %s); an admin must free space", what, fmtBytes(u.Bytes), fmtBytes(limit))
	}
	return v, sv.quota.set(key, v)
}

// fmtBytes writes a size in MiB (or KiB below one MiB).
func fmtBytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// overQuota returns the verdict a wake of l must obey: the group folder's
// if it is over, else the session folder's. A verdict younger than one
// measuring interval is reused; otherwise the folder is measured now (a
// cold wake; a running container never gets here).
func (sv *supervisor) overQuota(ctx context.Context, l *handle) quotaVerdict {
	_, conf, _ := l.config()
	gq, sq := sv.diskQuotas(conf)
	for _, c := range []struct {
		scope   quotaScope
		id, dir string
		limit   int64
	}{
		{scopeGroup, l.group.Folder, sv.layout.Dir(l.group.Folder), gq},
		{scopeSession, l.id, filepath.Join(l.dir, sessiondb.OutDir), sq},
	} {
		v, ok := sv.quota.get(quotaKey(c.scope, c.id))
		if !ok || v.limit != c.limit || time.Since(v.at) >= sv.cfg.DiskQuotaEvery {
			var prev quotaVerdict
			v, prev = sv.judge(ctx, c.scope, c.id, c.dir, c.limit)
			sv.reportTransition(c.scope, c.id, l.group.Folder, v, prev)
		}
		if v.over {
			return v
		}
	}
	return quotaVerdict{}
}

// refuseOverQuota is called before a session's container is started: over
// quota, the container is not started and every message waiting fails at
// once with the reason, so its sender is told. l.mu must not be held.
func (sv *supervisor) refuseOverQuota(ctx context.Context, l *handle) error {
	v := sv.overQuota(ctx, l)
	if !v.over {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	open, err := l.db.Open(ctx)
	if err != nil {
		sv.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
	}
	for _, msg := range open {
		sv.obs.Dropped(msg.ChannelType, "disk quota exceeded")
	}
	l.mu.Lock()
	l.failPending(ctx, v.why)
	l.failed = 0
	l.mu.Unlock()
	sv.log.Warn("refused", "group", l.group.Folder, "session", l.id, "reason", "disk quota exceeded", "used", v.used, "quota", v.limit, "messages", len(open))
	return fmt.Errorf("wake session %s: %w: %s", l.id, errOverQuota, v.why)
}

// reportTransition tells the admin, in the log, when a folder goes over
// or comes back under its quota.
func (sv *supervisor) reportTransition(scope quotaScope, id, group string, v, prev quotaVerdict) {
	attrs := []any{"scope", scope, "group", group}
	if scope == scopeSession {
		attrs = append(attrs, "session", id)
	}
	attrs = append(attrs, "used", v.used, "quota", v.limit)
	switch {
	case v.over && !prev.over:
		sv.log.Error("disk quota exceeded", append(attrs, "reason", v.why)...)
	case !v.over && prev.over:
		sv.log.Info("disk quota: back under", attrs...)
	}
}

// quotaLoop measures the folders of running sessions on a timer and soon
// after a file event in them, and stops containers whose folders are over
// quota.
func (sv *supervisor) quotaLoop(ctx context.Context) {
	defer sv.wg.Done()
	qw := &quotaWatch{log: sv.log, watched: map[string]bool{}}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w, err := fsnotify.NewWatcher(); err != nil {
		sv.log.Warn("disk quota: no file-system events; measuring on the timer only", "err", err)
	} else {
		defer func() {
			if err := w.Close(); err != nil {
				sv.log.Warn("disk quota: close file-system events", "err", err)
			}
		}()
		qw.w, events, errs = w, w.Events, w.Errors
	}
	t := time.NewTicker(sv.cfg.DiskQuotaEvery)
	defer t.Stop()
	dirty := map[string]bool{} // watched folders with events since the last pass
	var soon <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sv.quotaPass(ctx, nil, qw)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			dirty[filepath.Dir(ev.Name)] = true
			if soon == nil {
				soon = time.After(diskEventDelay)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			sv.log.Warn("disk quota: file-system events", "err", err)
		case <-soon:
			soon = nil
			sv.quotaPass(ctx, dirty, qw)
			dirty = map[string]bool{}
		}
	}
}

// quotaWatch keeps file-event watches on the folders of running sessions
// (the top of each; deeper writes are seen on the timer). Only quotaLoop's
// goroutine uses it.
type quotaWatch struct {
	w       *fsnotify.Watcher // nil: no events
	log     *slog.Logger
	watched map[string]bool // folders with a watch
}

// set watches dir while on is true.
func (q *quotaWatch) set(dir string, on bool) {
	if q.w == nil || q.watched[dir] == on {
		return
	}
	var err error
	if on {
		err = q.w.Add(dir)
	} else {
		err = q.w.Remove(dir)
	}
	if err != nil {
		q.log.Debug("disk quota: watch", "dir", dir, "on", on, "err", err)
	}
	if on && err == nil {
		q.watched[dir] = true
	} else {
		delete(q.watched, dir)
	}
}

// quotaPass measures what may have grown: the folder of each group with a
// running container and the out/ folder of each running session, plus
// every folder last found over (so recovery is seen). With dirty not nil
// (an event pass) it measures only the folders in it. Measuring a folder
// is skipped while its cost bound holds.
func (sv *supervisor) quotaPass(ctx context.Context, dirty map[string]bool, qw *quotaWatch) {
	byGroup := map[string][]*handle{}
	for _, l := range sv.all() {
		byGroup[l.group.Folder] = append(byGroup[l.group.Folder], l)
	}
	due := func(key, dir string, running bool) bool {
		prev, _ := sv.quota.get(key)
		return (running || prev.over) && (dirty == nil || dirty[dir]) && time.Now().After(prev.next)
	}
	for folder, ls := range byGroup {
		if ctx.Err() != nil {
			return
		}
		running := make([]bool, len(ls))
		anyRunning := false
		for i, l := range ls {
			l.mu.Lock()
			running[i] = l.running
			l.mu.Unlock()
			anyRunning = anyRunning || running[i]
		}
		_, conf, _ := ls[0].config() // under its lock: a wake reloads it meanwhile
		gq, sq := sv.diskQuotas(conf)
		dir := sv.layout.Dir(folder)
		qw.set(dir, anyRunning)
		if due(quotaKey(scopeGroup, folder), dir, anyRunning) {
			v, prev := sv.judge(ctx, scopeGroup, folder, dir, gq)
			sv.reportTransition(scopeGroup, folder, folder, v, prev)
			if v.over {
				for i, l := range ls {
					if running[i] {
						sv.quotaStop(ctx, l, v)
					}
				}
			}
		}
		for i, l := range ls {
			out := filepath.Join(l.dir, sessiondb.OutDir)
			qw.set(out, running[i])
			if !due(quotaKey(scopeSession, l.id), out, running[i]) {
				continue
			}
			v, prev := sv.judge(ctx, scopeSession, l.id, out, sq)
			sv.reportTransition(scopeSession, l.id, folder, v, prev)
			if v.over && running[i] {
				sv.quotaStop(ctx, l, v)
			}
		}
	}
}

// quotaStop kills a session's container at once (it may still be
// writing) and tells its conversation, once per container. Its exit is
// handled as any other: what it had claimed is re-queued, and the next
// wake refuses and fails it with the reason.
func (sv *supervisor) quotaStop(ctx context.Context, l *handle, v quotaVerdict) {
	l.mu.Lock()
	id, running := l.ctrID, l.running
	l.mu.Unlock()
	if !running || !sv.quota.markKilled(id) {
		return
	}
	sv.log.Error("stopped", "group", l.group.Folder, "session", l.id, "container", short(id), "reason", "disk quota exceeded",
		"used", v.used, "quota", v.limit)
	l.setState(ctx, data.ContainerStopping, id)
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		if err := sv.rt.Stop(ctx, id, 0); err != nil {
			sv.log.Warn("stop container", "group", l.group.Folder, "session", l.id, "container", short(id), "err", err)
		}
		sv.tellConversation(ctx, l, "berth: "+v.why+". Its container was stopped; new messages are refused until usage is back under the quota.")
	}()
}

// tellConversation sends host-side text to a session's conversation.
func (sv *supervisor) tellConversation(ctx context.Context, l *handle, text string) {
	s, err := sv.store.Session(ctx, l.id)
	if err != nil {
		sv.log.Warn("delivery-failed", "group", l.group.Folder, "session", l.id, "err", err)
		return
	}
	if s.MessagingGroupID == "" {
		return // an agent-wide session has no one conversation to tell
	}
	mg, err := sv.store.MessagingGroupByID(ctx, s.MessagingGroupID)
	if err != nil {
		sv.log.Warn("delivery-failed", "group", l.group.Folder, "session", l.id, "err", err)
		return
	}
	if _, err := sv.dlv.sendWithRetry(ctx, mg.ChannelType, channels.Outbound{PlatformID: mg.PlatformID, ThreadID: s.ThreadID, Text: text}); err != nil {
		sv.log.Warn("delivery-failed", "channel", mg.ChannelType, "group", l.group.Folder, "session", l.id, "err", err)
	}
}
