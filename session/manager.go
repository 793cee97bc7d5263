// Package session routes inbound messages to agent sessions, keeps each
// session's container running while it has work (exactly one per session),
// delivers what the agent writes back, retries what failed and stops what
// is idle.
package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
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
	TurnTimeout  time.Duration     // stop a turn that takes longer; 0: groups.DefaultTurnTimeout (a group's turn_timeout wins)
	StuckTimeout time.Duration     // stop a turn that makes no progress for this long; 0: groups.DefaultStuckTimeout (a group's stuck_timeout wins)
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
	Runners      Runners           // which runner each new container runs; nil: the image's
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
	set(&c.TurnTimeout, groups.DefaultTurnTimeout)
	set(&c.StuckTimeout, groups.DefaultStuckTimeout)
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

// Manager is the gateway's core, a thin facade over its parts (see
// core.go): the router takes inbound messages, each session's handle owns
// its container, the supervisor reconciles and bounds what runs, and
// delivery sends what agents write back.
type Manager struct {
	*core
	router *router
	sup    *supervisor
	dlv    *delivery
}

// New returns a manager. Call Run before routing messages.
func New(cfg Config, store *data.Store, rt Runtime, layout groups.Layout) *Manager {
	cfg.defaults()
	c := &core{
		cfg:      cfg,
		obs:      cfg.Observer,
		store:    store,
		rt:       rt,
		layout:   layout,
		log:      cfg.Log,
		channels: map[string]channels.Channel{},
		slots:    newSlots(cfg.MaxRunning),
		sessions: map[string]*handle{},
		byOutDir: map[string]*handle{},
		changed:  make(chan struct{}),
	}
	c.dlv = &delivery{core: c}
	c.sup = &supervisor{core: c}
	r := &router{core: c, hints: map[string]time.Time{}, catching: map[markKey]*freeze{}, catchUps: map[string]*catchUpRun{}}
	return &Manager{core: c, router: r, sup: c.sup, dlv: c.dlv}
}

// SetCommands installs the chat command handler.
func (m *Manager) SetCommands(c Commands) { m.router.commands = c }

// AddChannel registers an adapter that replies can be delivered through.
func (m *Manager) AddChannel(ch channels.Channel) { m.addChannel(ch) }

// Store returns the central store.
func (m *Manager) Store() *data.Store { return m.store }

// Run recovers state left by an earlier process (adopting or removing its
// containers, re-queuing interrupted work, re-delivering unsent replies)
// and then sweeps until ctx is done. It returns once recovery is finished
// through ready, if not nil.
func (m *Manager) Run(ctx context.Context, ready chan<- struct{}) error {
	return m.sup.run(ctx, ready)
}

// Shutdown stops every container this manager runs and waits for its
// goroutines. ctx bounds the wait.
func (m *Manager) Shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range m.all() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.stop(ctx, "shutdown")
		}()
	}
	wg.Wait()
}

// Handle routes one inbound message: a chat command goes to the command
// handler; otherwise each wiring whose engage rule matches gets the
// message written durably to its session's inbound.db, and the session is
// woken. It returns nil once the message is stored or deliberately
// dropped (and, for a refusal, the sender told why), so a platform may ack
// it; an error means it was not stored and should be redelivered.
func (m *Manager) Handle(ctx context.Context, in channels.Inbound) error {
	return m.router.handle(ctx, in)
}

// PrepareBackfill notes, before ch starts, where each of its wired
// conversations left off, and returns the catch-up to run once it has:
// it routes what was posted after that point (deduplicated against what
// was already handled). The marks must be read before ch delivers new
// messages, or those would hide what came before them.
func (m *Manager) PrepareBackfill(ctx context.Context, ch channels.Channel) (func(context.Context) error, error) {
	return m.router.prepareBackfill(ctx, ch)
}

// Backfill prepares and runs a catch-up at once (tests). When one is
// running for ch already, it is run once more after it, and Backfill
// returns at once.
func (m *Manager) Backfill(ctx context.Context, ch channels.Channel) error {
	run, err := m.PrepareBackfill(ctx, ch)
	if err != nil {
		return err
	}
	return run(ctx)
}

// Reconnected is ch's reconnect hook (channels.Reconnecter): it notes,
// before ch hands in any message of its new connection, where each wired
// conversation left off, and catches up in the background what was
// posted in the gap, with the guarantees of the start-up catch-up. A
// reconnect while a catch-up runs makes it run again after.
func (m *Manager) Reconnected(ctx context.Context, ch channels.Channel) {
	m.router.reconnected(ctx, ch)
}

// ReleaseHeld routes the messages held for groupID from senderID, in
// every conversation, now that the sender was allowed, and reports how
// many it passed on. A message stays held if routing it fails, so that
// asking again retries it (routing twice stores it once: its id is
// deterministic); one whose conversation is no longer wired to the group
// is dropped, as it would be if it came now.
func (m *Manager) ReleaseHeld(ctx context.Context, groupID, senderID string) (int, error) {
	return m.router.releaseHeld(ctx, groupID, senderID)
}

// Wake makes sure the session's container is running. Concurrent wakes of
// one session share one attempt. A closed session is not woken: ErrClosed.
func (m *Manager) Wake(ctx context.Context, sessionID string) error { return m.wake(ctx, sessionID) }

// StopSession stops a session's container now, as a crash would: what
// its turn claimed is retried. A person's !stop is StopTurn.
func (m *Manager) StopSession(ctx context.Context, sessionID string) error {
	if l := m.lookup(sessionID); l != nil {
		l.stop(ctx, "stopped")
	}
	return nil
}

// The chat commands stop turns and reset sessions through the manager.
var _ groups.Sessions = (*Manager)(nil)

// StopTurn cancels the turn a session's agent is working on (!stop): the
// messages it claimed are marked cancelled in inbound.db, never retried
// nor answered (a reply the agent still writes to one is dropped), and its
// container is stopped (in the background: it returns once the turn is
// cancelled). The session keeps its state; its next message starts a
// fresh turn, in a new container. A session this process has not loaded
// has no container nor turn here.
func (m *Manager) StopTurn(ctx context.Context, sessionID string) (groups.Halted, error) {
	l := m.lookup(sessionID)
	if l == nil {
		return groups.Halted{}, nil
	}
	return l.halt(ctx, reasonStopped)
}

// ResetSession closes a session for good (!reset). The store closes it
// first, so the conversation's next message starts a new session; then
// its turn is cancelled as StopTurn does, its container stopped, and the
// messages still waiting in it fail, their senders told to send them
// again: they were asked of a conversation the person chose to leave.
// Nothing wakes a closed session again.
func (m *Manager) ResetSession(ctx context.Context, sessionID string) (groups.Halted, error) {
	s, err := m.store.Session(ctx, sessionID)
	if err != nil {
		return groups.Halted{}, fmt.Errorf("reset session %s: %w", sessionID, err)
	}
	if err := m.store.CloseSession(ctx, s.ID); err != nil {
		return groups.Halted{}, fmt.Errorf("close session %s: %w", s.ID, err)
	}
	l, err := m.session(ctx, s)
	if err != nil {
		return groups.Halted{}, fmt.Errorf("reset session %s: %w", s.ID, err)
	}
	return l.reset(ctx), nil
}

// WaitIdle blocks until every session this process knows has no message
// waiting for an answer, no reply waiting for delivery and no failure
// waiting to be told, or until ctx is done.
func (m *Manager) WaitIdle(ctx context.Context) error { return m.waitIdle(ctx) }
