package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session/sessiondb"
)

// handle is one session this process knows, and the owner of its
// container's lifecycle: a wake (ensure, start, adopt), watching the
// container's exit, re-queuing what it left unfinished, and stopping it.
// Lifecycle changes are serialised by mu; what routing, delivery and the
// supervisor note about the session meanwhile is guarded by amu.
type handle struct {
	c  *core
	id string
	// group is the group's row as the session was loaded: its id and
	// folder, which never change. Its configuration is row's.
	group data.AgentGroup

	cmu sync.Mutex // guards row, conf and confErr
	// row is the group's row as the last wake of a stopped container read
	// it, and conf its configuration; confErr, if not nil, is why it was
	// refused (every wake then fails with it, and conf is the zero Config:
	// the gateway's settings). A change to the row (`berth groups config
	// set`, !config set) is read by the next wake that starts a container,
	// and never reaches a running one: its limits stay those it started with.
	row     data.AgentGroup
	conf    groups.Config
	confErr error

	dir  string
	db   sessiondb.Host
	kick chan struct{}

	mu      sync.Mutex // serialises container lifecycle changes; guards running, ctrID, started, failed, slow, slowSince, retryAt, killing and unrequeued
	running bool
	ctrID   string
	started time.Time
	failed  int // consecutive failed wakes
	// unrequeued is the reason a dead container's claims still wait to
	// be requeued (its acks could not be read); "": none wait.
	unrequeued string
	// slow counts the consecutive wakes that failed only because the
	// engine was slow (see transientWake), since slowSince; the sweep
	// tries again from retryAt.
	slow      int
	slowSince time.Time
	retryAt   time.Time
	// killing is why the sweep is stopping the running container (its turn
	// passed a limit): its exit fails what it held with this reason, at once.
	killing string
	// backlog marks a session without a container that the sweep must
	// still look at: a wake failed, or delivery left something behind.
	backlog atomic.Bool
	// closed marks a session that was closed (!reset): nothing wakes it
	// again, and what is left in it is cancelled or failed, never run.
	closed atomic.Bool
	// resetting is set while the reset stops the container, so the sweep
	// does not stop it a second time.
	resetting atomic.Bool

	amu      sync.Mutex // guards activity, refused, oomSeen, targets, phase, queued, claims, cancelled and cancelledRead
	activity time.Time
	queued   time.Time                 // when its oldest waiting message was accepted
	refused  container.Refusals        // what the running container's limits refused it, as told
	oomSeen  int64                     // memory kills seen in its cgroup, told once seen again
	targets  map[string]progressTarget // inbound id -> where its states are shown, and the last shown
	phase    channels.Status           // what its messages waiting for the container show (progress.go)
	// claims are the running container's claimed messages and when the
	// host dates each one's turn from (see turnBegan).
	claims map[string]time.Time
	// cancelled holds the ids of the session's cancelled messages, whose
	// replies are dropped: those cancelled by this process, and once
	// cancelledRead, the newest ones inbound.db records.
	cancelled     map[string]bool
	cancelledRead bool
	// tellMu is held while a state change is told, so the platform hears
	// a message's changes in the order they were made.
	tellMu sync.Mutex

	delivering sync.Mutex // held by the one delivery pass; guards flood, recorded, claimed and addresses
	flood      floodState
	recorded   outcomeMark     // the acks' outcomes the last pass recorded
	claimed    map[string]bool // the messages whose claim a pass saw, until their outcome is recorded
	// addresses are the reply addresses inbound.db has shown to be this
	// session's own; they only ever grow, so a known one needs no read.
	addresses map[sessiondb.Address]bool
	passes    *rate.Limiter // delivery passes; bounds what a churning out/ folder costs
}

// poke asks the session's delivery loop for a pass.
func (l *handle) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// touch notes activity now, which puts off the idle stop.
func (l *handle) touch() {
	l.amu.Lock()
	l.activity = time.Now()
	l.amu.Unlock()
}

// lastActivity is the later of the last noted activity and the agent's heartbeat.
func (l *handle) lastActivity() time.Time {
	l.amu.Lock()
	t := l.activity
	l.amu.Unlock()
	if hb := l.heartbeat(); hb.After(t) {
		t = hb
	}
	return t
}

