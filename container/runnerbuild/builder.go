package runnerbuild

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
)

// Engine runs the build container; *container.Docker is one.
type Engine interface {
	BuildBoxImage(ctx context.Context, tag string, img container.BoxImage) error
	RunBox(ctx context.Context, box container.Box, out io.Writer) (int64, error)
}

var _ Engine = (*container.Docker)(nil)

// BoxImageTag is the build container's image: empty folders and the
// host's layout of symlinks, FROM scratch; the toolchain is mounted.
const BoxImageTag = "berth-build:latest"

// RunnerPath is where the agent images keep berth-runner: a group's own
// build is mounted over it, read-only.
const RunnerPath = "/usr/local/bin/berth-runner"

// MaxError bounds the compiler's output kept and told of a failed build.
const MaxError = 2 << 10

// Limits of the build container.
const (
	BuildMemory  = 3 << 30
	BuildTmp     = 1 << 30
	BuildPids    = 1024
	BuildTimeout = 15 * time.Minute
	maxRunner    = 512 << 20 // bytes of a built berth-runner
	maxOutput    = 64 << 10  // bytes of the build's output kept
)

// The names in a group's runners folder (paths.Home.Runners).
const (
	cacheDir   = "gocache"      // GOCACHE of the group's builds
	binFile    = "berth-runner" // in <key>/: the build
	errorFile  = "error"        // in <key>/: why the build failed
	toldFile   = "told"         // in <key>/: the failure was told
	statusFile = "chosen.json"  // the last decision, for berth groups show
)

// State is what a group's containers run, as Choose decides it.
type State string

// The states of a group's runner.
const (
	StateStock       State = "stock"       // the source is the stock one: the image's runner runs
	StateBuilt       State = "built"       // the group's own build runs
	StateFailed      State = "failed"      // the source did not compile: the stock runner runs
	StateRefused     State = "refused"     // the source could not be read safely: the stock runner runs
	StateUnavailable State = "unavailable" // berth could not build (no toolchain, no engine): the stock runner runs
)

// Choice is what a group's next container runs.
type Choice struct {
	State State
	// Bin is the host path of the group's own static berth-runner, to be
	// mounted read-only at RunnerPath; "" runs the image's own.
	Bin  string
	Hash string // the group source's content hash ("" when unread)
	Key  string // the build's key: the source's and berth's hashes together
	// Problem is why the group's own source does not run (the
	// compiler's output, bounded by MaxError); "" when it does or is stock.
	Problem string
	// Tell is set the first time this Problem is seen for this source:
	// the conversation that woke the group is to be told, once.
	Tell bool
	// Took is how long the build took when this choice ran one; 0: none ran.
	Took time.Duration
}

// Config configures a Builder.
type Config struct {
	Home   paths.Home
	Groups string // the root of the group folders (groups.Layout.Root)
	Engine Engine
	// UID, when not negative, is the build container's user and owns what
	// it writes; -1: the host user running berth.
	UID int
	// SourceDir is where berth's own source is looked for
	// (container.RunnerSource); "": the working directory.
	SourceDir string
	Log       *slog.Logger
}

// Builder decides, for each new container of a group, which runner it
// runs, building the group's own source when it changed. Safe for
// concurrent use: a build runs once per (group, source), however many
// sessions wait for it.
type Builder struct {
	cfg    Config
	flight singleflight.Group
	// ctx is the builds' own: they outlive the wake that started them,
	// not the Builder (Close ends them).
	ctx    context.Context
	cancel context.CancelFunc
	builds sync.WaitGroup

	mu     sync.Mutex        // guards closed, env, told and last, and orders builds.Add before Close's Wait
	closed bool              // Close was called
	env    *Env              // what builds need, found once
	told   map[string]bool   // problems told that leave no file: folder + "\x00" + problem
	last   map[string]Status // the status last written, by folder
}

// New returns a Builder.
func New(cfg Config) *Builder {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Builder{cfg: cfg, ctx: ctx, cancel: cancel, told: map[string]bool{}, last: map[string]Status{}}
}

// Close ends the builds under way (their containers are removed) and
// waits for them; no build starts after it.
func (b *Builder) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.builds.Wait()
}

// errClosed is why a build did not start: the Builder is closed.
var errClosed = errors.New("berth is stopping")

// begin counts a build in, unless the Builder is closed.
func (b *Builder) begin() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.builds.Add(1)
	return true
}

// Choose decides what the next container of the group in folder runs: the
// stock runner when its runner-src/ is the stock source, else the group's
// own build, built now (once per source; other groups' and sessions' wakes
// are not held) when it is not built yet. A source that does not build,
// or cannot, runs the stock runner, and Problem says why. Choose reads the
// source each time (it costs well under a millisecond: see
// BenchmarkRead); a built source costs a stat.
func (b *Builder) Choose(ctx context.Context, folder string) Choice {
	c := b.choose(ctx, folder)
	b.record(folder, c)
	return c
}

