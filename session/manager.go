// Package session routes inbound messages to agent sessions, keeps each
// session's container running while it has work (exactly one per session),
// delivers what the agent writes back, retries what failed and stops what
// is idle.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Runtime runs agent containers. container.Docker implements it.
type Runtime interface {
	Ensure(ctx context.Context, spec container.Spec) (container.Info, bool, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string) error
	Wait(ctx context.Context, id string) (container.Exit, error)
	List(ctx context.Context, labels map[string]string) ([]container.Info, error)
}

// The engine runtime; a TEST-ONLY in-process one also implements Runtime.
var _ Runtime = (*container.Docker)(nil)

// Commands handles chat commands ("!help"); the groups package implements it.
type Commands interface {
	Handle(ctx context.Context, in channels.Inbound, reply func(text string)) error
}

// Config is the session manager's configuration, read once at start.
type Config struct {
	Home         string            // BERTH_HOME
	Image        string            // agent image
	Images       []string          // more images groups may name (besides Image and the claude image)
	Provider     string            // default provider for groups that name none
	IdleTimeout  time.Duration     // stop a container with no work for this long; 0: groups.DefaultIdleTimeout
	StuckTimeout time.Duration     // kill a container whose claimed turn shows no heartbeat for this long
	StopGrace    time.Duration     // SIGTERM to SIGKILL
	MaxTries     int               // container attempts per message before it fails
	RetryBase    time.Duration     // retry backoff: RetryBase·2^tries
	SendTries    int               // delivery attempts per reply before it fails
	SendBase     time.Duration     // delivery backoff: SendBase·2^attempt
	SendTimeout  time.Duration     // one send attempt's limit
	MaxRunning   int               // cap on running containers; 0: DefaultMaxRunning(Memory)
	SenderRate   int               // messages a minute per sender without a role, per conversation; 0: 10; <0: no limit
	SenderBurst  int               // how many of those may come at once; 0: 5
	Poll         time.Duration     // fallback sweep interval
	MaxText      int               // longest accepted message, in bytes
	Memory       int64             // default container memory limit; 0: groups.DefaultMemory
	NanoCPUs     int64             // default container CPU limit; 0: groups.DefaultNanoCPUs
	Pids         int64             // default container pids limit; 0: groups.DefaultPids
	UID          int               // container user; -1: the host user running berth
	Env          []string          // extra container environment (never secrets)
	Extras       Extras            // per-group mounts and env; may be nil
	Allowlist    *mounts.Allowlist // what extra mounts groups may ask for; nil: none
	Observer     Observer          // metrics; may be nil
	// MaxRepliesPerTurn and MaxRepliesPerMinute cap what one session's
	// agent can post: replies past either are not delivered.
	MaxRepliesPerTurn, MaxRepliesPerMinute int
	// PassRate and PassBurst bound a session's delivery passes per second,
	// so an agent churning its out/ folder cannot keep the host busy.
	PassRate  float64
	PassBurst int
	// Disk quotas (see quota.go): bytes a group folder and a session's
	// out/ folder may hold (0: groups.DefaultDiskQuota, groups.DefaultSessionDiskQuota;
	// <0: not measured), entries either may hold, and how often running
	// sessions' folders are measured.
	GroupDiskQuota   int64
	SessionDiskQuota int64
	DiskQuotaFiles   int
	DiskQuotaEvery   time.Duration
	// ContainerLogs, if set, is called in its own goroutine each time a
	// container is spawned or adopted, to capture its output.
	ContainerLogs func(sessionID, containerID string)
	Log           *slog.Logger
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.IdleTimeout, groups.DefaultIdleTimeout)
	set(&c.StuckTimeout, 10*time.Minute)
	set(&c.StopGrace, 5*time.Second)
	set(&c.RetryBase, 5*time.Second)
	set(&c.SendBase, time.Second)
	set(&c.SendTimeout, 30*time.Second)
	set(&c.Poll, 5*time.Second)
	set(&c.DiskQuotaEvery, DefaultDiskQuotaEvery)
	if c.GroupDiskQuota == 0 {
		c.GroupDiskQuota = groups.DefaultDiskQuota
	}
	if c.SessionDiskQuota == 0 {
		c.SessionDiskQuota = groups.DefaultSessionDiskQuota
	}
	if c.DiskQuotaFiles <= 0 {
		c.DiskQuotaFiles = DefaultDiskQuotaFiles
	}
	if c.MaxTries == 0 {
		c.MaxTries = 5
	}
	if c.SendTries == 0 {
		c.SendTries = 4
	}
	if c.MaxText == 0 {
		c.MaxText = 64 << 10
	}
	if c.MaxRepliesPerTurn == 0 {
		c.MaxRepliesPerTurn = 20
	}
	if c.MaxRepliesPerMinute == 0 {
		c.MaxRepliesPerMinute = 120
	}
	if c.PassRate == 0 {
		c.PassRate = 10
	}
	if c.PassBurst == 0 {
		c.PassBurst = 10
	}
	if c.Image == "" {
		c.Image = container.DefaultImage
	}
	if c.Provider == "" {
		c.Provider = groups.DefaultProvider
	}
	if c.Memory == 0 {
		c.Memory = groups.DefaultMemory
	}
	if c.NanoCPUs == 0 {
		c.NanoCPUs = groups.DefaultNanoCPUs
	}
	if c.Pids == 0 {
		c.Pids = groups.DefaultPids
	}
	if c.MaxRunning <= 0 {
		c.MaxRunning = DefaultMaxRunning(c.Memory)
	}
	if c.SenderRate == 0 {
		c.SenderRate = 10
	}
	if c.SenderBurst <= 0 {
		c.SenderBurst = 5
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// Manager is the gateway's core: the router, the session lifecycle and the
// delivery loop.
type Manager struct {
	cfg      Config
	obs      Observer
	running  atomicCount
	store    *data.Store
	rt       Runtime
	layout   groups.Layout
	log      *slog.Logger
	commands Commands

	chMu     sync.RWMutex
	channels map[string]channels.Channel

	wakes singleflight.Group
	slots *slots
	quota quotas

	mu       sync.Mutex
	sessions map[string]*live
	byOutDir map[string]*live
	hints    map[string]time.Time // unwired-channel hints sent, per channel
	catching map[string]string    // conversations being caught up -> newest live id meanwhile
	access   accessState          // notices told and rate buckets, per sender and conversation
	changed  chan struct{}        // closed and replaced after each delivery pass

	watcher *fsnotify.Watcher
	ctx     context.Context // the Run context; set before anything is routed
	wg      sync.WaitGroup
}

// live is the in-memory state of one session this process knows.
type live struct {
	id    string
	group data.AgentGroup
	// conf is the group's configuration, parsed once when the session was
	// loaded; confErr, if not nil, is why it was refused (every wake then
	// fails with it, and conf is the zero Config: the gateway's settings).
	conf    groups.Config
	confErr error
	dir     string
	db      sessiondb.Host
	kick    chan struct{}
	mu      sync.Mutex // serialises container lifecycle changes
	running bool
	ctrID   string
	started time.Time
	failed  int       // consecutive failed wakes
	queued  time.Time // when its oldest waiting message was accepted
	// backlog marks a session without a container that the sweep must
	// still look at: a wake failed, or delivery left something behind.
	backlog atomic.Bool

	amu        sync.Mutex // guards activity, refused, oomSeen, targets and queued
	activity   time.Time
	refused    container.Refusals        // what the running container's limits refused it, as told
	oomSeen    int64                     // memory kills seen in its cgroup, told once seen again
	targets    map[string]progressTarget // inbound id -> what to tell the platform
	delivering sync.Mutex                // held by the one delivery pass; guards flood
	flood      floodState
	recorded   outcomeMark   // the acks' outcomes the last pass recorded; guarded by delivering
	passes     *rate.Limiter // delivery passes; bounds what a churning out/ folder costs
}

type progressTarget struct {
	channel string
	t       channels.Target
	at      time.Time // when the message was accepted
}

// New returns a manager. Call Run before routing messages.
func New(cfg Config, store *data.Store, rt Runtime, layout groups.Layout) *Manager {
	cfg.defaults()
	return &Manager{
		cfg:      cfg,
		obs:      cfg.Observer,
		store:    store,
		rt:       rt,
		layout:   layout,
		log:      cfg.Log,
		channels: map[string]channels.Channel{},
		slots:    newSlots(cfg.MaxRunning),
		sessions: map[string]*live{},
		byOutDir: map[string]*live{},
		hints:    map[string]time.Time{},
		catching: map[string]string{},
		changed:  make(chan struct{}),
	}
}

// SetCommands installs the chat command handler.
func (m *Manager) SetCommands(c Commands) { m.commands = c }

// AddChannel registers an adapter that replies can be delivered through.
func (m *Manager) AddChannel(ch channels.Channel) {
	m.chMu.Lock()
	defer m.chMu.Unlock()
	m.channels[ch.Type()] = ch
}

func (m *Manager) channel(t string) channels.Channel {
	m.chMu.RLock()
	defer m.chMu.RUnlock()
	return m.channels[t]
}

// Store returns the central store.
func (m *Manager) Store() *data.Store { return m.store }

// Run recovers state left by an earlier process (adopting or removing its
// containers, re-queuing interrupted work, re-delivering unsent replies)
// and then sweeps until ctx is done. It returns once recovery is finished
// through ready, if not nil.
func (m *Manager) Run(ctx context.Context, ready chan<- struct{}) error {
	m.ctx = ctx
	w, err := fsnotify.NewWatcher()
	if err != nil {
		m.log.Warn("no file-system events; polling only", "err", err)
	} else {
		m.watcher = w
		defer w.Close()
		m.wg.Add(1)
		go m.watch()
	}
	if err := m.recover(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	m.wg.Add(1)
	go m.quotaLoop(ctx)
	if ready != nil {
		close(ready)
	}
	t := time.NewTicker(m.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.sweep(ctx)
		}
	}
}

// Shutdown stops every container this manager runs and waits for its
// goroutines. ctx bounds the wait.
func (m *Manager) Shutdown(ctx context.Context) {
	m.mu.Lock()
	ls := make([]*live, 0, len(m.sessions))
	for _, l := range m.sessions {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.stop(ctx, l, "shutdown")
		}()
	}
	wg.Wait()
}