// heartbeat is when the runner last reported progress: the heartbeat
// file's modification time, or the zero time. The agent owns out/ and may
// plant a symlink or anything else there: only a plain file counts, and
// its time is the agent's word (a turn it keeps "alive" still ends at its
// turn_timeout, which the host times itself).
func (l *handle) heartbeat() time.Time {
	fi, err := os.Lstat(filepath.Join(l.dir, sessiondb.OutDir, sessiondb.Heartbeat))
	if err != nil || !fi.Mode().IsRegular() {
		return time.Time{}
	}
	return fi.ModTime()
}

// setState records the container's state in the store; a failure is
// logged (the column is what `berth status` shows, not what berth acts on).
func (l *handle) setState(ctx context.Context, state data.ContainerState, ctrID string) {
	if err := l.c.store.SetContainerState(ctx, l.id, state, ctrID); err != nil {
		l.c.log.Warn("record container state", "session", l.id, "group", l.group.Folder, "container", short(ctrID), "state", state, "err", err)
	}
}

// maxWakeFailures is how many wakes in a row may fail before the waiting
// messages are failed and their senders told.
const maxWakeFailures = 5

// A wake that failed only because the engine was slow (transientWake) does
// not count towards maxWakeFailures: the sweep tries again after a pause
// that doubles from minWakeBackoff up to maxWakeBackoff, and the waiting
// messages fail only once such wakes have failed for maxSlowWakes.
const (
	minWakeBackoff = 2 * time.Second
	maxWakeBackoff = 30 * time.Second
	maxSlowWakes   = 10 * time.Minute
)

// transientWake reports whether a wake failed because the engine was slow
// rather than broken: the session's container name stayed held by a
// container still being created or removed (a crash's leftovers under
// load). Trying again later succeeds; failing the messages would lose them.
func transientWake(err error) bool {
	return errors.Is(err, container.ErrNameTaken)
}

// wakeBackoff is the pause before the sweep tries again after n slow wakes.
func wakeBackoff(n int) time.Duration {
	d := minWakeBackoff
	for i := 1; i < n && d < maxWakeBackoff; i++ {
		d *= 2
	}
	return min(d, maxWakeBackoff)
}

// ContainerName is the one name a session's container may have. The
// engine refuses a second container with it, which is what makes "one
// container per session" hold across processes.
func ContainerName(groupFolder, sessionID string) string {
	id := sessionID
	if len(id) > 12 {
		id = id[:12]
	}
	return "berth-" + groupFolder + "-" + id
}

// formatBytes renders a memory limit for a person: "1 GiB", "64 MiB".
func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return "none"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// defaultImage is the image a group runs when its config names none: the
// claude provider needs Node and the CLI, the others only the runner.
func defaultImage(provider, image string) string {
	if provider == "claude" {
		return container.ClaudeImage
	}
	return image
}