func (b *Builder) choose(ctx context.Context, folder string) Choice {
	src, err := Read(filepath.Join(b.cfg.Groups, folder, groups.RunnerSrc))
	if err != nil {
		return b.once(folder, Choice{State: StateRefused, Problem: err.Error()})
	}
	hash := src.Hash()
	if hash == StockHash() {
		return Choice{State: StateStock, Hash: hash}
	}
	env, err := b.environment(ctx)
	if err != nil {
		return b.once(folder, Choice{State: StateUnavailable, Hash: hash, Problem: err.Error()})
	}
	key := buildKey(env.baseHash, hash)
	dir := filepath.Join(b.cfg.Home.Runners(folder), key)
	c := Choice{Hash: hash, Key: key}
	if done, ok := b.done(dir, c); ok {
		return done
	}
	type result struct {
		took time.Duration
		err  error
	}
	ch := b.flight.DoChan(folder+"\x00"+key, func() (any, error) {
		if !b.begin() {
			return result{err: errClosed}, nil
		}
		defer b.builds.Done()
		// The build is the group's, not this wake's: a waiter that goes
		// does not end it for the others; Close does.
		bctx, cancel := context.WithTimeout(b.ctx, BuildTimeout)
		defer cancel()
		began := time.Now()
		err := b.build(bctx, env, folder, key, src)
		return result{took: time.Since(began), err: err}, nil
	})
	var r result
	select {
	case <-ctx.Done():
		// This wake is gone (a shutdown, say): nothing to tell; the build
		// goes on for the next.
		return Choice{State: StateUnavailable, Hash: hash, Key: key, Problem: "the build of the group's runner source was still running: " + ctx.Err().Error()}
	case res := <-ch:
		r = res.Val.(result)
	}
	if r.err != nil {
		b.cfg.Log.Warn("runner build", "group", folder, "key", key, "err", r.err)
		return b.once(folder, Choice{State: StateUnavailable, Hash: hash, Key: key, Problem: "berth could not build the group's runner source: " + r.err.Error()})
	}
	done, ok := b.done(dir, c)
	if !ok {
		return b.once(folder, Choice{State: StateUnavailable, Hash: hash, Key: key, Problem: "the build of the group's runner source left no result"})
	}
	done.Took = r.took
	return done
}

