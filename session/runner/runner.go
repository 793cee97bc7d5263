// Package runner is the agent runner: the process inside every agent
// container. It reads pending messages from inbound.db oldest first, acks
// them, asks its provider for replies, writes them to outbound.db and
// touches the heartbeat file each time its provider reports progress.
//
// It imports neither the Docker client nor any channel adapter: the two
// session databases are all it knows of the world.
package runner

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/session/sessiondb"
)

// Source is the runner's own source (with its providers, in agents/),
// copied once into each new group's runner-src folder so a group can read
// and adapt the runner it runs. Embedding the files, not importing the
// providers, keeps their SDKs out of the host's binary.
//
//go:embed *.go agents/*.go
var Source embed.FS

// Provider answers a turn: the messages that arrived since the last one.
type Provider interface {
	// Name identifies the provider in logs and session state.
	Name() string
	// Turn returns the replies to msgs, oldest first.
	Turn(ctx context.Context, t Turn) ([]Reply, error)
}

// Turn is what a provider sees: the new messages and the session's state.
type Turn struct {
	Messages []sessiondb.InMessage
	State    StateStore
	// Progress reports that the turn is moving: what names the step (a
	// stream event from the model, a tool call starting or ending, a line
	// of a CLI's output). It is the heartbeat: a turn that reports nothing
	// for its group's stuck_timeout is stopped and its messages fail. It
	// is cheap (the runner rate-limits the touches) and safe to call from
	// any goroutine. Call it through Progressed, which allows it to be nil.
	Progress func(what string)
	// InDir is the session's in/ folder as the runner sees it
	// (/workspace/in in a container): attachments' paths are relative to it.
	InDir string
	// OutDir is the session's out/ folder; a reply's files are staged
	// in its outbox (see StageFile).
	OutDir string
}

// Progressed calls t.Progress, if set.
func (t Turn) Progressed(what string) {
	if t.Progress != nil {
		t.Progress(what)
	}
}

// StateStore keeps small values across containers (a conversation id).
type StateStore interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
}

// Reply is one message for the conversation.
type Reply struct {
	// ID is the reply's message id, set when files were staged for it
	// (ReplyID); "" lets the database choose.
	ID        string
	InReplyTo string // inbound message id
	Text      string
	// Files were staged in out/outbox/<ID>/ and go with Text as their comment.
	Files []sessiondb.OutFile
	// To addresses the reply somewhere else than the message it answers.
	// Only the TEST-ONLY echo directive "sendto" sets it, to act as a
	// hostile agent would; berth refuses any address outside the session.
	To *sessiondb.Address
}

// Config is the runner's configuration, read once at start.
type Config struct {
	InDir, OutDir string
	Provider      Provider
	Log           *slog.Logger
	// Poll is the fallback poll interval; file-system events wake the
	// runner sooner.
	Poll time.Duration
	// Heartbeat is the least time between two touches of the heartbeat
	// file on a provider's progress; progress reported sooner is not
	// written (the host's limits are counted in seconds or minutes).
	Heartbeat time.Duration
}

