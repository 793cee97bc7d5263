package toolbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// shCase is a script run by the toolbox's shell in a fresh folder.
type shCase struct {
	name   string
	files  map[string]string // written into the folder first
	stdin  string
	script string
	want   string // standard output, exactly
	code   int    // exit code
	stderr string // a part of standard error, when set
}

// runCases runs each case in its own folder, which is the shell's folder
// but not the process's: commands must resolve names against the shell's.
func runCases(t *testing.T, cases []shCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := runIn(t, dir, tc.stdin, tc.script)
			if out != tc.want || code != tc.code {
				t.Errorf("script:\n%s\nexit %d, output:\n%q\nwant exit %d, output:\n%q\nstderr: %s", tc.script, code, out, tc.code, tc.want, errOut)
			}
			if tc.stderr != "" && !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tc.stderr)
			}
		})
	}
}

// runIn runs script with the toolbox's shell in dir.
func runIn(t *testing.T, dir, stdin, script string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	r, err := newRunner(strings.NewReader(stdin), &out, &errOut, interp.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := syntax.NewParser().Parse(strings.NewReader(script), "sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = exitCode(&errOut, r.Run(ctx, prog))
	return out.String(), errOut.String(), code
}

func TestNames(t *testing.T) {
	names := Names()
	for _, want := range []string{"sh", "ls", "cat", "grep", "sed", "find", "head", "tail", "wc", "sort", "mkdir",
		"cp", "mv", "rm", "echo", "printf", "test", "[", "uniq", "tr", "cut", "tee", "basename", "dirname", "pwd",
		"env", "sleep", "date", "true", "false", "seq", "which", "xargs", "touch", "chmod"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %q", want)
		}
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("Names() is not sorted and unique: %v", names)
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "/ \x00") {
			t.Errorf("Names() has %q, which cannot be a file in /bin", n)
		}
	}
}

func TestMainDispatch(t *testing.T) {
	if _, ok := Main([]string{"/usr/local/bin/berth-runner", "--in", "x"}); ok {
		t.Error("Main ran the runner's own name as a toolbox command")
	}
	if _, ok := Main(nil); ok {
		t.Error("Main ran an empty argv")
	}
}

// The shell's own contract: -c with $0 and parameters, a script file, a
// script on standard input, set options, and exit codes.
func TestShMain(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(script, []byte("echo \"$0:$1:$#\"\nexit 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
		code  int
	}{
		{"-c", []string{"-c", "echo hi"}, "", "hi\n", 0},
		{"-c name and args", []string{"-c", `echo "$0 $1 $2 $#"`, "me", "a", "b c"}, "", "me a b c 2\n", 0},
		{"-c exit code", []string{"-c", "exit 42"}, "", "", 42},
		{"-c last status", []string{"-c", "true; false"}, "", "", 1},
		{"-e stops", []string{"-e", "-c", "false; echo no"}, "", "", 1},
		{"-ec cluster", []string{"-ec", "false; echo no"}, "", "", 1},
		{"no -e goes on", []string{"-c", "false; echo yes"}, "", "yes\n", 0},
		{"-o pipefail", []string{"-o", "pipefail", "-c", "false | true"}, "", "", 1},
		{"-u", []string{"-u", "-c", "echo $nope"}, "", "", 1},
		{"file", []string{script, "x"}, "", script + ":x:1\n", 4},
		{"missing file", []string{filepath.Join(dir, "none.sh")}, "", "", 127},
		{"stdin", nil, "echo from stdin\nexit 3\n", "from stdin\n", 3},
		{"-s with args", []string{"-s", "p1"}, `echo "$1"`, "p1\n", 0},
		{"syntax error", []string{"-c", "if then"}, "", "", 2},
		{"missing script", []string{"-c"}, "", "", 2},
		{"unknown command", []string{"-c", "no-such-command-xyz"}, "", "", 127},
		{"real program on PATH", []string{"-c", "/bin/sh -c 'exit 5'"}, "", "", 5},
		{"subshell and pipes", []string{"-c", "(echo a; echo b) | sort -r | tr '\\n' ' '"}, "", "b a ", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := shMain(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if out.String() != tc.want || code != tc.code {
				t.Errorf("sh %q: exit %d, output %q; want exit %d, output %q (stderr %q)", tc.args, code, out.String(), tc.code, tc.want, errOut.String())
			}
		})
	}
}

// guard keeps the shell going when a command panics or cannot start.
func TestGuard(t *testing.T) {
	failing := func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
		return func(ctx context.Context, args []string) error {
			switch args[0] {
			case "boom":
				panic("a bug")
			case "nostart":
				return errors.New("fork/exec /bin/nostart: resource temporarily unavailable")
			}
			return next(ctx, args)
		}
	}
	var out, errOut bytes.Buffer
	r, err := interp.New(interp.StdIO(nil, &out, &errOut), interp.ExecHandlers(guard, failing))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := syntax.NewParser().Parse(strings.NewReader("boom; echo $?; nostart; echo $?"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), prog); err != nil {
		t.Fatalf("the shell failed: %v", err)
	}
	if out.String() != "2\n126\n" || !strings.Contains(errOut.String(), "boom: internal error: a bug") ||
		!strings.Contains(errOut.String(), "nostart: fork/exec") {
		t.Fatalf("output %q, stderr %q", out.String(), errOut.String())
	}
}

