package toolbox

import (
	"errors"
	"strings"
)

// dirname prints each NAME's folder: everything before its last
// component ("." when there is none).
func dirname(c *call, args []string) int {
	o, names, err := getopt(args, "z", map[string]byte{"zero": 'z'})
	if err != nil {
		return c.usage(err)
	}
	if len(names) == 0 {
		return c.usage(errors.New("missing operand"))
	}
	end := "\n"
	if o.has('z') {
		end = "\x00"
	}
	out := output(c.stdout)
	for _, n := range names {
		out.WriteString(dirOf(n) + end)
	}
	return c.finish(out, 0)
}

// dirOf is POSIX dirname.
func dirOf(name string) string {
	s := strings.TrimRight(name, "/")
	if s == "" {
		if name == "" {
			return "."
		}
		return "/"
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "."
	}
	s = strings.TrimRight(s[:i], "/")
	if s == "" {
		return "/"
	}
	return s
}