// done is the choice a finished build in dir gives, if it finished.
func (b *Builder) done(dir string, c Choice) (Choice, bool) {
	bin := filepath.Join(dir, binFile)
	if fi, err := os.Lstat(bin); err == nil && fi.Mode().IsRegular() {
		c.State, c.Bin = StateBuilt, bin
		return c, true
	}
	msg, err := readBounded(filepath.Join(dir, errorFile), MaxError)
	if err != nil {
		return c, false
	}
	c.State, c.Problem = StateFailed, msg
	// Told once per source, across restarts: the first to create the
	// marker tells.
	f, err := os.OpenFile(filepath.Join(dir, toldFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		c.Tell = true
		if err := f.Close(); err != nil {
			b.cfg.Log.Warn("runner build: mark failure told", "dir", dir, "err", err)
		}
	}
	return c, true
}

// once sets c.Tell the first time this process sees c's problem for the
// group (a problem that leaves no file behind: a refused source, a build
// berth could not run).
func (b *Builder) once(folder string, c Choice) Choice {
	c.Problem = bound(c.Problem, MaxError)
	k := folder + "\x00" + c.Hash + "\x00" + c.Problem
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.told[k] {
		b.told[k], c.Tell = true, true
	}
	return c
}

// buildKey names a build: the group's source on this berth's module.
func buildKey(baseHash, srcHash string) string {
	sum := sha256.Sum256([]byte("berth-runner build 1\n" + baseHash + "\n" + srcHash))
	return hex.EncodeToString(sum[:12])
}

// build compiles src, the group's runner source, in a build container and
// leaves in the group's runners folder <key>/berth-runner, or <key>/error
// when it does not compile. An error is berth's failure to build (no
// engine, a full disk), not the source's.
func (b *Builder) build(ctx context.Context, env *Env, folder, key string, src Source) error {
	root := b.cfg.Home.Runners(folder)
	final := filepath.Join(root, key)
	if _, err := os.Lstat(final); err == nil {
		return nil // built meanwhile by an earlier flight
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("runners folder: %w", err)
	}
	cache := filepath.Join(root, cacheDir)
	if _, err := os.Lstat(cache); errors.Is(err, fs.ErrNotExist) && env.seed != "" {
		began := time.Now()
		n, err := b.seed(cache, env.seed)
		b.cfg.Log.Info("runner build: seeded the group's build cache", "group", folder, "files", n, "ms", time.Since(began).Milliseconds(), "err", err)
	}
	if err := b.owned(cache); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	b.sweep(root)
	work, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return fmt.Errorf("build folder: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(work); err != nil {
			b.cfg.Log.Warn("runner build: remove build folder", "group", folder, "err", err)
		}
	}()
	// The root folder is 0700 and the box's user may not be its owner:
	// the work folder is entered by path from its own mount, not through
	// root, so it is opened to all, and what is in it is public source.
	if err := os.Chmod(work, 0o755); err != nil {
		return fmt.Errorf("build folder: %w", err)
	}
	stage, out := filepath.Join(work, "src"), filepath.Join(work, "out")
	if err := Stage(stage, env.base, src); err != nil {
		return err
	}
	if err := b.owned(out); err != nil {
		return fmt.Errorf("build output folder: %w", err)
	}
	if err := b.cfg.Engine.BuildBoxImage(ctx, BoxImageTag, boxImage(env)); err != nil {
		return err
	}
	var log boundedBuffer
	log.max = maxOutput
	began := time.Now()
	code, err := b.cfg.Engine.RunBox(ctx, b.box(env, folder, key, stage, out, cache), &log)
	if err != nil {
		return err
	}
	result, err := os.MkdirTemp(root, "result-")
	if err != nil {
		return fmt.Errorf("build result folder: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(result); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.cfg.Log.Warn("runner build: remove result folder", "group", folder, "err", err)
		}
	}()
	if code != 0 && !sourceFailure(code) {
		return fmt.Errorf("the build container exited with code %d: %s", code, bound(strings.TrimSpace(log.String()), MaxError))
	}
	if code != 0 {
		msg := strings.TrimSpace(log.String())
		if msg == "" {
			msg = "the build exited with code " + strconv.FormatInt(code, 10)
		}
		b.cfg.Log.Warn("runner build failed", "group", folder, "key", key, "code", code, "ms", time.Since(began).Milliseconds())
		if err := os.WriteFile(filepath.Join(result, errorFile), []byte(bound(msg, MaxError)), 0o644); err != nil {
			return fmt.Errorf("record the failed build: %w", err)
		}
	} else {
		// The box wrote the binary as its user: the host copies it into a
		// file of its own, checked, so nothing the box left is mounted.
		bin, err := readRunner(filepath.Join(out, binFile))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(result, binFile), bin, 0o755); err != nil {
			return fmt.Errorf("keep the built runner: %w", err)
		}
		b.cfg.Log.Info("runner built", "group", folder, "key", key, "ms", time.Since(began).Milliseconds(), "bytes", len(bin))
	}
	if err := os.Chmod(result, 0o755); err != nil {
		return fmt.Errorf("build result folder: %w", err)
	}
	if err := os.Rename(result, final); err != nil {
		if _, serr := os.Lstat(final); serr == nil {
			return nil
		}
		return fmt.Errorf("keep the build: %w", err)
	}
	if code == 0 {
		b.prune(root, key)
	}
	return nil
}

// sweep removes what builds a crash interrupted left in root: work and
// result folders older than any build can be (one under way is younger).
func (b *Builder) sweep(root string) {
	for _, pattern := range []string{"build-*", "result-*", cacheDir + ".seed"} {
		left, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			continue
		}
		for _, p := range left {
			fi, err := os.Lstat(p)
			if err != nil || time.Since(fi.ModTime()) < 2*BuildTimeout {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				b.cfg.Log.Warn("runner build: remove what an interrupted build left", "dir", p, "err", err)
			}
		}
	}
}

// sourceFailure reports whether a build that exited with code failed
// because of its source: the go command's 1 (it did not compile, or
// link), or a kill for the memory limit (137), which a source can cause.
// Any other code is berth's failure to run the build, tried again later.
func sourceFailure(code int64) bool { return code == 1 || code == 137 }

// prune removes the group's other builds once a new one runs: containers
// already running keep the file they mounted.
func (b *Builder) prune(root, keep string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		b.cfg.Log.Warn("runner build: list builds", "dir", root, "err", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep || len(e.Name()) != 24 {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, e.Name(), binFile)); err != nil {
			continue // a failure's record: small, and it keeps "told once"
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			b.cfg.Log.Warn("runner build: remove an old build", "dir", root, "err", err)
		}
	}
}

