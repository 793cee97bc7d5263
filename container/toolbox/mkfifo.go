package toolbox

import (
	"errors"
	"strconv"
	"syscall"
)

// mkfifo makes named pipes, mode 0666 less the umask or -m MODE (octal).
func mkfifo(c *call, args []string) int {
	o, names, err := getopt(args, "m:", map[string]byte{"mode": 'm'})
	if err != nil {
		return c.usage(err)
	}
	if len(names) == 0 {
		return c.usage(errors.New("missing operand"))
	}
	mode := uint32(0o666)
	if m := o.last('m', ""); m != "" {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil || v > 0o7777 {
			return c.usage(errors.New("invalid mode " + strconv.Quote(m) + " (octal only)"))
		}
		mode = uint32(v)
	}
	code := 0
	for _, name := range names {
		if err := syscall.Mkfifo(c.path(name), mode); err != nil {
			c.errorf("cannot create fifo %s: %v", name, err)
			code = 1
		}
	}
	return code
}