// short is a container id as the log shows it: its first 12 characters.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ensure makes sure the session's container is running: within the
// supervisor's disk quota and running cap, started or adopted.
func (l *handle) ensure(ctx context.Context) error {
	// A closed session's container may still be stopping: it is not
	// running for anyone any more.
	if l.closed.Load() {
		l.settleClosed(ctx)
		return ErrClosed
	}
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running {
		l.setPhase(ctx, channels.Status{State: channels.StateWorking}, unseen)
		return nil
	}
	// A container is about to start: it runs what the group's row says now.
	if err := l.reload(ctx); err != nil {
		return fmt.Errorf("wake session %s: %w", l.id, err)
	}
	if closed, err := l.closedNow(ctx); err != nil {
		return fmt.Errorf("wake session %s: %w", l.id, err)
	} else if closed {
		l.settleClosed(ctx)
		return ErrClosed
	}
	if err := l.c.sup.refuseOverQuota(ctx, l); err != nil {
		return err
	}
	began := time.Now()
	// Before a slot is taken: a build of the group's runner source holds
	// this wake only, not a running container's place.
	runner := l.chooseRunner(ctx)
	l.amu.Lock()
	since := l.queued
	l.amu.Unlock()
	if since.IsZero() {
		since = began
	}
	// Wait for a slot without holding the session's lock: the sweep must
	// still be able to look at this session meanwhile.
	queued := func(ahead int) {
		l.setPhase(ctx, channels.Status{State: channels.StateQueued, Ahead: ahead}, nil)
	}
	if err := l.c.slots.acquireQueued(ctx, since, queued); err != nil {
		return err
	}
	// A boot that takes a while is shown; a quick one is not. (Only from
	// queued or nothing: a timer that fires as the boot ends changes nothing.)
	boot := time.AfterFunc(startingAfter, func() {
		l.setPhase(ctx, channels.Status{State: channels.StateStarting}, nil, "", channels.StateQueued)
	})
	defer boot.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		l.c.slots.release()
		l.setPhase(ctx, channels.Status{State: channels.StateWorking}, unseen)
		return nil
	}
	if l.closed.Load() {
		// Reset while this wake waited for a slot; the reset settles what
		// is left.
		l.c.slots.release()
		return ErrClosed
	}
	if l.unrequeued != "" {
		l.requeue(ctx, l.unrequeued, false)
		if l.unrequeued != "" {
			l.c.slots.release()
			return fmt.Errorf("wake session %s: the last container's claims are not requeued yet", l.id)
		}
	}
	info, adopted, err := l.start(ctx, runner)
	if err != nil {
		boot.Stop()
		l.setPhase(ctx, channels.Status{}, nil)
		l.c.slots.release()
		l.backlog.Store(true) // the sweep tries again
		l.setState(context.WithoutCancel(ctx), data.ContainerStopped, "")
		if l.countFailure(err, time.Now()) {
			l.failPending(context.WithoutCancel(ctx), "the agent's container could not be started: "+err.Error())
		}
		return fmt.Errorf("wake session %s: %w", l.id, err)
	}
	l.failed, l.slow, l.slowSince, l.retryAt = 0, 0, time.Time{}, time.Time{}
	l.amu.Lock()
	l.queued = time.Time{}
	l.amu.Unlock()
	l.c.obs.Woke(!adopted, time.Since(began))
	l.c.log.Info("woke", "session", l.id, "group", l.group.Folder, "container", short(info.ID), "cold", !adopted, "ms", time.Since(began).Milliseconds())
	l.adopt(info, adopted)
	boot.Stop()
	l.setPhase(ctx, channels.Status{State: channels.StateWorking}, unseen)
	return nil
}

// countFailure records a failed wake at now and reports whether the
// waiting messages are to fail (the count then starts again). A refused
// configuration fails the same way every time: the person is told at once
// rather than after maxWakeFailures wakes. A slow engine (transientWake)
// delays the next try instead, and fails the messages only after
// maxSlowWakes. l.mu is held.
func (l *handle) countFailure(err error, now time.Time) bool {
	var ce *groups.ConfigError
	switch {
	case errors.As(err, &ce):
	case transientWake(err):
		if l.slow == 0 {
			l.slowSince = now
		}
		l.slow++
		if now.Sub(l.slowSince) < maxSlowWakes {
			l.retryAt = now.Add(wakeBackoff(l.slow))
			return false
		}
	default:
		l.failed++
		l.retryAt = time.Time{}
		if l.failed < maxWakeFailures {
			return false
		}
	}
	l.failed, l.slow, l.slowSince, l.retryAt = 0, 0, time.Time{}, time.Time{}
	return true
}

// chooseRunner asks which runner the next container runs, and tells the
// conversation what the choice has to say (a build that failed).
func (l *handle) chooseRunner(ctx context.Context) RunnerChoice {
	if _, _, confErr := l.config(); l.c.cfg.Runners == nil || confErr != nil {
		return RunnerChoice{} // a refused config fails the wake in spec, with no build
	}
	rc := l.c.cfg.Runners.Runner(ctx, l.group.Folder)
	if rc.Notice != "" {
		l.notify(context.WithoutCancel(ctx), rc.Notice)
	}
	return rc
}

// notify sends host-side text to the conversation of the session's newest
// waiting message (the one that woke it).
func (l *handle) notify(ctx context.Context, text string) {
	open, err := l.db.Open(ctx)
	if err != nil {
		l.c.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
		return
	}
	for i := len(open) - 1; i >= 0; i-- {
		m := open[i]
		ch := l.c.channel(m.ChannelType)
		if m.ChannelType == "" || ch == nil {
			continue
		}
		if _, err := ch.Send(ctx, channels.Outbound{PlatformID: m.PlatformID, ThreadID: m.ThreadID, Text: text}); err != nil {
			l.c.log.Warn("delivery-failed", "channel", m.ChannelType, "session", l.id, "group", l.group.Folder, "err", err)
		}
		return
	}
}

