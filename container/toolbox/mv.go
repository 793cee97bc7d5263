package toolbox

import (
	"errors"
	"os"
	"syscall"
)

// mv moves files: `mv [-f] [-n] [-v] [-T] SRC… DEST`, into DEST when it
// is a folder. Across file systems (a mount) it copies, keeping modes,
// times and links, then removes the source. Exit code 1 if anything
// could not be moved.
func mv(c *call, args []string) int {
	o, names, err := getopt(args, "fnviuT", map[string]byte{
		"force": 'f', "no-clobber": 'n', "verbose": 'v', "no-target-directory": 'T'})
	if err != nil {
		return c.usage(err)
	}
	out := output(c.stdout)
	code := eachTarget(c, names, o.has('T'), func(src, dst string) error {
		from, to := c.path(src), c.path(dst)
		if _, err := os.Lstat(to); err == nil && o.has('n') {
			return nil
		}
		// syscall's, not os.Rename, which refuses any folder as the
		// destination: rename(2) replaces an empty one, as mv -T should.
		err := syscall.Rename(from, to)
		if err != nil {
			err = &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
		}
		if errors.Is(err, syscall.EXDEV) {
			err = copyPath(from, to, copyOpts{recursive: true, preserve: true}, false)
			if err == nil {
				err = os.RemoveAll(from)
			}
		}
		if err != nil {
			return err
		}
		if o.has('v') {
			out.WriteString("renamed '" + src + "' -> '" + dst + "'\n")
		}
		return nil
	})
	return c.finish(out, code)
}
