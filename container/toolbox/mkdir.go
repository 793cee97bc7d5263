package toolbox

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
)

// mkdir makes folders: -p makes parents as needed and is content with
// ones that exist, -m MODE (octal) sets the mode, -v reports each made.
// Exit code 1 if any could not be made.
func mkdir(c *call, args []string) int {
	o, names, err := getopt(args, "pvm:", map[string]byte{"parents": 'p', "verbose": 'v', "mode": 'm'})
	if err != nil {
		return c.usage(err)
	}
	if len(names) == 0 {
		return c.usage(errors.New("missing operand"))
	}
	mode := fs.FileMode(0o777)
	if m := o.last('m', ""); m != "" {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil || v > 0o7777 {
			return c.usage(errors.New("invalid mode " + strconv.Quote(m) + " (octal only)"))
		}
		mode = fs.FileMode(v)
	}
	out := output(c.stdout)
	code := 0
	for _, name := range names {
		p := c.path(name)
		if o.has('p') {
			err = os.MkdirAll(p, mode)
		} else {
			err = os.Mkdir(p, mode)
		}
		if err == nil && o.has('m') {
			// The umask applied to Mkdir; an explicit mode is meant whole.
			err = os.Chmod(p, mode)
		}
		if err != nil {
			c.errorf("cannot create directory %s: %v", name, unwrapPath(err))
			code = 1
			continue
		}
		if o.has('v') {
			out.WriteString("mkdir: created directory " + strconv.Quote(name) + "\n")
		}
	}
	return c.finish(out, code)
}

// unwrapPath drops the operation and path a *fs.PathError adds, for
// messages that name the file themselves.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
