package toolbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cp copies files: `cp [-r|-R] [-a] [-p] [-f] [-n] [-v] [-L|-P] [-T] SRC…
// DEST`; into DEST when it is a folder (or there are several SRCs).
// Folders need -r; below them symbolic links are copied as links (-L:
// followed). -p keeps modes and times, -a is -r -p -P, -n never
// overwrites, -f replaces a file that cannot be opened for writing. Exit
// code 1 if anything could not be copied.
func cp(c *call, args []string) int {
	o, names, err := getopt(args, "rRapfnvLPTdiu", map[string]byte{
		"recursive": 'r', "archive": 'a', "force": 'f', "no-clobber": 'n', "verbose": 'v',
		"dereference": 'L', "no-dereference": 'P', "no-target-directory": 'T'})
	if err != nil {
		return c.usage(err)
	}
	opt := copyOpts{
		recursive: o.has('r') || o.has('R') || o.has('a'),
		preserve:  o.has('p') || o.has('a'),
		follow:    o.has('L') && !o.has('a'),
		noClobber: o.has('n'),
		force:     o.has('f'),
	}
	out := output(c.stdout)
	code := eachTarget(c, names, o.has('T'), func(src, dst string) error {
		if err := copyPath(c.path(src), c.path(dst), opt, true); err != nil {
			return err
		}
		if o.has('v') {
			out.WriteString("'" + src + "' -> '" + dst + "'\n")
		}
		return nil
	})
	return c.finish(out, code)
}

// eachTarget runs fn for each SRC of `cmd SRC… DEST` with where it goes:
// DEST itself, or DEST/base(SRC) when DEST is a folder (never with noDir,
// -T) or there are several SRCs. It reports fn's errors and returns the
// exit code.
func eachTarget(c *call, names []string, noDir bool, fn func(src, dst string) error) int {
	if len(names) < 2 {
		return c.usage(errors.New("missing destination operand"))
	}
	srcs, dest := names[:len(names)-1], names[len(names)-1]
	fi, err := os.Stat(c.path(dest))
	into := err == nil && fi.IsDir() && !noDir
	if len(srcs) > 1 && !into {
		return c.usage(fmt.Errorf("target %s is not a directory", dest))
	}
	code := 0
	for _, src := range srcs {
		dst := dest
		if into {
			dst = filepath.Join(dest, filepath.Base(strings.TrimRight(src, "/")))
		}
		if err := fn(src, dst); err != nil {
			c.errorf("%v", err)
			code = 1
		}
	}
	return code
}

type copyOpts struct {
	recursive bool // copy folders
	preserve  bool // keep modes and times
	follow    bool // follow symbolic links below the top
	noClobber bool // leave existing files alone
	force     bool // remove a file that cannot be opened for writing
}

// copyPath copies src to dst; top is whether src was named by the
// caller (it is then followed when a symbolic link, unless copying
// recursively without -L, as GNU's cp does).
func copyPath(src, dst string, opt copyOpts, top bool) error {
	stat := os.Lstat
	if opt.follow || (top && !opt.recursive) {
		stat = os.Stat
	}
	fi, err := stat(src)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil && opt.noClobber {
		return nil
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return os.Symlink(target, dst)
	case fi.IsDir():
		if !opt.recursive {
			return fmt.Errorf("-r not specified; omitting directory '%s'", src)
		}
		if rel, err := filepath.Rel(src, dst); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return fmt.Errorf("cannot copy a directory, '%s', into itself, '%s'", src, dst)
		}
		if err := os.Mkdir(dst, fi.Mode().Perm()|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		var errs []error
		for _, e := range entries {
			if err := copyPath(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), opt, false); err != nil {
				errs = append(errs, err)
			}
		}
		if err := finishCopy(dst, fi, opt.preserve); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	case fi.Mode().IsRegular():
		if err := copyFile(src, dst, fi, opt.force); err != nil {
			return err
		}
		return finishCopy(dst, fi, opt.preserve)
	default:
		return fmt.Errorf("cannot copy '%s': not a regular file, folder or link", src)
	}
}

func copyFile(src, dst string, fi fs.FileInfo, force bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil && force {
		if rerr := os.Remove(dst); rerr == nil {
			out, err = os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
		}
	}
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// finishCopy gives dst src's mode and, with preserve, its times.
func finishCopy(dst string, fi fs.FileInfo, preserve bool) error {
	if !preserve {
		return nil
	}
	if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}
