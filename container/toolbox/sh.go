package toolbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"mvdan.cc/sh/moreinterp/coreutils"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// newRunner returns an interpreter on the given streams whose commands
// are, in order: the in-process ones, u-root's core commands, programs on
// PATH (startProgram).
func newRunner(stdin io.Reader, stdout, stderr io.Writer, opts ...interp.RunnerOption) (*interp.Runner, error) {
	opts = append([]interp.RunnerOption{
		interp.StdIO(stdin, stdout, stderr),
		interp.CallHandler(callHandler),
		// The interpreter ends the chain with its DefaultExecHandler.
		interp.ExecHandlers(guard, ExecHandler, coreutils.ExecHandler, startProgram),
	}, opts...)
	return interp.New(opts...)
}

// guard makes a command's failure to run fail that command, not the
// shell: a panic in an in-process one (a bug: u-root's xargs -n1 has one)
// exits 2, a program that could not be started (fork refused at the pids
// limit) 126, each with a message, as a traditional shell goes on after
// "fork: Resource temporarily unavailable". Only cancellation (the
// tool's time limit) still stops the shell.
func guard(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) (err error) {
		defer func() {
			if p := recover(); p != nil {
				fmt.Fprintf(interp.HandlerCtx(ctx).Stderr, "%s: internal error: %v\n", args[0], p)
				err = interp.ExitStatus(2)
			}
		}()
		err = next(ctx, args)
		var es interp.ExitStatus
		if err == nil || errors.As(err, &es) || ctx.Err() != nil {
			return err
		}
		diagnose(interp.HandlerCtx(ctx).Stderr, fmt.Sprintf("%s: %v\n", args[0], err))
		return interp.ExitStatus(126)
	}
}

// diagnose writes a shell diagnostic to stderr, or, when that is closed,
// to the shell's own standard error. A background job's stderr is closed
// early when it is a pipe (`for …; do cmd & done 2>&1 | tail`): the
// interpreter closes a pipeline's writing end when its left side ends,
// not when the jobs it started do, so "fork refused" would be lost.
func diagnose(stderr io.Writer, msg string) {
	if _, err := io.WriteString(stderr, msg); err != nil {
		// Nowhere else to report to: the shell's own stderr is the last.
		_, _ = io.WriteString(os.Stderr, msg)
	}
}

// shMain is sh: `sh -c SCRIPT [NAME [ARG…]]`, `sh FILE [ARG…]`, or `sh`
// (and `sh -s [ARG…]`) reading the script from standard input. Leading
// options other than -c and -s are the set builtin's (-e, -u, -x,
// -o pipefail, …). The exit code is the script's; 2 for a usage or syntax
// error, 127 for a script file that cannot be read.
func shMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var (
		setOpts        []string
		command, stdIn bool
	)
	for len(args) > 0 {
		a := args[0]
		if a == "--" || a == "-" {
			args = args[1:]
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		args = args[1:]
		letters := ""
		for _, l := range a[1:] {
			switch {
			case l == 'c' && a[0] == '-':
				command = true
			case l == 's' && a[0] == '-':
				stdIn = true
			case l == 'l' || l == 'i': // login and interactive: no meaning here
			default:
				letters += string(l)
			}
		}
		if letters == "" {
			continue
		}
		setOpts = append(setOpts, a[:1]+letters)
		if strings.HasSuffix(letters, "o") {
			if len(args) == 0 {
				fmt.Fprintln(stderr, "sh: -o needs an option name")
				return 2
			}
			setOpts = append(setOpts, args[0])
			args = args[1:]
		}
	}

	var (
		src  io.Reader
		name = "sh"
	)
	switch {
	case command:
		if len(args) == 0 {
			fmt.Fprintln(stderr, "sh: -c needs a script")
			return 2
		}
		src = strings.NewReader(args[0])
		args = args[1:]
		if len(args) > 0 {
			name, args = args[0], args[1:]
		}
	case stdIn || len(args) == 0:
		src = stdin
	default:
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 127
		}
		defer f.Close()
		src, name, args = f, args[0], args[1:]
	}
	return runScript(ctx, src, name, setOpts, args, stdin, stdout, stderr)
}

// runScript parses src and runs it with $0 name and positional parameters
// params, returning its exit code.
func runScript(ctx context.Context, src io.Reader, name string, setOpts, params []string, stdin io.Reader, stdout, stderr io.Writer) int {
	prog, err := syntax.NewParser().Parse(src, name)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	r, err := newRunner(stdin, stdout, stderr, interp.Params(append(append(setOpts, "--"), params...)...))
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	return exitCode(stderr, r.Run(ctx, prog))
}

// exitCode turns what the interpreter returned into an exit code; an
// error that is no exit status (a fatal one) is printed, code 1.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var es interp.ExitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	fmt.Fprintf(stderr, "sh: %v\n", err)
	return 1
}

// standalone runs a command started by its own name (/bin/grep,
// /bin/echo). An in-process command runs directly (a forked one must: the
// shell would start it from PATH again, which is this); a builtin or a
// u-root command runs through the interpreter, as in a script.
func standalone(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if cmd, ok := commands[name]; ok {
		dir, err := os.Getwd()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		return cmd(&call{ctx: ctx, name: name, stdin: stdin, stdout: stdout, stderr: stderr,
			dir: dir, lookupEnv: os.LookupEnv, environ: os.Environ}, args)
	}
	return runScript(ctx, strings.NewReader(`"$@"`), name, nil, append([]string{name}, args...), stdin, stdout, stderr)
}

// runArgv runs the command line argv (find -exec's, env's) as the shell
// would run it, on c's streams and in c's folder, with environment vars
// (nil: c's). argv is passed as parameters, never parsed as shell text.
func runArgv(c *call, argv, vars []string) int {
	if vars == nil {
		vars = c.environ()
	}
	opts := []interp.RunnerOption{interp.Env(expand.ListEnviron(vars...)), interp.Params(append([]string{"--"}, argv...)...)}
	if c.dir != "" {
		opts = append(opts, interp.Dir(c.dir))
	}
	r, err := newRunner(c.stdin, c.stdout, c.stderr, opts...)
	if err != nil {
		c.errorf("%v", err)
		return 2
	}
	prog, err := syntax.NewParser().Parse(strings.NewReader(`"$@"`), c.name)
	if err != nil {
		c.errorf("%v", err)
		return 2
	}
	return exitCode(c.stderr, r.Run(c.ctx, prog))
}
