// Package groups manages agent groups on disk: each group's folder is
// created once, when the group is created, and belongs to the group from
// then on. Spawning a container only mounts it; nothing here ever copies
// over or "resyncs" what an agent wrote.
package groups

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/runner"
)

//go:embed templates
var templates embed.FS

// GlobalFolder is the folder name of the memory every group imports.
const GlobalFolder = paths.GlobalFolder

// Dirs names the parts of a group folder.
const (
	MemoryFile   = "CLAUDE.md"
	ClaudeShared = ".claude-shared"
	RunnerSrc    = "runner-src"
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateFolder checks a group folder name: letters, digits, '-' and '_',
// at most 64, and not the reserved "global".
func ValidateFolder(name string) error {
	if !validName.MatchString(name) {
		if len(name) > 64 {
			return fmt.Errorf("group name is %d characters; at most 64 are allowed", len(name))
		}
		return fmt.Errorf("group name %q is not valid: use letters, digits, '-' and '_' only", truncate(name, 40))
	}
	if strings.EqualFold(name, GlobalFolder) {
		return fmt.Errorf("group name %q is reserved", name)
	}
	return nil
}

// Layout locates group folders under a root (BERTH_HOME/groups).
type Layout struct {
	Root string
	// UID, when not negative, owns the folders agents write: berth runs
	// as root and the containers as this unprivileged user.
	UID int
}

// Dir is the folder of a group.
func (l Layout) Dir(folder string) string { return filepath.Join(l.Root, folder) }

// GlobalDir is the folder of the global memory.
func (l Layout) GlobalDir() string { return filepath.Join(l.Root, GlobalFolder) }

// InitGlobal creates the global memory once.
func (l Layout) InitGlobal() error {
	b, _ := templates.ReadFile("templates/global.md")
	err := l.create(GlobalFolder, creator{uid: -1}, func(c creator, dir *os.Root) error {
		return c.file(dir, MemoryFile, b)
	})
	if err != nil {
		return fmt.Errorf("init global memory: %w", err)
	}
	return nil
}

// Init creates a group's folder: CLAUDE.md (importing the global memory on
// its first line), .claude-shared/ and runner-src/ with the runner's
// source. It creates only what does not exist yet and never overwrites, so
// calling it again is harmless.
//
// The folder may be one a deleted group left behind, holding whatever its
// agent planted. Init runs as root, so it never follows a symlink: a name
// that exists is left as it is, a folder is entered only when it is a real
// folder, and only what Init created is given to the agent's uid.
func (l Layout) Init(folder, name string) error {
	if err := ValidateFolder(folder); err != nil {
		return err
	}
	mem, _ := templates.ReadFile("templates/CLAUDE.md")
	settings, _ := templates.ReadFile("templates/settings.json")
	err := l.create(folder, creator{uid: l.UID}, func(c creator, dir *os.Root) error {
		if err := c.file(dir, MemoryFile, []byte(strings.ReplaceAll(string(mem), "{{NAME}}", name))); err != nil {
			return err
		}
		if err := c.within(dir, ClaudeShared, func(d *os.Root) error { return c.file(d, "settings.json", settings) }); err != nil {
			return err
		}
		return c.within(dir, RunnerSrc, func(d *os.Root) error { return c.copy(d, runner.Source, ".") })
	})
	if err != nil {
		return fmt.Errorf("init group %s: %w", folder, err)
	}
	return nil
}

// create makes the folder name under the layout's root (a real folder, not
// a symlink) and runs fill in it.
func (l Layout) create(name string, c creator, fill func(creator, *os.Root) error) error {
	if err := os.MkdirAll(l.Root, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(l.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	dir, err := c.dir(root, name)
	if err != nil {
		return err
	}
	if dir == nil {
		return fmt.Errorf("%s is not a folder (a symlink or a file is in its place); berth will not write through it", l.Dir(name))
	}
	defer dir.Close()
	return fill(c, dir)
}

// creator makes what a folder tree lacks, one name at a time inside an
// os.Root, so no path it writes can leave the tree, and it never goes
// through a symlink: an existing name is left alone, an existing folder is
// entered only when it is a real one. uid, when not negative, gets what it
// created (by file descriptor, so a swapped name cannot redirect it).
type creator struct{ uid int }

// dir returns parent/name opened as a root, creating the folder when it is
// missing, or nil when something other than a real folder has that name.
func (c creator) dir(parent *os.Root, name string) (*os.Root, error) {
	created := false
	if err := parent.Mkdir(name, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	fi, err := parent.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, nil
	}
	sub, err := parent.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	// OpenRoot follows a symlink that stays inside parent: if name was
	// swapped for one since Lstat, this is not the folder Lstat saw.
	st, err := sub.Stat(".")
	if err != nil || !os.SameFile(fi, st) {
		sub.Close()
		return nil, err
	}
	if created && c.uid >= 0 {
		if err := sub.Chown(".", c.uid, c.uid); err != nil {
			sub.Close()
			return nil, fmt.Errorf("give %s to uid %d: %w", name, c.uid, err)
		}
	}
	return sub, nil
}

// within runs fill in the real folder parent/name, creating it when
// missing; it skips a name that is not a real folder.
func (c creator) within(parent *os.Root, name string, fill func(*os.Root) error) error {
	d, err := c.dir(parent, name)
	if err != nil || d == nil {
		return err
	}
	defer d.Close()
	return fill(d)
}

// file creates dir/name with b unless something (a file, a folder, a
// symlink: O_EXCL never follows one) already has that name.
func (c creator) file(dir *os.Root, name string, b []byte) error {
	f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && c.uid >= 0 {
		if err = f.Chown(c.uid, c.uid); err != nil {
			err = fmt.Errorf("give %s to uid %d: %w", name, c.uid, err)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copy creates in dst what src holds below from and dst lacks (test files
// excepted).
func (c creator) copy(dst *os.Root, src fs.FS, from string) error {
	entries, err := fs.ReadDir(src, from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(from, e.Name())
		if e.IsDir() {
			if err := c.within(dst, e.Name(), func(d *os.Root) error { return c.copy(d, src, p) }); err != nil {
				return err
			}
			continue
		}
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		if err := c.file(dst, e.Name(), b); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