// A command started by its own name (/bin/echo, /bin/[) runs as it would
// in a script.
func TestStandalone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
		code  int
	}{
		{"echo", []string{"a", "b"}, "", "a b\n", 0},
		{"printf", []string{"%s-%d\n", "x", "7"}, "", "x-7\n", 0},
		{"test", []string{"1", "-eq", "2"}, "", "", 1},
		{"[", []string{"a", "=", "a", "]"}, "", "", 0},
		{"true", nil, "", "", 0},
		{"false", nil, "", "", 1},
		{"grep", []string{"-c", "x"}, "x\ny\nx\n", "2\n", 0},
		{"grep", []string{"zzz"}, "x\n", "", 1},
		{"wc", []string{"-l"}, "1\n2\n", "2\n", 0},
		{"basename", []string{"/a/b.c", ".c"}, "", "b\n", 0},
		{"sleep", []string{"0"}, "", "", 0},
		{"cat", nil, "in\n", "in\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := standalone(context.Background(), tc.name, tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if out.String() != tc.want || code != tc.code {
				t.Errorf("%s %q: exit %d, output %q; want exit %d, output %q (stderr %q)", tc.name, tc.args, code, out.String(), tc.code, tc.want, errOut.String())
			}
		})
	}
}

// How the shell copes with its commands: a reader that goes away, a
// command that panics, a folder changed with cd.
func TestShellAndCommands(t *testing.T) {
	runCases(t, []shCase{
		{name: "reader gone", script: "seq 100000000 | head -n 2", want: "1\n2\n"},
		{name: "reader gone, grep", script: "seq 100000000 | grep 1 | head -n 1", want: "1\n"},
		{name: "cd moves the commands too", files: map[string]string{"d/f": "x\n"}, script: "cd d && cat f && ls && grep -l x f", want: "x\nf\nf\n"},
		{name: "redirects", script: "echo a > f; echo b >> f; cat < f; wc -l < f", want: "a\nb\n2\n"},
		{name: "command substitution", script: `n=$(printf 'a\nb\n' | wc -l); echo "n=$n"`, want: "n=2\n"},
		{name: "u-root's commands", files: map[string]string{"f": "x"}, script: "chmod 600 f && touch g && ls", want: "f\ng\n"},
		{name: "env sets the environment", script: "env FOO=bar env | grep '^FOO='", want: "FOO=bar\n"},
		{name: "env runs a command", stdin: "x\ny\n", script: "env FOO=bar grep -c y; env -u PATH FOO=1 printf '%s\\n' ok", want: "1\nok\n"},
		{name: "env -i", script: "env -i A=1 env", want: "A=1\n"},
		{name: "which", script: "which -a no-such-command-xyz; echo $?", want: "1\n"},
		{name: "kill builtin is the toolbox's", script: "kill -0 $$; echo $?", want: "0\n"},
		{name: "ulimit", script: "ulimit -n -H >/dev/null; echo $?", want: "0\n"},
	})
}