// Run processes messages until ctx is done, then returns nil.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Poll == 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 500 * time.Millisecond
	}
	db := sessiondb.Container{InDir: cfg.InDir, OutDir: cfg.OutDir}
	if err := db.Init(ctx); err != nil {
		return fmt.Errorf("init outbound: %w", err)
	}
	started := time.Now()
	kick := make(chan struct{}, 1)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		cfg.Log.Warn("no file-system events; polling only", "err", err)
	} else {
		defer func() {
			if err := w.Close(); err != nil {
				cfg.Log.Warn("close file-system events", "err", err)
			}
		}()
		if err := w.Add(cfg.InDir); err != nil {
			cfg.Log.Warn("cannot watch inbound folder; polling only", "err", err)
		}
		go func() {
			for {
				select {
				case ev, ok := <-w.Events:
					if !ok {
						return
					}
					// Read after berth's commit ends, not during it: a read
					// then waits on the lock and holds the commit up.
					if sessiondb.CommitEnded(ev, sessiondb.InboundFile) {
						trace(ctx, cfg.Log, "runner-event")
						select {
						case kick <- struct{}{}:
						default:
						}
					}
				case _, ok := <-w.Errors:
					if !ok {
						return
					}
				}
			}
		}()
	}
	state := stateStore{db}
	touch(cfg.OutDir)
	cfg.Log.Info("runner started", "provider", cfg.Provider.Name())
	for {
		due, err := db.Due(ctx, started, time.Now())
		if err != nil && ctx.Err() == nil {
			cfg.Log.Warn("read inbound", "err", err)
		}
		// Context-only rows are no turn by themselves: they wait, with
		// the runner asleep, for the next row that triggers one.
		if sessiondb.Triggers(due) && ctx.Err() == nil {
			trace(ctx, cfg.Log, "runner-read")
			if err := turn(ctx, cfg, db, state, due); err != nil && ctx.Err() == nil {
				cfg.Log.Error("turn", "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		select {
		case <-ctx.Done():
			cfg.Log.Info("runner stopping")
			return nil
		case <-kick:
		case <-time.After(cfg.Poll):
		}
	}
}

func turn(ctx context.Context, cfg Config, db sessiondb.Container, state StateStore, due []sessiondb.InMessage) error {
	// Context-only rows ride along with the next message that triggers.
	var trigger bool
	ids := make([]string, len(due))
	for i, m := range due {
		ids[i] = m.ID
		trigger = trigger || m.Trigger
	}
	if !trigger {
		return nil
	}
	if err := db.Claim(ctx, ids...); err != nil {
		return err
	}
	trace(ctx, cfg.Log, "claimed")
	// The heartbeat is progress, not a timer: a provider that hangs stops
	// touching it, and the host stops the turn after its stuck_timeout.
	hb := &heartbeat{dir: cfg.OutDir, every: cfg.Heartbeat, log: cfg.Log}
	hb.beat("claimed")
	replies, perr := cfg.Provider.Turn(ctx, Turn{Messages: due, State: state, Progress: hb.progress, InDir: cfg.InDir, OutDir: cfg.OutDir})
	if ctx.Err() != nil {
		// Stopped mid-turn: leave the claim for the next container.
		return nil
	}
	trace(ctx, cfg.Log, "provided")
	chType, platformID, threadID, _ := db.Routing(ctx)
	out := make([]sessiondb.OutMessage, 0, len(replies))
	for _, r := range replies {
		m := sessiondb.OutMessage{ID: r.ID, InReplyTo: r.InReplyTo, Kind: sessiondb.KindChat, ChannelType: chType, PlatformID: platformID,
			ThreadID: threadID, Content: sessiondb.OutContent{Text: r.Text, Files: r.Files}}
		for _, in := range due {
			if in.ID == r.InReplyTo && in.PlatformID != "" {
				m.ChannelType, m.PlatformID, m.ThreadID = in.ChannelType, in.PlatformID, in.ThreadID
			}
		}
		if r.To != nil {
			m.ChannelType, m.PlatformID, m.ThreadID = r.To.ChannelType, r.To.PlatformID, r.To.ThreadID
		}
		out = append(out, m)
	}
	status, errText := sessiondb.StatusCompleted, ""
	if perr != nil {
		status, errText = sessiondb.StatusFailed, perr.Error()
		cfg.Log.Warn("provider failed", "err", perr)
	}
	if err := db.Finish(ctx, ids, status, errText, out...); err != nil {
		return err
	}
	trace(ctx, cfg.Log, "reply-written")
	touch(cfg.OutDir)
	return nil
}

// heartbeat touches the heartbeat file on a turn's progress, at most once
// every so often.
type heartbeat struct {
	dir   string
	every time.Duration
	log   *slog.Logger

	mu   sync.Mutex // guards last
	last time.Time  // when the file was last touched
}

// progress is a Turn's Progress: it touches the file unless it was
// touched less than h.every ago.
func (h *heartbeat) progress(what string) {
	h.mu.Lock()
	if time.Since(h.last) < h.every {
		h.mu.Unlock()
		return
	}
	h.last = time.Now()
	h.mu.Unlock()
	h.log.Debug("progress", "what", what)
	touch(h.dir)
}

// beat touches the file whenever it was last touched.
func (h *heartbeat) beat(what string) {
	h.mu.Lock()
	h.last = time.Now()
	h.mu.Unlock()
	h.log.Debug("progress", "what", what)
	touch(h.dir)
}

func touch(outDir string) {
	p := filepath.Join(outDir, sessiondb.Heartbeat)
	now := time.Now()
	if err := os.Chtimes(p, now, now); errors.Is(err, os.ErrNotExist) {
		// The heartbeat is its modification time: an empty file, so a
		// failed close loses nothing.
		if f, err := os.Create(p); err == nil {
			_ = f.Close()
		}
	}
}

// trace records, at debug level, that a step of a turn was reached, with
// the time to the microsecond ("at", Unix microseconds: a JSON log's own
// time has milliseconds only). The host reads these from the container's
// output to break a round trip down (docs/performance.md).
func trace(ctx context.Context, log *slog.Logger, step string) {
	if log.Enabled(ctx, slog.LevelDebug) {
		log.DebugContext(ctx, "trace", "step", step, "at", time.Now().UnixMicro())
	}
}

type stateStore struct{ db sessiondb.Container }

func (s stateStore) Get(ctx context.Context, key string) (string, error) { return s.db.State(ctx, key) }
func (s stateStore) Set(ctx context.Context, key, value string) error {
	return s.db.SetState(ctx, key, value)
}
