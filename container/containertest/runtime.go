// Package containertest is a TEST-ONLY stand-in for container.Docker: an
// in-process runtime that runs the real agent runner (runner.Run with the
// echo provider) in a goroutine against a session's in/ and out/ folders,
// so the session core (routing, wake, retry, idle, delivery, crash
// recovery) can be tested through the same SQLite protocol in seconds,
// without Docker.
//
// It sits beside package container, the way net/http/httptest sits beside
// net/http, because it implements the same contract as container.Docker
// (the one session.Runtime the gateway ships) and keeps the engine's
// semantics the session manager relies on: one container per name (a
// second Ensure adopts), labels to list by, Stop that waits, Wait that
// reports how a container ended and removes it. It gives none of a
// container's isolation or limits: those, and real crashes, stay with the
// Docker tests. No production code may use it; nothing defaults to it.
package containertest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Container states, as the engine names them.
const (
	StateRunning = "running"
	StateExited  = "exited"
)

// Exit codes the engine would report.
const (
	// CodeKilled is a container killed with SIGKILL (128+9).
	CodeKilled = 137
	// CodeFailed is a runner that returned an error.
	CodeFailed = 1
)

// Mount targets the runner's folders are found at in a spec.
const (
	inTarget  = "/workspace/in"
	outTarget = "/workspace/out"
)

// ErrProvider is returned by Ensure for a spec naming a provider other
// than echo: only the echo provider runs in-process.
var ErrProvider = errors.New("containertest: only the echo provider runs in-process")

// ErrAlloc fails a turn that asks the echo provider to allocate memory:
// in-process there is no memory limit, only the test binary's memory.
var ErrAlloc = errors.New("containertest: the alloc directive needs a container's memory limit (a Docker test)")

// Runtime is a TEST-ONLY in-process container runtime. It may outlive a
// session manager: a test can drop one manager (a berth crash) and start
// another on the same home and Runtime, which finds the "containers" still
// running and adopts them. Close it when the test ends.
type Runtime struct {
	log       *slog.Logger
	poll      time.Duration
	heartbeat time.Duration
	boot      time.Duration

	mu      sync.Mutex // guards byID, byName, started and peak
	byID    map[string]*ctr
	byName  map[string]*ctr
	started int // runners started in all
	peak    int // most runners running at once
}

var _ session.Runtime = (*Runtime)(nil)

// Options configure a Runtime.
type Options struct {
	// Log receives the runners' logs; nil: discarded.
	Log *slog.Logger
	// Poll is each runner's fallback poll (a retried message becomes due
	// without any file changing); 0: 50ms.
	Poll time.Duration
	// Heartbeat is the least time between a runner's touches of its
	// heartbeat on progress; 0: 200ms.
	Heartbeat time.Duration
	// Boot is how long each Ensure takes, as a slow engine or a cold
	// image would; 0: no time.
	Boot time.Duration
}

// New returns an empty runtime.
func New(opts Options) *Runtime {
	return &Runtime{
		log:       cmp.Or(opts.Log, slog.New(slog.DiscardHandler)),
		poll:      cmp.Or(opts.Poll, 50*time.Millisecond),
		heartbeat: cmp.Or(opts.Heartbeat, 200*time.Millisecond),
		boot:      opts.Boot,
		byID:      map[string]*ctr{},
		byName:    map[string]*ctr{},
	}
}

// ctr is one in-process "container": a runner goroutine.
type ctr struct {
	id, name string
	labels   map[string]string
	created  time.Time
	cancel   context.CancelFunc
	done     chan struct{} // closed once the runner has returned and exit is set
	waiters  atomic.Int32  // Wait calls blocked on it

	mu     sync.Mutex // guards state, killed and exit
	state  string
	killed bool
	exit   container.Exit
}

func (c *ctr) info() container.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return container.Info{ID: c.id, Name: c.name, Labels: maps.Clone(c.labels), State: c.state, Created: c.created}
}

// kill ends the runner at once, like SIGKILL: its context is cancelled
// and it exits with CodeKilled whatever it was doing. It does not wait.
func (c *ctr) kill() {
	c.mu.Lock()
	if c.state == StateRunning {
		c.killed = true
	}
	c.mu.Unlock()
	c.cancel()
}

