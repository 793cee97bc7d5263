package toolbox

import (
	"errors"
	"strings"
)

// basename prints NAME without its folders and, when given (or with
// -s SUFFIX), without a trailing SUFFIX: `basename NAME [SUFFIX]`,
// `basename -a|-s SUFFIX NAME…`.
func basename(c *call, args []string) int {
	o, names, err := getopt(args, "as:z", map[string]byte{"multiple": 'a', "suffix": 's', "zero": 'z'})
	if err != nil {
		return c.usage(err)
	}
	suffix := o.last('s', "")
	multiple := o.has('a') || o.has('s')
	switch {
	case len(names) == 0:
		return c.usage(errors.New("missing operand"))
	case !multiple && len(names) == 2:
		suffix, names = names[1], names[:1]
	case !multiple && len(names) > 2:
		return c.usage(errors.New("extra operand " + names[2]))
	}
	end := "\n"
	if o.has('z') {
		end = "\x00"
	}
	out := output(c.stdout)
	for _, n := range names {
		out.WriteString(baseOf(n, suffix) + end)
	}
	return c.finish(out, 0)
}

// baseOf is POSIX basename: trailing slashes go, then the folders, then a
// suffix unless it is the whole name.
func baseOf(name, suffix string) string {
	if name == "" {
		return ""
	}
	trimmed := strings.TrimRight(name, "/")
	if trimmed == "" {
		return "/"
	}
	base := trimmed[strings.LastIndexByte(trimmed, '/')+1:]
	if suffix != "" && base != suffix {
		base = strings.TrimSuffix(base, suffix)
	}
	return base
}
