// Package runnerbuild makes a group's own runner source what its
// containers run: it reads the group's runner-src/ folder (which the agent
// writes, so without following a symlink and within bounds), tells a
// changed source from the stock one by a content hash, and builds a
// changed one into a static berth-runner in a build container of its own
// (no network, no secrets, read-only toolchain), once per source.
package runnerbuild

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/session/runner"
)

// Bounds on what is read of a group's runner source: the folder is the
// agent's, and reading it must cost the host little whatever it holds.
const (
	MaxFiles     = 256      // .go files, both folders together
	MaxFileBytes = 1 << 20  // one file
	MaxBytes     = 16 << 20 // all of them
	maxEntries   = 4096     // names listed in one folder, .go or not
)

// AgentsDir is the providers' subfolder of a runner source, which is
// session/runner/agents in berth's tree.
const AgentsDir = "agents"

// ErrRefused is wrapped by every refusal of a runner source: a symlink, a
// file that is not a regular one, or more than the bounds allow.
var ErrRefused = errors.New("runner source refused")

// Source is a runner source: its Go files (tests excepted) by their path
// relative to the source's root, "runner.go" or "agents/echo.go".
type Source map[string][]byte

// Hash is the source's content hash: of each file's path and content, in
// path order.
func (s Source) Hash() string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(s)) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.BigEndian.PutUint64(n[:], uint64(len(s[name])))
		h.Write(n[:])
		h.Write(s[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Names is the source's file paths, sorted.
func (s Source) Names() []string { return slices.Sorted(maps.Keys(s)) }

// counted reports whether name is a file of a runner source: a Go file
// that is not a test.
func counted(name string) bool {
	return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
}

var (
	stockOnce sync.Once
	stock     Source
	stockHash string
)

// Stock is the runner source berth was built with (session/runner's
// embedded copy, the one a new group's runner-src/ starts as).
func Stock() Source {
	stockOnce.Do(func() {
		stock = Source{}
		for _, dir := range []string{".", AgentsDir} {
			entries, err := fs.ReadDir(runner.Source, dir)
			if err != nil {
				panic(fmt.Sprintf("runnerbuild: the embedded runner source has no %s: %v", dir, err)) // a build of berth that cannot happen
			}
			for _, e := range entries {
				if e.IsDir() || !counted(e.Name()) {
					continue
				}
				p := path.Join(dir, e.Name())
				b, err := fs.ReadFile(runner.Source, p)
				if err != nil {
					panic(fmt.Sprintf("runnerbuild: read the embedded %s: %v", p, err))
				}
				stock[p] = b
			}
		}
		stockHash = stock.Hash()
	})
	return stock
}

// StockHash is Stock().Hash(), computed once.
func StockHash() string {
	Stock()
	return stockHash
}

// Read reads the runner source in the folder dir (a group's runner-src/)
// without following any symlink on its way: dir itself, its agents/
// subfolder and every Go file in either must be what they say (a folder,
// a regular file), or the source is refused (ErrRefused), naming what.
// Names that are not Go files are not part of the source and not opened,
// except that a symlink is refused wherever it is, so that what an agent
// planted is never mistaken for source. dir's parent is the caller's
// (a host-owned folder); dir may be anything the agent made it.
func Read(dir string) (Source, error) {
	parent, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return nil, fmt.Errorf("read runner source: %w", err)
	}
	defer parent.Close()
	src := Source{}
	r := reader{src: src}
	top, err := openDir(parent, filepath.Base(dir))
	if err != nil {
		return nil, err
	}
	defer top.Close()
	if err := r.folder(top, ""); err != nil {
		return nil, err
	}
	return src, nil
}

// reader reads one source, counting against the bounds.
type reader struct {
	src   Source
	bytes int64
}

// folder reads the Go files of the open folder d, whose path in the
// source is rel ("" or "agents"), and, at the top, the agents/ folder.
func (r *reader) folder(d *os.File, rel string) error {
	entries, err := d.ReadDir(maxEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read runner source: list %s: %w", show(rel), err)
	}
	if len(entries) > maxEntries {
		return fmt.Errorf("%w: %s holds more than %d names", ErrRefused, show(rel), maxEntries)
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		// The type is the directory entry's own (getdents): a symlink
		// is seen as one, never resolved.
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symlink; berth never follows one in a runner source", ErrRefused, name)
		case rel == "" && e.Name() == AgentsDir:
			sub, err := openDir(d, e.Name())
			if err != nil {
				return err
			}
			err = r.folder(sub, AgentsDir)
			if cerr := sub.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("read runner source: %w", cerr)
			}
			if err != nil {
				return err
			}
		case counted(e.Name()):
			if err := r.file(d, e.Name(), name); err != nil {
				return err
			}
		}
	}
	return nil
}

// file reads the Go file name in d (its source path rel).
func (r *reader) file(d *os.File, name, rel string) error {
	if len(r.src) >= MaxFiles {
		return fmt.Errorf("%w: more than %d Go files", ErrRefused, MaxFiles)
	}
	// O_NOFOLLOW: a name swapped for a symlink since it was listed is
	// refused (ELOOP); O_NONBLOCK: a FIFO in its place does not hang the
	// open, and is refused below as not a regular file.
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%w: %s is a symlink; berth never follows one in a runner source", ErrRefused, rel)
	}
	if err != nil {
		return fmt.Errorf("read runner source: open %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read runner source: %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (%s)", ErrRefused, rel, fi.Mode().Type())
	}
	if fi.Size() > MaxFileBytes {
		return fmt.Errorf("%w: %s is %d bytes; a file may have at most %d", ErrRefused, rel, fi.Size(), MaxFileBytes)
	}
	// The size may change while it is read: the limit is on what is read.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return fmt.Errorf("read runner source: %s: %w", rel, err)
	}
	if len(b) > MaxFileBytes {
		return fmt.Errorf("%w: %s is over %d bytes", ErrRefused, rel, MaxFileBytes)
	}
	if r.bytes += int64(len(b)); r.bytes > MaxBytes {
		return fmt.Errorf("%w: the source is over %d bytes", ErrRefused, MaxBytes)
	}
	r.src[rel] = b
	return nil
}

// openDir opens the folder name in parent, refusing a symlink or anything
// else in its place.
func openDir(parent *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) {
		// Linux refuses a symlink with O_DIRECTORY first: say which.
		var st unix.Stat_t
		if unix.Fstatat(int(parent.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			err = unix.ELOOP
		}
	}
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%w: %s is a symlink; berth never follows one in a runner source", ErrRefused, name)
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%w: %s is not a folder", ErrRefused, name)
	case err != nil:
		return nil, fmt.Errorf("read runner source: open %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// show names a folder of the source in a message.
func show(rel string) string {
	if rel == "" {
		return "runner-src"
	}
	return "runner-src/" + rel
}
