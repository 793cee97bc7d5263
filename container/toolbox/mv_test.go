package toolbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMv(t *testing.T) {
	tree := map[string]string{"s/f": "1", "s/d/g": "2", "x": "x"}
	runCases(t, []shCase{
		{name: "rename", files: tree, script: "mv x y && cat y && test ! -e x", want: "x"},
		{name: "into a folder", files: tree, script: "mv x s/d && ls s/d", want: "g\nx\n"},
		{name: "a folder", files: tree, script: "mv s t && find t -type f | sort", want: "t/d/g\nt/f\n"},
		{name: "-n", files: tree, script: "mv -n x s/f && cat s/f x", want: "1x"},
		{name: "-T", files: tree, script: "mkdir e && mv -T s/d e 2>/dev/null; ls e", want: "g\n"},
		{name: "-v", files: tree, script: "mv -v x y", want: "renamed 'x' -> 'y'\n"},
		{name: "missing source", files: tree, script: "mv nope y", code: 1},
		{name: "several, not a folder", files: tree, script: "mv x s/f y", code: 2},
	})
}

// Across file systems, mv copies (modes, times, links kept) and removes.
func TestMvAcrossFileSystems(t *testing.T) {
	other := "/dev/shm"
	if fi, err := os.Stat(other); err != nil || !fi.IsDir() {
		t.Skip("no /dev/shm, a second file system, on this machine")
	}
	dst, err := os.MkdirTemp(other, "toolbox-mv-")
	if err != nil {
		t.Skip("cannot write /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(dst) })
	dir := t.TempDir()
	out, errOut, code := runIn(t, dir, "", `mkdir -p s/d && echo 1 > s/d/f && chmod 640 s/d/f && ln -s d/f s/l && mv s `+dst+`/moved && test ! -e s && ls -l `+dst+`/moved/d/f | cut -c1-10 && cat `+dst+`/moved/l`)
	if code != 0 || out != "-rw-r-----\n1\n" {
		t.Fatalf("exit %d, output %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Lstat(filepath.Join(dir, "s")); !os.IsNotExist(err) {
		t.Fatalf("the source is still there: %v", err)
	}
}