// start asks the runtime for the session's container. l.mu is held.
func (l *handle) start(ctx context.Context, runner RunnerChoice) (container.Info, bool, error) {
	l.setState(ctx, data.ContainerStarting, "")
	// A stale heartbeat would make a fresh container look stuck.
	// The agent owns out/: what it left there in the heartbeat's place is
	// its own, and only counts as activity if it is a plain file.
	if err := os.Remove(filepath.Join(l.dir, sessiondb.OutDir, sessiondb.Heartbeat)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.c.log.Warn("remove stale heartbeat", "session", l.id, "group", l.group.Folder, "err", err)
	}
	spec, err := l.spec(runner)
	if err != nil {
		return container.Info{}, false, err
	}
	l.c.watchOut(l, true)
	info, adopted, err := l.c.rt.Ensure(ctx, spec)
	if err != nil {
		l.c.watchOut(l, false)
	}
	return info, adopted, err
}

// adopt records a running container and watches for its exit. l.mu is held.
func (l *handle) adopt(info container.Info, adopted bool) {
	l.running, l.ctrID, l.started = true, info.ID, time.Now()
	l.amu.Lock()
	l.refused, l.oomSeen, l.claims = container.Refusals{}, 0, nil
	l.amu.Unlock()
	l.touch()
	l.c.watchOut(l, true)
	l.c.obs.Running(l.c.running.add(1))
	l.setState(l.c.ctx, data.ContainerRunning, info.ID)
	event := "spawned"
	if adopted {
		event = "adopted"
	}
	l.c.log.Info(event, "session", l.id, "group", l.group.Folder, "container", short(info.ID))
	if l.c.cfg.ContainerLogs != nil {
		go l.c.cfg.ContainerLogs(l.id, info.ID)
	}
	l.c.wg.Add(1)
	go l.watchExit(info.ID)
}

// reload reads the group's row again and parses its configuration, for
// the container about to start.
func (l *handle) reload(ctx context.Context) error {
	g, err := l.c.store.Group(ctx, l.group.ID)
	if err != nil {
		return fmt.Errorf("read group %s: %w", l.group.Folder, err)
	}
	conf, confErr := groups.LoadConfig(g)
	l.cmu.Lock()
	was := l.confErr
	l.row, l.conf, l.confErr = g, conf, confErr
	l.cmu.Unlock()
	if confErr != nil && (was == nil || was.Error() != confErr.Error()) {
		l.c.log.Warn("group config refused", "group", g.Folder, "session", l.id, "err", confErr)
	}
	return nil
}

// config is the group's row and configuration as the last container
// start read them.
func (l *handle) config() (data.AgentGroup, groups.Config, error) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	return l.row, l.conf, l.confErr
}

// checkImage refuses an image the operator did not allow. The allowlist is
// the gateway's runtime configuration, so this one check of a group's
// config is made at spawn rather than when the group is loaded.
func (c *core) checkImage(gc groups.Config) error {
	if gc.Image != "" && !c.imageAllowed(gc.Image) {
		return &groups.ConfigError{Field: "image", Reason: fmt.Sprintf("is %q, which is not berth's agent image nor one the operator allowed (--allowed-images)", truncate(gc.Image, 200))}
	}
	return nil
}

// imageAllowed reports whether a group may run image: berth's configured
// agent image, the claude image, or one the operator listed.
func (c *core) imageAllowed(image string) bool {
	return image == c.cfg.Image || image == container.ClaudeImage || slices.Contains(c.cfg.Images, image)
}

