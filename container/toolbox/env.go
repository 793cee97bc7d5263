package toolbox

import (
	"errors"
	"slices"
	"strings"
)

// env prints the environment, or runs COMMAND in a changed one:
// `env [-i] [-u NAME]… [NAME=VALUE]… [COMMAND [ARG]…]`, as the shell runs
// a command (in-process ones in-process, programs from the new PATH).
// Exit code 127 when COMMAND is not found, else COMMAND's.
func env(c *call, args []string) int {
	vars := c.environ()
	// Options come first only: what follows the assignments is the
	// command's own, so getopt's permutation would be wrong here.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch {
		case a == "--":
		case a == "-" || a == "-i" || a == "--ignore-environment":
			vars = nil
		case a == "-u" || a == "--unset":
			if len(args) == 0 {
				return c.usage(errors.New("option -u needs a name"))
			}
			vars = unsetVar(vars, args[0])
			args = args[1:]
		case strings.HasPrefix(a, "-u"):
			vars = unsetVar(vars, a[2:])
		default:
			return c.usage(errors.New("unknown option " + a))
		}
		if a == "--" {
			break
		}
	}
	for len(args) > 0 && strings.Contains(args[0], "=") {
		name, _, _ := strings.Cut(args[0], "=")
		vars = append(unsetVar(vars, name), args[0])
		args = args[1:]
	}
	if len(args) == 0 {
		out := output(c.stdout)
		for _, kv := range vars {
			out.WriteString(kv + "\n")
		}
		return c.finish(out, 0)
	}
	if vars == nil {
		vars = []string{} // -i: empty, not "the caller's"
	}
	return runArgv(c, args, vars)
}

// unsetVar returns vars without name.
func unsetVar(vars []string, name string) []string {
	return slices.DeleteFunc(vars, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}
