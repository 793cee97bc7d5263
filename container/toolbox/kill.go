package toolbox

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
)

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ILL": syscall.SIGILL,
	"TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV, "USR2": syscall.SIGUSR2,
	"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM, "CHLD": syscall.SIGCHLD,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN,
	"TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
	"VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH, "IO": syscall.SIGIO,
	"SYS": syscall.SIGSYS,
}

// parseSignal reads a signal by name (TERM, SIGTERM) or number.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	if sig, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, errors.New("invalid signal " + strconv.Quote(s))
}

// kill sends a signal (TERM by default) to processes: `kill [-s SIG |
// -SIG | -N] PID…`; `kill -l` lists the signal names. (The interpreter
// has no kill builtin; this one knows no job specs, only process ids.)
// Exit code 1 if any process could not be signalled.
func kill(c *call, args []string) int {
	sig := syscall.SIGTERM
	if len(args) > 0 && (args[0] == "-l" || args[0] == "-L") {
		out := output(c.stdout)
		for n := 1; n < 32; n++ {
			for name, s := range signals {
				if int(s) == n {
					out.WriteString(strconv.Itoa(n) + ") SIG" + name + "\n")
				}
			}
		}
		return c.finish(out, 0)
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "--" {
		var err error
		switch {
		case args[0] == "-s" || args[0] == "-n":
			if len(args) < 2 {
				return c.usage(errors.New("option " + args[0] + " needs a signal"))
			}
			sig, err = parseSignal(args[1])
			args = args[2:]
		default:
			sig, err = parseSignal(args[0][1:])
			args = args[1:]
		}
		if err != nil {
			return c.usage(err)
		}
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return c.usage(errors.New("usage: kill [-s SIGNAL | -SIGNAL] PID..."))
	}
	code := 0
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil {
			c.errorf("invalid process id %q (job specs are not supported)", a)
			code = 1
			continue
		}
		if err := syscall.Kill(pid, sig); err != nil {
			c.errorf("(%d) - %v", pid, err)
			code = 1
		}
	}
	return code
}
