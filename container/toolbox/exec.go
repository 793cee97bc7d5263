package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// killTimeout is how long a program has after an interrupt, when the
// shell is cancelled (the bash tool's time limit), before it is killed:
// the interpreter's own default.
const killTimeout = 2 * time.Second

// startProgram is the interpreter middleware that runs programs from
// PATH, as interp.DefaultExecHandler does (and hands it what it does
// specially: a script without #!, a busy text file), but waits for each
// on the runtime's poller (a pidfd) instead of a blocked thread. A shell
// with many children (`sleep 9 &` sixty times) then costs no thread each,
// so at the container's pids limit its forks are refused and reported,
// and the shell itself does not die for want of a thread.
func startProgram(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		path, err := interp.LookPathDir(hc.Dir, hc.Env, args[0])
		if err != nil {
			fmt.Fprintln(hc.Stderr, err)
			return interp.ExitStatus(127)
		}
		cmd := exec.Command(path)
		cmd.Args = args
		cmd.Env = exported(hc.Env)
		cmd.Dir = hc.Dir
		cmd.Stdin, cmd.Stdout, cmd.Stderr = hc.Stdin, hc.Stdout, hc.Stderr
		// As the default handler: output a grandchild holds open is
		// given up killTimeout after the program itself exits.
		cmd.WaitDelay = killTimeout
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ETXTBSY) {
				return next(ctx, args)
			}
			return err // guard reports it; the shell goes on
		}
		stop := context.AfterFunc(ctx, func() {
			_ = cmd.Process.Signal(os.Interrupt)
			time.AfterFunc(killTimeout, func() { _ = cmd.Process.Kill() })
		})
		defer stop()
		awaitExit(cmd.Process.Pid)
		err = cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &exitErr):
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return interp.ExitStatus(128 + int(ws.Signal()))
			}
			return interp.ExitStatus(exitErr.ExitCode())
		case errors.Is(err, exec.ErrWaitDelay):
			return nil
		default:
			return err
		}
	}
}

// awaitExit returns when process pid has exited (it is left to be
// reaped), having waited on the runtime's poller rather than in a
// blocking system call. Where pidfds are missing it returns at once, and
// the caller's Wait blocks as usual.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// Read calls this until it reports true, parking the goroutine on
	// the poller between calls; the pidfd is readable once pid exits.
	_ = rc.Read(func(fd uintptr) bool {
		// With WNOHANG and nothing to report, Linux leaves the info
		// zeroed; an exited child's has SIGCHLD.
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0
	})
}

// exported is the environment a program gets: the shell's exported
// variables.
func exported(env expand.Environ) []string {
	var kv []string
	for name, v := range env.Each {
		if v.IsSet() && v.Exported {
			kv = append(kv, name+"="+v.String())
		}
	}
	return kv
}
