// Package toolbox is the agent image's shell and core commands, built into
// berth-runner as one multi-call entry point, so the image needs nothing
// from the host: /bin/sh and /bin/<command> are links to the runner, which
// looks at the name it was started as.
//
// The shell is mvdan.cc/sh/v3's interpreter. A command it runs is looked up
// first among the in-process commands here (grep, sed, find, ls, head, …),
// then among u-root's core commands (rm, touch, chmod, tar, …, through
// mvdan.cc/sh/moreinterp/coreutils), then on PATH, so a real binary still
// runs (startProgram). cat, cp, find, ls, mkdir, mv and xargs are here
// although u-root has them: its find and ls -R print absolute names, its
// mkdir and ls exit 0 when they fail, its mv cannot cross file systems,
// its cp, cat, ls and xargs lack -a, -n, -1 and -I (and its xargs -n1
// panics). echo, printf, test, pwd, true and false are the interpreter's
// builtins; started by those names, the toolbox runs them through the
// interpreter. kill and ulimit, which it names but lacks, are here.
//
// Two differences from a traditional shell remain: a background job is a
// goroutine (its $! is not a process id, and jobs a pipeline's left side
// starts end with the shell), and of the commands here only sleep runs as
// a process of its own.
//
// Nothing here is bounded beyond what the container's own memory and pids
// limits bound.
package toolbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/interp"
)

// command is one in-process command. It reads c's streams, prints its own
// diagnostics to c.stderr, and returns its exit code.
type command func(c *call, args []string) int

// commands are the in-process commands, by name.
var commands map[string]command

func init() {
	// Set here, not in the declaration, because which and env look
	// commands up and so refer to this map.
	commands = map[string]command{
		"cat":      cat,
		"cp":       cp,
		"dd":       dd,
		"kill":     kill,
		"ln":       ln,
		"ls":       ls,
		"mkfifo":   mkfifo,
		"mv":       mv,
		"pidof":    pidof,
		"ulimit":   ulimit,
		"find":     find,
		"mkdir":    mkdir,
		"grep":     grep,
		"egrep":    egrep,
		"fgrep":    fgrep,
		"sed":      sed,
		"head":     head,
		"tail":     tail,
		"wc":       wc,
		"sort":     sortCmd,
		"uniq":     uniq,
		"tr":       tr,
		"cut":      cut,
		"tee":      tee,
		"basename": basename,
		"dirname":  dirname,
		"env":      env,
		"sleep":    sleep,
		"date":     date,
		"seq":      seq,
		"which":    which,
		"xargs":    xargs,
	}
}

// coreNames are the commands mvdan.cc/sh/moreinterp/coreutils runs (u-root's
// pkg/core).
var coreNames = []string{"base64", "chmod", "gunzip", "gzcat", "gzip",
	"mktemp", "rm", "shasum", "tar", "touch"}

// builtinNames are the interpreter's builtins that also exist as programs,
// so /bin/echo and /bin/[ work too.
var builtinNames = []string{"[", "echo", "false", "printf", "pwd", "test", "true"}

// Names returns every name the toolbox answers to, sorted: "sh" and each
// command. The agent image links each of them to the runner.
func Names() []string {
	names := []string{"sh"}
	for n := range commands {
		names = append(names, n)
	}
	names = append(names, coreNames...)
	names = append(names, builtinNames...)
	slices.Sort(names)
	return slices.Compact(names)
}

// ListName is the name to start the runner as for `--list`, which prints
// Names, one a line, as `busybox --list` prints its applets: the image
// builder asks the runner it packs which links to make, so the host
// binary need not link the toolbox.
const ListName = "berth-toolbox"

// Main runs the toolbox command named by the base name of args[0] and
// returns its exit code with ok true; ok is false when that name is not a
// toolbox command, and then nothing ran.
func Main(args []string) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	name := filepath.Base(args[0])
	if name == ListName {
		if len(args) != 2 || args[1] != "--list" {
			fmt.Fprintln(os.Stderr, "usage: "+ListName+" --list")
			return 2, true
		}
		if _, err := fmt.Println(strings.Join(Names(), "\n")); err != nil {
			return 1, true
		}
		return 0, true
	}
	if !slices.Contains(Names(), name) {
		return 0, false
	}
	ctx := context.Background()
	if name == "sh" {
		return shMain(ctx, args[1:], os.Stdin, os.Stdout, os.Stderr), true
	}
	return standalone(ctx, name, args[1:], os.Stdin, os.Stdout, os.Stderr), true
}

