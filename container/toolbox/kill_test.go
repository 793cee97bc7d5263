package toolbox

import (
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestKill(t *testing.T) {
	runCases(t, []shCase{
		{name: "-0 probes", script: "kill -0 $$", code: 0},
		{name: "-l", script: "kill -l | grep -c SIGKILL", want: "1\n"},
		{name: "no such process", script: "kill -0 999999999", code: 1},
		{name: "job specs are not supported", script: "kill %1", code: 1, stderr: "job specs"},
		{name: "bad signal", script: "kill -NOPE 1", code: 2},
		{name: "no pid", script: "kill -9", code: 2},
	})
}

// kill signals a real process, by name or number.
func TestKillSignals(t *testing.T) {
	for _, sig := range []string{"-9", "-KILL", "-SIGKILL", "-s KILL", "-s 9"} {
		proc := exec.Command("sleep", "30")
		if err := proc.Start(); err != nil {
			t.Skip("no sleep program to signal:", err)
		}
		pid := proc.Process.Pid
		_, errOut, code := runIn(t, t.TempDir(), "", "kill "+sig+" "+strconv.Itoa(pid))
		done := make(chan error, 1)
		go func() { done <- proc.Wait() }()
		select {
		case err := <-done:
			ee, ok := err.(*exec.ExitError)
			if code != 0 || !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("kill %s: exit %d (%s); the process ended with %v", sig, code, errOut, err)
			}
		case <-time.After(10 * time.Second):
			proc.Process.Kill()
			t.Fatalf("kill %s: the process is still running (exit %d, %s)", sig, code, errOut)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigint": syscall.SIGINT, "15": syscall.SIGTERM, "0": 0} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSignal("BOGUS"); err == nil {
		t.Error("parseSignal(BOGUS) succeeded")
	}
}