// spec is the container the session runs: its group's limits and
// mounts, checked against what the operator allows, and the runner chosen.
func (l *handle) spec(runner RunnerChoice) (container.Spec, error) {
	row, gc, confErr := l.config()
	if confErr != nil {
		return container.Spec{}, confErr
	}
	if err := l.c.checkImage(gc); err != nil {
		return container.Spec{}, err
	}
	var extra []mounts.Mount
	for _, req := range gc.Mounts {
		if l.c.cfg.Allowlist == nil {
			l.c.log.Warn("mount refused", "group", l.group.Folder, "session", l.id, "reason", "no mount allowlist is configured")
			continue
		}
		mt, err := l.c.cfg.Allowlist.Check(req, row.IsAdmin)
		if err != nil {
			l.c.log.Warn("mount refused", "group", l.group.Folder, "session", l.id, "reason", err.Error())
			continue
		}
		extra = append(extra, mt)
	}
	var extraEnv []string
	if l.c.cfg.Extras != nil {
		mts, env, err := l.c.cfg.Extras(row)
		if err != nil {
			return container.Spec{}, err
		}
		extra = append(extra, mts...)
		extraEnv = env
	}
	if runner.Mount != nil {
		extra = append(extra, *runner.Mount)
	}
	// The group folder is mounted once, whole; the runner reaches what it
	// needs inside it (the claude CLI's state, its own source) by path in
	// the container. A bind mount of a subfolder would be resolved on the
	// host, through whatever symlink the agent put there.
	plan, err := mounts.Plan(mounts.Paths{
		InDir: filepath.Join(l.dir, sessiondb.InDir), OutDir: filepath.Join(l.dir, sessiondb.OutDir),
		GroupDir: l.c.layout.Dir(l.group.Folder), GlobalDir: l.c.layout.GlobalDir(),
		Admin:      row.IsAdmin,
		AgentTrees: []string{l.c.layout.Root, paths.Home(l.c.cfg.Home).Sessions()},
	}, extra)
	if err != nil {
		return container.Spec{}, err
	}
	if gc.PermissionMode != "" {
		extraEnv = append(extraEnv, "BERTH_PERMISSION_MODE="+string(gc.PermissionMode))
	}
	if env := gc.MCPEnv(); env != "" { // the group's MCP servers, from its config: never from a file the agent writes
		extraEnv = append(extraEnv, env)
	}
	provider := cmp.Or(gc.Provider, l.c.cfg.Provider)
	spec := container.Spec{
		Name:  ContainerName(l.group.Folder, l.id),
		Image: cmp.Or(gc.Image, defaultImage(provider, l.c.cfg.Image)),
		Cmd:   []string{"--in", "/workspace/in", "--out", "/workspace/out", "--provider", provider},
		// TZ: "tomorrow" means the same to the agent as to the scheduler.
		Env: append(append([]string{"BERTH_SESSION=" + l.id, "BERTH_GROUP=" + l.group.Folder, "TZ=" + gc.Zone()}, l.c.cfg.Env...), extraEnv...),
		Labels: map[string]string{
			container.LabelSession: l.id, container.LabelGroup: l.group.Folder, container.LabelHome: l.c.cfg.Home,
		},
		Mounts:   plan,
		Memory:   cmp.Or(gc.Memory, l.c.cfg.Memory),
		NanoCPUs: cmp.Or(gc.NanoCPUs, l.c.cfg.NanoCPUs),
		Pids:     cmp.Or(gc.Pids, l.c.cfg.Pids),
	}
	if l.c.cfg.UID >= 0 {
		spec.User = strconv.Itoa(l.c.cfg.UID) + ":" + strconv.Itoa(l.c.cfg.UID)
	} else {
		spec.User = strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	}
	return spec, nil
}

