package toolbox

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"
)

// threads is this process's thread count.
func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// Programs the shell waits for cost it no thread each: twenty at once
// leave the thread count about where it was (a blocked wait4 apiece would
// add twenty), so under a pids limit the shell's forks fail before it runs
// out of threads itself.
func TestProgramsCostNoThread(t *testing.T) {
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program:", err)
	}
	// The children's streams are files: a bytes.Buffer would need a copying
	// goroutine each, which is not what is measured (and bytes.Buffer is
	// not safe for them to share).
	before := threads(t)
	out, errOut, code := runIn(t, t.TempDir(), "", `for i in $(seq 20); do `+sleepBin+` 1 </dev/null >/dev/null & done; `+sleepBin+` 0.3; grep Threads /proc/self/status; wait`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	during, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Threads:")))
	if err != nil {
		t.Fatalf("output %q, stderr %q: %v", out, errOut, err)
	}
	if during-before >= 15 {
		t.Fatalf("%d threads with twenty children waited for, %d before", during, before)
	}
}

// Programs keep their exit codes and signals; cancelling the shell stops
// one that is running.
func TestPrograms(t *testing.T) {
	runCases(t, []shCase{
		{name: "exit code", script: "/bin/sh -c 'exit 3'", code: 3},
		{name: "signal", script: "/bin/sh -c 'kill -9 $$'", code: 137},
		{name: "streams", stdin: "in\n", script: "/bin/cat; /bin/sh -c 'echo err >&2' 2>&1", want: "in\nerr\n"},
		{name: "environment", script: "export A=1; B=2; /bin/sh -c 'echo $A-$B'", want: "1-\n"},
		{name: "folder", files: map[string]string{"d/f": ""}, script: "cd d && /bin/ls", want: "f\n"},
		{name: "script without #!", files: map[string]string{"s": "echo from script\n"}, script: "chmod 755 s && ./s", want: "from script\n"},
		{name: "not found", script: "/no/such/program", code: 127},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r, err := newRunner(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := syntax.NewParser().Parse(strings.NewReader("/bin/sh -c 'sleep 30'"), "")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = r.Run(ctx, prog)
	if took := time.Since(began); took > 10*time.Second || err == nil {
		t.Fatalf("cancelled after 200ms, the program ran %v (%v)", took, err)
	}
}