// Ensure starts a runner for spec.Name unless one runs: a running one is
// adopted (reported true); an exited one is removed and replaced, as the
// engine frees its name. The runner outlives ctx, as a container outlives
// the request that started it.
func (r *Runtime) Ensure(ctx context.Context, spec container.Spec) (container.Info, bool, error) {
	if err := ctx.Err(); err != nil {
		return container.Info{}, false, err
	}
	in, out, err := folders(spec)
	if err != nil {
		return container.Info{}, false, fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	if r.boot > 0 {
		select {
		case <-time.After(r.boot):
		case <-ctx.Done():
			return container.Info{}, false, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.byName[spec.Name]; c != nil {
		if info := c.info(); info.Running() {
			return info, true, nil
		}
		r.forgetLocked(c)
	}
	id, err := newID()
	if err != nil {
		return container.Info{}, false, fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	c := &ctr{id: id, name: spec.Name, labels: maps.Clone(spec.Labels), created: time.Now(), cancel: cancel,
		done: make(chan struct{}), state: StateRunning}
	r.byID[id], r.byName[spec.Name] = c, c
	r.started++
	r.peak = max(r.peak, r.runningLocked())
	log := r.log.With("container", id[:12], "session", spec.Labels[container.LabelSession])
	go func() {
		err := runner.Run(rctx, runner.Config{InDir: in, OutDir: out, Provider: crashable{runner.Echo{}, c},
			Log: log, Poll: r.poll, Heartbeat: r.heartbeat})
		cancel()
		c.mu.Lock()
		switch {
		case c.killed:
			c.exit.Code = CodeKilled
		case err != nil:
			log.Error("runner failed", "err", err)
			c.exit.Code = CodeFailed
		}
		c.state = StateExited
		c.mu.Unlock()
		close(c.done)
	}()
	return c.info(), false, nil
}

// folders maps the spec's mounts of the runner's folders to host paths,
// and refuses a provider that cannot run in-process.
func folders(spec container.Spec) (in, out string, err error) {
	for _, m := range spec.Mounts {
		switch m.Target {
		case inTarget:
			in = m.Source
		case outTarget:
			out = m.Source
		}
	}
	if in == "" || out == "" {
		return "", "", fmt.Errorf("containertest: the spec mounts no %s and %s", inTarget, outTarget)
	}
	if i := slices.Index(spec.Cmd, "--provider"); i >= 0 && i+1 < len(spec.Cmd) && spec.Cmd[i+1] != "echo" {
		return "", "", fmt.Errorf("provider %q: %w", spec.Cmd[i+1], ErrProvider)
	}
	return in, out, nil
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("container id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (r *Runtime) lookup(id string) *ctr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

// forgetLocked removes c from the runtime's tables. r.mu is held.
func (r *Runtime) forgetLocked(c *ctr) {
	if r.byID[c.id] == c {
		delete(r.byID, c.id)
	}
	if r.byName[c.name] == c {
		delete(r.byName, c.name)
	}
}

func (r *Runtime) forget(c *ctr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(c)
}

func (r *Runtime) runningLocked() int {
	n := 0
	for _, c := range r.byID {
		c.mu.Lock()
		if c.state == StateRunning {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// Stop asks the runner to stop (its context is cancelled, as SIGTERM
// cancels the real runner's), kills it if grace is zero, waits for it to
// return, and removes it. An unknown id is not an error.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	c := r.lookup(id)
	if c == nil {
		return nil
	}
	if grace <= 0 {
		c.kill()
	} else {
		c.cancel()
	}
	if err := r.await(ctx, c); err != nil {
		return fmt.Errorf("stop container %s: %w", id[:min(12, len(id))], err)
	}
	r.forget(c)
	return nil
}

// Remove kills and removes a container. An unknown id is not an error.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	c := r.lookup(id)
	if c == nil {
		return nil
	}
	c.kill()
	if err := r.await(ctx, c); err != nil {
		return fmt.Errorf("remove container %s: %w", id[:min(12, len(id))], err)
	}
	r.forget(c)
	return nil
}

func (r *Runtime) await(ctx context.Context, c *ctr) error {
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait blocks until the runner returns, reports how it ended and removes
// it. A container already gone reports code -1, as the engine's client does.
func (r *Runtime) Wait(ctx context.Context, id string) (container.Exit, error) {
	c := r.lookup(id)
	if c == nil {
		return container.Exit{Code: -1}, nil
	}
	c.waiters.Add(1)
	err := r.await(ctx, c)
	c.waiters.Add(-1)
	if err != nil {
		return container.Exit{Code: -1}, err
	}
	r.forget(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exit, nil
}

// Waiting reports whether a Wait call is blocked on the container id, so
// a test can end a container only once its Wait watches it, as the
// gateway's does (a Wait after the removal rightly reports -1).
func (r *Runtime) Waiting(id string) bool {
	c := r.lookup(id)
	return c != nil && c.waiters.Load() > 0
}

// List returns the containers, running or exited, that carry all the labels.
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]container.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []container.Info
	for _, c := range r.byID {
		if hasLabels(c.labels, labels) {
			out = append(out, c.info())
		}
	}
	slices.SortFunc(out, func(a, b container.Info) int { return a.Created.Compare(b.Created) })
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// Kill ends a container at once, as `docker kill` does: the runner stops
// mid-turn, leaving its claim behind, and the container reports
// CodeKilled. It returns once the runner has returned; the exited
// container stays listed until Wait or Remove takes it.
func (r *Runtime) Kill(ctx context.Context, id string) error {
	c := r.lookup(id)
	if c == nil {
		return fmt.Errorf("kill container %s: no such container", id)
	}
	c.kill()
	return r.await(ctx, c)
}

// Live counts the running containers.
func (r *Runtime) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runningLocked()
}

// Started counts the containers started since New.
func (r *Runtime) Started() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started
}

// Peak is the most containers that ran at once since New.
func (r *Runtime) Peak() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// Close kills every container and waits for their runners to return.
func (r *Runtime) Close() {
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.byID))
	r.byID, r.byName = map[string]*ctr{}, map[string]*ctr{}
	r.mu.Unlock()
	for _, c := range all {
		c.kill()
		<-c.done
	}
}

// crashable runs the echo provider, except for the directives that act on
// the runner's process, which in a test binary is the test: "crash"
// (SIGKILL) kills only this container, and "alloc" (memory-limit tests,
// which need a real container's limit) fails the turn.
type crashable struct {
	runner.Provider
	c *ctr
}

// Turn implements runner.Provider.
func (p crashable) Turn(ctx context.Context, t runner.Turn) ([]runner.Reply, error) {
	for _, m := range t.Messages {
		if m.Kind == sessiondb.KindSystem || !m.Trigger {
			continue
		}
		switch word, _, _ := strings.Cut(strings.TrimSpace(m.Content.Text), " "); word {
		case "crash":
			// The runner sees its context end mid-turn and returns,
			// leaving its claim for the next container, as a kill would.
			p.c.kill()
			<-ctx.Done()
			return nil, ctx.Err()
		case "alloc":
			return nil, ErrAlloc
		}
	}
	return p.Provider.Turn(ctx, t)
}