// watchExit waits for a container to go, then re-queues what it left
// unfinished and wakes the session again if work remains.
func (l *handle) watchExit(id string) {
	defer l.c.wg.Done()
	// The engine may be unreachable for a while: keep asking until it
	// answers, rather than forgetting a container that may still run.
	var exit container.Exit
	for backoff := time.Second; ; backoff = min(2*backoff, 15*time.Second) {
		var err error
		exit, err = l.c.rt.Wait(l.c.ctx, id)
		if l.c.ctx.Err() != nil {
			return
		}
		if err == nil {
			break
		}
		l.c.log.Warn("lost track of container; retrying", "session", l.id, "container", short(id), "err", err)
		select {
		case <-l.c.ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
	if exit.OOMKilled {
		// Running the same turn again would run out the same way: the
		// messages it held fail now, with the reason.
		l.c.log.Warn("out of memory", "session", l.id, "group", l.group.Folder, "container", short(id), "limit_bytes", exit.Memory)
		l.exited(id, exit.Code, fmt.Sprintf("the agent ran out of memory (limit %s)", formatBytes(exit.Memory)), true)
		return
	}
	l.exited(id, exit.Code, fmt.Sprintf("the agent's container exited (code %d) while working on it", exit.Code), false)
}

// exited records that a session's container is gone, once, whoever saw it
// first: re-queues what it left unfinished (or, when final, fails it with
// reason) and wakes the session again if work remains.
func (l *handle) exited(id string, code int64, reason string, final bool) {
	l.mu.Lock()
	if l.ctrID != id || !l.running {
		l.mu.Unlock()
		return
	}
	if l.killing != "" {
		// Stopped for a limit its turn passed: running it again would
		// hang the same way.
		reason, final = l.killing, true
	}
	l.running, l.ctrID, l.killing = false, "", ""
	// The lifecycle lock is held until what the dead container claimed is
	// re-queued: until then its claim looks to a new runner like one it may
	// take, so a container a wake started meanwhile (the sweep's) would run
	// the message again without the try being counted, past MaxTries.
	ctx := context.WithoutCancel(l.c.ctx)
	l.setPhase(ctx, channels.Status{}, nil) // what waits now waits for the next container
	l.c.obs.Running(l.c.running.add(-1))
	l.c.slots.release()
	l.setState(ctx, data.ContainerStopped, "")
	l.c.log.Info("exited", "session", l.id, "group", l.group.Folder, "container", short(id), "code", code)
	l.c.watchOut(l, false)
	l.poke() // deliver what it wrote before it went
	if l.c.ctx.Err() != nil {
		l.mu.Unlock()
		return
	}
	if l.closed.Load() {
		// Never requeued nor woken: the reset (or the sweep) cancels and
		// fails what the closed session left.
		l.backlog.Store(true)
		l.mu.Unlock()
		return
	}
	l.requeue(ctx, reason, final)
	l.mu.Unlock()
	l.wakeIfOpen(ctx)
}

// wakeIfOpen wakes the session again if it has messages waiting that
// trigger a turn (context-only rows wait for the next one that does);
// when they cannot be read, the sweep looks again.
func (l *handle) wakeIfOpen(ctx context.Context) {
	if l.closed.Load() {
		return
	}
	open, err := l.db.Open(ctx)
	if err != nil {
		l.c.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
		l.backlog.Store(true)
		return
	}
	if sessiondb.Triggers(open) {
		l.c.wakeAsync(l)
	}
}

// requeue retries, with backoff, every message a dead container had
// claimed but not finished; after the last try (at once when final) the
// message fails. l.mu is held.
func (l *handle) requeue(ctx context.Context, reason string, final bool) {
	tries := l.c.cfg.MaxTries
	if final {
		tries = 1
	}
	acks, err := l.db.Acks(ctx)
	if err != nil {
		// The next wake requeues first (ensure), so the claim's try is
		// counted before another runner can take it.
		l.c.log.Warn("read acks", "session", l.id, "err", err)
		l.unrequeued = reason
		l.backlog.Store(true)
		return
	}
	l.unrequeued = ""
	if _, err := l.db.Finish(ctx, acks); err != nil {
		l.c.log.Warn("record acks", "session", l.id, "err", err)
	}
	// A claim the container made and died on before any delivery pass saw
	// it is still shown: the person sees the try that is being retried.
	l.c.dlv.claims(ctx, l, acks)
	open, err := l.db.Open(ctx)
	if err != nil {
		l.c.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
		l.backlog.Store(true) // the sweep looks again
		return
	}
	for _, msg := range open {
		a, ok := acks[msg.ID]
		if !ok || a.Status != sessiondb.StatusProcessing {
			continue
		}
		failed, err := l.db.Retry(ctx, msg.ID, l.backoff, tries, reason)
		if err != nil {
			l.c.log.Warn("retry", "session", l.id, "err", err)
			continue
		}
		if failed {
			l.c.obs.Failed()
			l.c.log.Warn("failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "message", msg.ID, "tries", msg.Tries+1, "reason", reason)
			l.poke()
		} else {
			l.c.obs.Retried()
			l.c.log.Info("retried", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "message", msg.ID, "tries", msg.Tries+1)
			l.tell(ctx, channels.Status{State: channels.StateRetrying, Detail: reason}, nil, msg.ID)
		}
	}
}

// backoff is how long a message waits before its next try.
func (l *handle) backoff(tries int) time.Duration { return l.c.cfg.RetryBase << min(tries, 10) }

// failPending fails every open message of a session (the agent cannot
// run). A caller holding l.mu also resets l.failed.
func (l *handle) failPending(ctx context.Context, reason string) {
	open, err := l.db.Open(ctx)
	if err != nil {
		l.c.log.Warn("read waiting messages", "session", l.id, "group", l.group.Folder, "err", err)
		l.backlog.Store(true) // the sweep looks again
	}
	for _, msg := range open {
		for i := 0; i < l.c.cfg.MaxTries; i++ {
			failed, err := l.db.Retry(ctx, msg.ID, func(int) time.Duration { return 0 }, l.c.cfg.MaxTries, reason)
			if err != nil {
				l.c.log.Warn("fail message", "session", l.id, "group", l.group.Folder, "message", msg.ID, "err", err)
			}
			if err != nil || failed {
				break
			}
		}
		l.c.log.Warn("failed", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "message", msg.ID, "reason", reason)
	}
	l.poke()
}

// stop asks a session's container to stop and waits for it to go. It
// reports whether it stopped one.
func (l *handle) stop(ctx context.Context, why string) bool {
	l.mu.Lock()
	id := l.ctrID
	running := l.running
	l.mu.Unlock()
	if !running {
		return false
	}
	l.setState(ctx, data.ContainerStopping, id)
	if err := l.c.rt.Stop(ctx, id, l.c.cfg.StopGrace); err != nil {
		l.c.log.Warn("stop container", "session", l.id, "container", short(id), "err", err)
		return false
	}
	l.c.log.Info(why, "session", l.id, "group", l.group.Folder, "container", short(id))
	l.exited(id, 0, "the agent's container was stopped while working on it", false)
	return true
}

// turnBegan is when the running container's current turn began, as far
// as the host can vouch: the earliest claim it still holds among open,
// each dated when the host first saw it, or by its ack when that is
// earlier, but never before started (the agent writes the ack, so it can
// make its own turn look older, never younger). ok is false when the
// container holds no claim.
func (l *handle) turnBegan(ctx context.Context, open []sessiondb.InMessage, started time.Time) (began time.Time, ok bool, err error) {
	acks, err := l.db.Acks(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read acks: %w", err)
	}
	now := time.Now()
	held := map[string]time.Time{}
	l.amu.Lock()
	defer l.amu.Unlock()
	for _, msg := range open {
		a, claimed := acks[msg.ID]
		if !claimed || a.Status != sessiondb.StatusProcessing {
			continue
		}
		at, seen := l.claims[msg.ID]
		if !seen || at.Before(started) {
			at = now
			if a.Changed.After(started) && a.Changed.Before(now) {
				at = a.Changed
			}
		}
		held[msg.ID] = at
		if !ok || at.Before(began) {
			began, ok = at, true
		}
	}
	l.claims = held
	return began, ok, nil
}

// kill stops the running container id at once because its turn passed a
// limit; its exit then fails what it held with reason, not retried. A
// kill already under way is not asked for again.
func (l *handle) kill(ctx context.Context, id, limit, reason string) {
	l.mu.Lock()
	if !l.running || l.ctrID != id || l.killing != "" {
		l.mu.Unlock()
		return
	}
	l.killing = reason
	l.mu.Unlock()
	l.c.log.Warn("killed", "session", l.id, "group", l.group.Folder, "container", short(id), "reason", limit)
	go func() {
		// watchExit sees the exit and fails the claimed messages.
		if err := l.c.rt.Stop(ctx, id, 0); err != nil {
			l.c.log.Warn("stop container", "session", l.id, "group", l.group.Folder, "container", short(id), "err", err)
			l.mu.Lock()
			if l.ctrID == id {
				l.killing = "" // the next sweep tries again
			}
			l.mu.Unlock()
		}
	}()
}
