package toolbox

import (
	"errors"
	"strconv"
	"syscall"
)

// rlimInfinity is RLIM_INFINITY as the kernel gives it: all bits set.
const rlimInfinity = ^uint64(0)

// ulimitResources are ulimit's letters, with the unit each is shown in.
var ulimitResources = []struct {
	letter   byte
	resource int
	unit     uint64
	name     string
}{
	{'c', syscall.RLIMIT_CORE, 512, "core file size (blocks)"},
	{'d', syscall.RLIMIT_DATA, 1024, "data seg size (kbytes)"},
	{'f', syscall.RLIMIT_FSIZE, 512, "file size (blocks)"},
	{'n', syscall.RLIMIT_NOFILE, 1, "open files"},
	{'s', syscall.RLIMIT_STACK, 1024, "stack size (kbytes)"},
	{'t', syscall.RLIMIT_CPU, 1, "cpu time (seconds)"},
	{'u', 6 /* RLIMIT_NPROC */, 1, "max user processes"},
	{'v', syscall.RLIMIT_AS, 1024, "virtual memory (kbytes)"},
}

// ulimit shows or sets the shell's resource limits: `ulimit [-H|-S]
// [-a | -c|-d|-f|-n|-s|-t|-u|-v] [LIMIT|unlimited]`, -f by default. It
// runs in the shell's own process (the interpreter has no ulimit
// builtin), so a limit set holds for what the shell runs next.
func ulimit(c *call, args []string) int {
	o, operands, err := getopt(args, "HSacdfnstuv", nil)
	if err != nil {
		return c.usage(err)
	}
	hard := o.has('H')
	out := output(c.stdout)
	show := func(r uint64, unit uint64) string {
		if r == rlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(r/unit, 10)
	}
	var picked []int
	for i, r := range ulimitResources {
		if o.has(r.letter) || o.has('a') {
			picked = append(picked, i)
		}
	}
	if len(picked) == 0 {
		picked = []int{2} // -f
	}
	if len(operands) > 0 {
		if len(picked) != 1 || o.has('a') {
			return c.usage(errors.New("set one limit at a time"))
		}
		r := ulimitResources[picked[0]]
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(r.resource, &lim); err != nil {
			c.errorf("%v", err)
			return 1
		}
		v := uint64(rlimInfinity)
		if operands[0] != "unlimited" {
			n, err := strconv.ParseUint(operands[0], 10, 64)
			if err != nil {
				return c.usage(errors.New("invalid limit " + strconv.Quote(operands[0])))
			}
			v = n * r.unit
		}
		if hard || !o.has('S') {
			lim.Max = v
		}
		if !hard || o.has('S') {
			lim.Cur = v
		}
		if err := syscall.Setrlimit(r.resource, &lim); err != nil {
			c.errorf("%s: cannot modify limit: %v", r.name, err)
			return 1
		}
		return 0
	}
	for _, i := range picked {
		r := ulimitResources[i]
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(r.resource, &lim); err != nil {
			c.errorf("%v", err)
			return 1
		}
		v := show(lim.Cur, r.unit)
		if hard {
			v = show(lim.Max, r.unit)
		}
		if o.has('a') {
			out.WriteString(r.name + " (-" + string(r.letter) + ") " + v + "\n")
		} else {
			out.WriteString(v + "\n")
		}
	}
	return c.finish(out, 0)
}