// session returns the live state of a session, loading it on first use.
func (m *Manager) session(ctx context.Context, s data.Session) (*live, error) {
	m.mu.Lock()
	l := m.sessions[s.ID]
	m.mu.Unlock()
	if l != nil {
		return l, nil
	}
	g, err := m.store.Group(ctx, s.AgentGroupID)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.ID, err)
	}
	conf, confErr := groups.LoadConfig(g)
	dir := m.sessionDir(s)
	l = &live{id: s.ID, group: g, conf: conf, confErr: confErr, dir: dir, db: sessiondb.Host{Dir: dir}, kick: make(chan struct{}, 1),
		targets: map[string]progressTarget{}, activity: time.Now(), passes: rate.NewLimiter(rate.Limit(m.cfg.PassRate), m.cfg.PassBurst)}
	routing := sessiondb.InMessage{ThreadID: s.ThreadID}
	if s.MessagingGroupID != "" {
		if mg, err := m.store.MessagingGroupByID(ctx, s.MessagingGroupID); err == nil {
			routing.ChannelType, routing.PlatformID = mg.ChannelType, mg.PlatformID
		}
	}
	if err := l.db.Create(ctx, routing); err != nil {
		return nil, fmt.Errorf("session %s: %w", s.ID, err)
	}
	if m.cfg.UID >= 0 {
		// The container runs unprivileged and must own what it writes.
		for _, d := range []string{sessiondb.OutDir, filepath.Join(sessiondb.OutDir, "outbox")} {
			os.Lchown(filepath.Join(dir, d), m.cfg.UID, m.cfg.UID)
		}
	}
	m.mu.Lock()
	if prev := m.sessions[s.ID]; prev != nil {
		m.mu.Unlock()
		return prev, nil
	}
	m.sessions[s.ID] = l
	m.byOutDir[filepath.Join(dir, sessiondb.OutDir)] = l
	m.mu.Unlock()
	if confErr != nil {
		m.log.Warn("group config refused", "group", g.Folder, "session", s.ID, "err", confErr)
	}
	if m.watcher != nil {
		if err := m.watcher.Add(filepath.Join(dir, sessiondb.OutDir)); err != nil {
			m.log.Warn("watch session folder; polling it", "session", s.ID, "err", err)
		}
	}
	m.wg.Add(1)
	go m.deliverLoop(l)
	return l, nil
}