// shadowPrefix marks a command whose name is one of the interpreter's
// builtins that it does not implement (kill, ulimit): callHandler renames
// the call so that it reaches ExecHandler instead.
const shadowPrefix = "berth-toolbox-"

// shadowed are the builtins the interpreter names but does not implement.
var shadowed = map[string]bool{"kill": true, "ulimit": true}

// forked are the commands the shell starts as their own process (from
// PATH, where the image links them to the toolbox), as a traditional shell
// would: `sleep 9 &` is then a process the container's pids limit counts
// and `kill` can signal.
var forked = map[string]bool{"sleep": true}

// callHandler renames calls of shadowed builtins for ExecHandler.
func callHandler(_ context.Context, args []string) ([]string, error) {
	if shadowed[args[0]] {
		args = append([]string{shadowPrefix + args[0]}, args[1:]...)
	}
	return args, nil
}

// ExecHandler is the interpreter middleware that runs the in-process
// commands, handing anything else to next.
func ExecHandler(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		name := args[0]
		if n, ok := strings.CutPrefix(name, shadowPrefix); ok && shadowed[n] {
			name = n
		}
		cmd, ok := commands[name]
		if !ok || forked[name] {
			return next(ctx, args)
		}
		hc := interp.HandlerCtx(ctx)
		c := &call{
			ctx:    ctx,
			name:   name,
			stdin:  hc.Stdin,
			stdout: hc.Stdout,
			stderr: hc.Stderr,
			dir:    hc.Dir,
			lookupEnv: func(k string) (string, bool) {
				v := hc.Env.Get(k)
				return v.String(), v.IsSet() && v.Exported
			},
			environ: func() []string { return exported(hc.Env) },
		}
		if code := cmd(c, args[1:]); code != 0 {
			return interp.ExitStatus(uint8(code))
		}
		return nil
	}
}

// call is one run of an in-process command: its streams, its folder (the
// shell's, which is not the process's: cd in the shell does not chdir) and
// its environment.
type call struct {
	ctx            context.Context
	name           string
	stdin          io.Reader
	stdout, stderr io.Writer
	dir            string
	lookupEnv      func(string) (string, bool)
	environ        func() []string
}

// path resolves a file operand against the shell's folder.
func (c *call) path(p string) string {
	if filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// open opens a file operand; "-" is standard input.
func (c *call) open(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(c.stdin), nil
	}
	return os.Open(c.path(name))
}

// errorf prints a diagnostic prefixed with the command's name.
func (c *call) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, c.name+": "+format+"\n", args...)
}

// usage reports a usage error, exit code 2 (1 for most commands; grep,
// sed and sort follow POSIX with 2 for "trouble").
func (c *call) usage(err error) int {
	c.errorf("%v", err)
	return 2
}

// output wraps w in a buffer that remembers its first write error, so a
// command stops working once its reader has gone (a closed pipe).
func output(w io.Writer) *outWriter {
	return &outWriter{w: bufio.NewWriterSize(w, 32<<10)}
}

// outWriter is a buffered writer whose first error sticks.
type outWriter struct {
	w   *bufio.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	o.err = err
	return n, err
}

// WriteString writes s, like Write.
func (o *outWriter) WriteString(s string) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.WriteString(s)
	o.err = err
	return n, err
}

// flush writes out what is buffered and returns the first error.
func (o *outWriter) flush() error {
	if o.err == nil {
		o.err = o.w.Flush()
	}
	return o.err
}

// finish flushes o and turns the outcome into an exit code: code when the
// output went out, 1 (reported) when writing failed, silently when the
// reader is gone (EPIPE, as a shell's SIGPIPE would be).
func (c *call) finish(o *outWriter, code int) int {
	err := o.flush()
	switch {
	case err == nil:
		return code
	case errors.Is(err, syscall.EPIPE):
		return 1
	default:
		c.errorf("write error: %v", err)
		return 1
	}
}
