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
	"path/filepath"
	"regexp"
	"strings"

	"github.com/berth-dev/berth/session/runner"
)

//go:embed templates
var templates embed.FS

// GlobalFolder is the folder name of the memory every group imports.
const GlobalFolder = "global"

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
	dir := l.GlobalDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init global memory: %w", err)
	}
	b, _ := templates.ReadFile("templates/global.md")
	if err := writeNew(filepath.Join(dir, MemoryFile), b); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("init global memory: %w", err)
	}
	return nil
}

// Init creates a group's folder: CLAUDE.md (importing the global memory on
// its first line), .claude-shared/ and runner-src/ with the runner's
// source. It creates only what does not exist yet and never overwrites, so
// calling it again is harmless.
func (l Layout) Init(folder, name string) error {
	if err := ValidateFolder(folder); err != nil {
		return err
	}
	dir := l.Dir(folder)
	var created []string
	mkdir := func(p string) error {
		if _, err := os.Lstat(p); err == nil {
			return nil
		}
		created = append(created, p)
		return os.MkdirAll(p, 0o755)
	}
	write := func(p string, b []byte) error {
		err := writeNew(p, b)
		if err == nil {
			created = append(created, p)
		}
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	err := func() error {
		for _, d := range []string{dir, filepath.Join(dir, ClaudeShared), filepath.Join(dir, RunnerSrc)} {
			if err := mkdir(d); err != nil {
				return err
			}
		}
		mem, _ := templates.ReadFile("templates/CLAUDE.md")
		if err := write(filepath.Join(dir, MemoryFile), []byte(strings.ReplaceAll(string(mem), "{{NAME}}", name))); err != nil {
			return err
		}
		settings, _ := templates.ReadFile("templates/settings.json")
		if err := write(filepath.Join(dir, ClaudeShared, "settings.json"), settings); err != nil {
			return err
		}
		return fs.WalkDir(runner.Source, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || strings.HasSuffix(p, "_test.go") {
				return err
			}
			if d.IsDir() {
				return mkdir(filepath.Join(dir, RunnerSrc, p))
			}
			b, err := runner.Source.ReadFile(p)
			if err != nil {
				return err
			}
			return write(filepath.Join(dir, RunnerSrc, p), b)
		})
	}()
	if err != nil {
		return fmt.Errorf("init group %s: %w", folder, err)
	}
	if l.UID >= 0 {
		for _, p := range created {
			if err := os.Lchown(p, l.UID, l.UID); err != nil {
				return fmt.Errorf("init group %s: give %s to uid %d: %w", folder, p, l.UID, err)
			}
		}
	}
	return nil
}

// writeNew creates p with b, failing with fs.ErrExist if anything is there
// (a file, a folder or a symlink: never written through).
func writeNew(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