// sessionDir is a session's folder under BERTH_HOME.
func (m *Manager) sessionDir(s data.Session) string {
	return paths.Home(m.cfg.Home).Session(s.AgentGroupID, s.ID)
}

// watch turns file-system events in sessions' out/ folders into delivery kicks.
func (m *Manager) watch() {
	defer m.wg.Done()
	for {
		select {
		case ev, ok := <-m.watcher.Events:
			if !ok {
				return
			}
			// Only the reply database (and its journal going, which ends
			// a commit) can carry news; the agent may churn anything else
			// in out/ as fast as it likes.
			if name := filepath.Base(ev.Name); name != sessiondb.OutboundFile && name != sessiondb.OutboundFile+"-journal" {
				continue
			}
			m.mu.Lock()
			l := m.byOutDir[filepath.Dir(ev.Name)]
			m.mu.Unlock()
			if l != nil {
				l.poke()
			}
		case err, ok := <-m.watcher.Errors:
			if !ok {
				return
			}
			m.log.Warn("file-system events", "err", err)
		}
	}
}

func (l *live) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *live) touch() {
	l.amu.Lock()
	l.activity = time.Now()
	l.amu.Unlock()
}

func (l *live) lastActivity() time.Time {
	l.amu.Lock()
	defer l.amu.Unlock()
	t := l.activity
	// Lstat: the agent owns out/ and may plant a symlink there.
	if fi, err := os.Lstat(filepath.Join(l.dir, sessiondb.OutDir, sessiondb.Heartbeat)); err == nil && fi.Mode().IsRegular() && fi.ModTime().After(t) {
		t = fi.ModTime()
	}
	return t
}