// seed starts the group's build cache dir as a copy of the host's build
// cache from, in hard links (the same file system; else it stops, and the
// cache is merely colder). The links are the host's read-only files (a
// cache entry is written once, by a rename, never rewritten), in folders
// the box's user owns, so it adds entries of its own. A build reads of it
// only the entries its own inputs name: an entry's name is the hash of
// what built it, which a source cannot list from inside a compile.
func (b *Builder) seed(dir, from string) (int, error) {
	tmp := dir + ".seed"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	n := 0
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return b.owned(filepath.Join(tmp, rel))
		case d.Type().IsRegular():
			n++
			return os.Link(p, filepath.Join(tmp, rel))
		}
		return nil
	})
	if rerr := os.Rename(tmp, dir); err == nil {
		err = rerr
	}
	return n, err
}

// owned makes the folder dir, writable by the build container's user.
func (b *Builder) owned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if b.cfg.UID >= 0 {
		return os.Lchown(dir, b.cfg.UID, b.cfg.UID)
	}
	return nil
}

// The build container's view.
const (
	boxSrc   = "/src"
	boxOut   = "/out"
	boxCache = "/cache"
)

// boxImage is the build container's image for env's host layout.
func boxImage(env *Env) container.BoxImage {
	img := container.BoxImage{Links: env.hostLinks, Dirs: []string{"src", "out", "cache"}}
	for _, d := range env.hostDirs {
		img.Dirs = append(img.Dirs, strings.TrimPrefix(d, "/"))
	}
	return img
}

// box is the build container of one build.
func (b *Builder) box(env *Env, folder, key, stage, out, cache string) container.Box {
	user := strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	if b.cfg.UID >= 0 {
		user = strconv.Itoa(b.cfg.UID) + ":" + strconv.Itoa(b.cfg.UID)
	}
	mode := "-mod=readonly"
	ms := []mounts.Mount{
		{Source: stage, Target: boxSrc, ReadOnly: true},
		{Source: out, Target: boxOut},
		{Source: cache, Target: boxCache},
		// The toolchain and the modules at the host's own paths, so that
		// the build is the host's, and the host's build cache answers it.
		{Source: env.goroot, Target: env.goroot, ReadOnly: true},
	}
	if env.modcache != "" {
		ms = append(ms, mounts.Mount{Source: env.modcache, Target: env.modcache, ReadOnly: true})
	} else {
		mode = "-mod=vendor"
	}
	for _, d := range env.hostDirs {
		ms = append(ms, mounts.Mount{Source: d, Target: d, ReadOnly: true})
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	cpus := int64(min(runtime.NumCPU(), 4)) * 1e9
	return container.Box{
		Name:    "berth-build-" + folder + "-" + key[:12] + "-" + hex.EncodeToString(rnd[:]),
		Image:   BoxImageTag,
		WorkDir: boxSrc,
		User:    user,
		Labels:  map[string]string{container.LabelGroup: folder, container.LabelHome: b.cfg.Home.String(), "berth.build": key},
		Cmd: []string{filepath.Join(env.goroot, "bin", "go"), "build", "-trimpath",
			"-tags", "osusergo netgo sqlite_omit_load_extension",
			"-ldflags", `-s -w -linkmode external -extldflags "-static"`,
			"-o", boxOut + "/" + binFile, "./cmd/berth-runner"},
		// No secret, and nothing of the host's environment: only what the
		// go command needs to build offline.
		Env: []string{
			"PATH=" + filepath.Join(env.goroot, "bin") + ":/usr/bin:/bin", "HOME=/tmp", "GOPATH=/tmp/go", "GOTMPDIR=/tmp",
			"GOCACHE=" + boxCache, "GOMODCACHE=" + cmp.Or(env.modcache, "/nonexistent"), "GOFLAGS=" + mode + " -buildvcs=false",
			"GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOWORK=off", "GOENV=off", "GOTELEMETRY=off",
			"CGO_ENABLED=1", "CC=gcc",
		},
		Mounts: ms,
		Memory: BuildMemory, CPUs: cpus, Pids: BuildPids, TmpSize: BuildTmp,
	}
}

// readRunner reads and checks a built berth-runner: a static ELF binary
// (the agent image has no libc), of bounded size.
func readRunner(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the build left no runner: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("the built runner: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxRunner {
		return nil, fmt.Errorf("the built runner is not a regular file of at most %d MB", maxRunner>>20)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRunner+1))
	if err != nil {
		return nil, fmt.Errorf("read the built runner: %w", err)
	}
	e, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("the built runner is not a binary: %w", err)
	}
	defer e.Close()
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, errors.New("the built runner is dynamically linked; the agent image needs a static binary")
		}
	}
	return b, nil
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	buf bytes.Buffer
	max int
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string { return w.buf.String() }

// bound cuts s to at most n bytes, on a line's end when one is near.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := s[:n]
	if i := strings.LastIndexByte(cut, '\n'); i > n/2 {
		cut = cut[:i]
	}
	return strings.ToValidUTF8(cut, "") + "\n…"
}

// readBounded reads at most n bytes of the file at path.
func readBounded(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(n)))
	return string(b), err
}
