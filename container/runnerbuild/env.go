package runnerbuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/berth-dev/berth/container"
)

// Env is what builds of a group's runner source use from the host.
type Env struct {
	base      string // berth's module source
	baseHash  string
	goroot    string
	modcache  string // "": the source is vendored
	seed      string // the host's own build cache, a new group cache's start; "": none
	hostLinks map[string]string
	hostDirs  []string // top-level folders of the host's toolchain, mounted read-only
}

// environment finds what builds need: berth's source, the host's Go and
// gcc. Not finding them is not remembered: the operator may install them.
func (b *Builder) environment(ctx context.Context) (*Env, error) {
	b.mu.Lock()
	env := b.env
	b.mu.Unlock()
	if env != nil {
		return env, nil
	}
	env, err := FindEnv(ctx, b.cfg.SourceDir)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.env = env
	b.mu.Unlock()
	return env, nil
}

// ErrNoToolchain is wrapped when the host lacks Go or gcc, which a build
// of a group's runner source needs.
var ErrNoToolchain = errors.New("the host has no Go toolchain and gcc to build a group's runner source")

// Describe says, in one line, what e is.
func (e *Env) Describe() string {
	return fmt.Sprintf("Go at %s, gcc, berth's source at %s", e.goroot, e.base)
}

// FindEnv finds what a build needs on the host: berth's own module source
// (at or above dir, or in the module cache), the Go toolchain (go on PATH:
// its GOROOT and module cache) and gcc. berth doctor reports what it lacks.
func FindEnv(ctx context.Context, dir string) (*Env, error) {
	if dir == "" {
		dir = "."
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("%w: go is not on PATH (install Go %s or later)", ErrNoToolchain, strings.TrimPrefix(runtime.Version(), "go"))
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil, fmt.Errorf("%w: gcc is not on PATH (install gcc and the C library's static files, e.g. Debian's build-essential)", ErrNoToolchain)
	}
	// The runner links statically: gcc needs the C library's archive.
	if out, err := exec.CommandContext(ctx, gcc, "-print-file-name=libc.a").Output(); err != nil || !filepath.IsAbs(strings.TrimSpace(string(out))) {
		return nil, fmt.Errorf("%w: gcc has no static C library, libc.a (Debian: apt-get install libc6-dev)", ErrNoToolchain)
	}
	if !strings.HasPrefix(gcc, "/usr/") && !strings.HasPrefix(gcc, "/bin/") {
		return nil, fmt.Errorf("%w: gcc is %s; the build container mounts the host's /usr, so it needs the system's gcc, under /usr", ErrNoToolchain, gcc)
	}
	base, err := container.RunnerSource(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("find berth's source: %w", err)
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "-json", "GOROOT", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: go env: %w", ErrNoToolchain, err)
	}
	var ge struct{ GOROOT, GOMODCACHE, GOCACHE string }
	if err := json.Unmarshal(out, &ge); err != nil || ge.GOROOT == "" || !filepath.IsAbs(ge.GOROOT) {
		return nil, fmt.Errorf("%w: go env named no GOROOT", ErrNoToolchain)
	}
	env := &Env{base: base, goroot: ge.GOROOT, modcache: ge.GOMODCACHE, hostLinks: map[string]string{}}
	if filepath.IsAbs(ge.GOCACHE) {
		env.seed = ge.GOCACHE
	}
	if _, err := os.Stat(filepath.Join(base, "vendor", "modules.txt")); err == nil {
		env.modcache = ""
	} else if env.modcache == "" {
		return nil, fmt.Errorf("%w: go env named no module cache", ErrNoToolchain)
	}
	// gcc, its libraries and its loader are the host's /usr and the
	// top-level folders beside it: the same symlinks where the host has
	// them (a merged /usr), else the folders, mounted read-only.
	for _, name := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		fi, err := os.Lstat("/" + name)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink("/" + name)
			if err != nil {
				return nil, fmt.Errorf("read the host's /%s: %w", name, err)
			}
			env.hostLinks[name] = target
		case fi.IsDir():
			env.hostDirs = append(env.hostDirs, "/"+name)
		}
	}
	env.hostDirs = append(env.hostDirs, "/usr")
	if env.baseHash, err = BaseHash(base); err != nil {
		return nil, err
	}
	return env, nil
}
