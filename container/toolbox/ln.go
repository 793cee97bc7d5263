package toolbox

import (
	"errors"
	"os"
	"path/filepath"
)

// ln makes links: `ln [-s] [-f] [-n] [-v] TARGET [LINK]` or
// `ln [-s…] TARGET… DIR`. -s makes symbolic links (else hard links), -f
// replaces an existing LINK, -n treats a LINK that is a symbolic link to
// a folder as a file. With no LINK the link goes in the current folder.
func ln(c *call, args []string) int {
	o, names, err := getopt(args, "sfnvT", map[string]byte{
		"symbolic": 's', "force": 'f', "no-dereference": 'n', "verbose": 'v', "no-target-directory": 'T'})
	if err != nil {
		return c.usage(err)
	}
	if len(names) == 0 {
		return c.usage(errors.New("missing file operand"))
	}
	if len(names) == 1 {
		names = append(names, filepath.Base(names[0]))
	}
	targets, dest := names[:len(names)-1], names[len(names)-1]
	stat := os.Stat
	if o.has('n') {
		stat = os.Lstat
	}
	fi, err := stat(c.path(dest))
	intoDir := err == nil && fi.IsDir() && !o.has('T')
	if len(targets) > 1 && !intoDir {
		return c.usage(errors.New("target " + dest + " is not a directory"))
	}
	out := output(c.stdout)
	code := 0
	for _, target := range targets {
		link := dest
		if intoDir {
			link = filepath.Join(dest, filepath.Base(target))
		}
		if o.has('f') {
			if err := os.Remove(c.path(link)); err != nil && !errors.Is(err, os.ErrNotExist) {
				c.errorf("cannot remove %s: %v", link, unwrapPath(err))
				code = 1
				continue
			}
		}
		if o.has('s') {
			// A symbolic link's target is kept as written: it is resolved
			// from the link's folder, not from here.
			err = os.Symlink(target, c.path(link))
		} else {
			err = os.Link(c.path(target), c.path(link))
		}
		if err != nil {
			c.errorf("failed to create link %s: %v", link, unwrapPath(err))
			code = 1
			continue
		}
		if o.has('v') {
			out.WriteString("'" + link + "' -> '" + target + "'\n")
		}
	}
	return c.finish(out, code)
}
