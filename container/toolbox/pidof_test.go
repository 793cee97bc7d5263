package toolbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pidof finds a process by the name it was started as, here a copy of
// sleep under a name no other process has.
func TestPidof(t *testing.T) {
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program:", err)
	}
	b, err := os.ReadFile(sleepBin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	name := "toolbox-pidof-" + strconv.Itoa(os.Getpid())
	bin := filepath.Join(dir, name)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(bin, "30")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Process.Kill()
		proc.Wait()
	})
	out, errOut, code := runIn(t, dir, "", "pidof "+name)
	if code != 0 || strings.TrimSpace(out) != strconv.Itoa(proc.Process.Pid) {
		t.Fatalf("pidof %s = %q (exit %d, %s), want %d", name, out, code, errOut, proc.Process.Pid)
	}
	if _, _, code := runIn(t, dir, "", "pidof -s no-such-process-xyz"); code != 1 {
		t.Fatalf("pidof of nothing: exit %d, want 1", code)
	}
}