// notifyChanged wakes WaitIdle callers.
func (m *Manager) notifyChanged() {
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// WaitIdle blocks until every session this process knows has no message
// waiting for an answer, no reply waiting for delivery and no failure
// waiting to be told, or until ctx is done.
func (m *Manager) WaitIdle(ctx context.Context) error {
	for {
		m.mu.Lock()
		ch := m.changed
		ls := make([]*live, 0, len(m.sessions))
		for _, l := range m.sessions {
			ls = append(ls, l)
		}
		m.mu.Unlock()
		busy := false
		for _, l := range ls {
			if b, err := l.db.Busy(ctx); err != nil || b {
				busy = true
				break
			}
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(time.Second):
		}
	}
}

// slots caps running containers. A session waiting for a slot is served
// in the order its message was accepted, whatever order goroutines run in.
type slots struct {
	mu      sync.Mutex
	max     int
	used    int
	waiters []*waiter
}

type waiter struct {
	since time.Time
	ready chan struct{}
}

func newSlots(max int) *slots { return &slots{max: max} }

func (s *slots) acquire(ctx context.Context, since time.Time) error {
	if s.max <= 0 {
		return nil
	}
	s.mu.Lock()
	if s.used < s.max && len(s.waiters) == 0 {
		s.used++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{since: since, ready: make(chan struct{})}
	i := sort.Search(len(s.waiters), func(i int) bool { return s.waiters[i].since.After(since) })
	s.waiters = append(s.waiters, nil)
	copy(s.waiters[i+1:], s.waiters[i:])
	s.waiters[i] = w
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.waiters {
			if x == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted while cancelling: pass it on.
		s.releaseLocked()
		return ctx.Err()
	}
}

func (s *slots) release() {
	if s.max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked()
}

func (s *slots) releaseLocked() {
	if len(s.waiters) > 0 {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		close(w.ready) // the slot passes straight to the next waiter
		return
	}
	s.used--
}

// atomicCount counts running containers for the observer.
type atomicCount struct {
	mu sync.Mutex
	n  int
}

func (a *atomicCount) add(d int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += d
	return a.n
}

var errNoChannel = errors.New("no adapter for this channel type is running")
