package runnerbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// RunnerPkg is where, in berth's module, a runner source goes: its
// top-level files in RunnerPkg, its agents/ in RunnerPkg/agents.
const RunnerPkg = "session/runner"

// maxBaseBytes bounds the berth module tree a build copies: it is berth's
// own source (a checkout or the module cache), a few MB.
const maxBaseBytes = 256 << 20

// walkBase calls fn with each file of the berth module tree at base that
// a build needs, by its slash path: every regular file but tests, test
// data, version control and the runner source, which the group's
// replaces. It follows no symlink.
func walkBase(base string, fn func(rel string, b []byte) error) error {
	var total int64
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(rel, "_test.go") || isRunnerFile(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if total += int64(len(b)); total > maxBaseBytes {
			return fmt.Errorf("the berth source at %s is over %d MB", base, maxBaseBytes>>20)
		}
		return fn(rel, b)
	})
}

// isRunnerFile reports whether rel, a path in berth's module, is a file of
// the runner source (which a group's own replaces).
func isRunnerFile(rel string) bool {
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	return (dir == RunnerPkg || dir == RunnerPkg+"/"+AgentsDir) && counted(name)
}

// BaseHash is the content hash of the berth module tree at base as a build
// uses it (see walkBase): it tells apart two builds of one group source on
// two versions of berth.
func BaseHash(base string) (string, error) {
	h := sha256.New()
	err := walkBase(base, func(rel string, b []byte) error {
		fmt.Fprintf(h, "%d:%s\n%d:", len(rel), rel, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the berth source: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Stage writes into dst, which must not exist, the tree a build compiles:
// the berth module at base with src copied over its runner source.
// dst is the host's (never in a folder an agent writes); files are made
// readable by all, for the build container's unprivileged user.
func Stage(dst, base string, src Source) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("stage the runner build: %w", err)
	}
	write := func(rel string, b []byte) error {
		p := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	if err := walkBase(base, write); err != nil {
		return fmt.Errorf("stage the runner build: copy the berth source: %w", err)
	}
	for rel, b := range src {
		if !counted(path.Base(rel)) || (path.Dir(rel) != "." && path.Dir(rel) != AgentsDir) {
			return fmt.Errorf("stage the runner build: %q is not a runner source file", rel)
		}
		if err := write(path.Join(RunnerPkg, rel), b); err != nil {
			return fmt.Errorf("stage the runner build: %w", err)
		}
	}
	return nil
}

// Reset makes the runner source in the folder dir (a group's runner-src/)
// the stock one again: every Go file (and any symlink) in it and in its
// agents/ is removed and the stock files are written; other files are
// left alone. It never follows a symlink: one in place of dir or agents/
// is removed and a folder made. uid, when not negative, is given what
// Reset creates (the agent's, as when the group was created).
func Reset(dir string, uid int) error {
	parent, err := os.OpenRoot(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("reset runner source: %w", err)
	}
	defer parent.Close()
	top, err := realDir(parent, filepath.Base(dir), uid)
	if err != nil {
		return fmt.Errorf("reset runner source: %w", err)
	}
	defer top.Close()
	if err := clear(top); err != nil {
		return fmt.Errorf("reset runner source: %w", err)
	}
	agents, err := realDir(top, AgentsDir, uid)
	if err != nil {
		return fmt.Errorf("reset runner source: %w", err)
	}
	defer agents.Close()
	if err := clear(agents); err != nil {
		return fmt.Errorf("reset runner source: %w", err)
	}
	for _, rel := range Stock().Names() {
		d, name := top, rel
		if after, ok := strings.CutPrefix(rel, AgentsDir+"/"); ok {
			d, name = agents, after
		}
		if err := create(d, name, Stock()[rel], uid); err != nil {
			return fmt.Errorf("reset runner source: %s: %w", rel, err)
		}
	}
	return nil
}

// realDir opens the folder name in parent, first replacing whatever is in
// its place that is not a real folder (a symlink, a file) with one.
func realDir(parent *os.Root, name string, uid int) (*os.Root, error) {
	fi, err := parent.Lstat(name)
	if err == nil && !fi.IsDir() {
		if err := parent.Remove(name); err != nil {
			return nil, err
		}
	}
	if err != nil || !fi.IsDir() {
		if err := parent.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if uid >= 0 {
			if err := parent.Lchown(name, uid, uid); err != nil {
				return nil, err
			}
		}
		if fi, err = parent.Lstat(name); err != nil {
			return nil, err
		}
	}
	sub, err := parent.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	// OpenRoot follows a symlink that stays inside parent: a name swapped
	// since Lstat is not the folder it saw.
	st, err := sub.Stat(".")
	if err != nil || !os.SameFile(fi, st) {
		sub.Close()
		return nil, fmt.Errorf("%s changed while it was opened", name)
	}
	return sub, nil
}

// clear removes from d every name a runner source counts (a Go file, not a
// test) and every symlink.
func clear(d *os.Root) error {
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(maxEntries)
	if errors.Is(err, io.EOF) {
		err = nil // empty
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 || (counted(e.Name()) && !e.IsDir()) {
			if err := d.Remove(e.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// create writes name in d, which must not exist (O_EXCL never follows a
// symlink put there meanwhile).
func create(d *os.Root, name string, b []byte, uid int) error {
	f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && uid >= 0 {
		err = f.Chown(uid, uid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
