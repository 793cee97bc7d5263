package toolbox

import (
	"io/fs"
	"testing"
)

func TestLs(t *testing.T) {
	tree := map[string]string{"d/b": "12345", "d/a": "", "d/.hidden": "", "d/sub/x": "", "f": "1"}
	runCases(t, []shCase{
		{name: "one a line, sorted", files: tree, script: "ls d", want: "a\nb\nsub\n"},
		{name: "-1", files: tree, script: "ls -1 d | wc -l", want: "3\n"},
		{name: "current folder", files: tree, script: "cd d && ls", want: "a\nb\nsub\n"},
		{name: "-a", files: tree, script: "ls -a d", want: ".\n..\n.hidden\na\nb\nsub\n"},
		{name: "-A", files: tree, script: "ls -A d", want: ".hidden\na\nb\nsub\n"},
		{name: "a file", files: tree, script: "ls f", want: "f\n"},
		{name: "files, then folders with headers", files: tree, script: "ls d/sub f d/a", want: "d/a\nf\n\nd/sub:\nx\n"},
		{name: "-d", files: tree, script: "ls -d d d/sub", want: "d\nd/sub\n"},
		{name: "-R", files: tree, script: "ls -R d", want: "d:\na\nb\nsub\n\nd/sub:\nx\n"},
		{name: "-S", files: tree, script: "ls -S d | head -n 1", want: "sub\n"},
		{name: "-r", files: tree, script: "ls -r d", want: "sub\nb\na\n"},
		{name: "-t", files: tree, script: "touch -d 2000-01-01T00:00:00Z d/b && touch d/a && ls -t d | tail -n 1", want: "b\n"},
		{name: "-F", files: tree, script: "chmod 755 d/a && ln -s a d/l && ls -F d", want: "a*\nb\nl@\nsub/\n"},
		{name: "-l", files: tree, script: "chmod 640 d/b && ls -l d | grep ' b$' | cut -c1-10", want: "-rw-r-----\n"},
		{name: "-l size and total", files: tree, script: "ls -l d | head -n 1 | cut -c1-5; ls -ln d/b | tr -s ' ' | cut -d' ' -f5", want: "total\n5\n"},
		{name: "-l link target", files: tree, script: "ln -s a d/l && ls -l d/l | sed 's/.* d/d/'", want: "d/l -> a\n"},
		{name: "a link to a folder is followed", files: tree, script: "ln -s d l && ls l", want: "a\nb\nsub\n"},
		{name: "missing", files: tree, script: "ls nope f", want: "f\n", code: 2, stderr: "cannot access 'nope'"},
		{name: "bad option", script: "ls -Z", code: 2},
	})
}

func TestLsMode(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		0o644:                              "-rw-r--r--",
		fs.ModeDir | 0o755:                 "drwxr-xr-x",
		fs.ModeSymlink | 0o777:             "lrwxrwxrwx",
		fs.ModeNamedPipe | 0o600:           "prw-------",
		fs.ModeSetuid | 0o755:              "-rwsr-xr-x",
		fs.ModeSetgid | 0o745:              "-rwxr-Sr-x",
		fs.ModeDir | fs.ModeSticky | 0o777: "drwxrwxrwt",
	} {
		if got := lsMode(m); got != want {
			t.Errorf("lsMode(%v) = %s, want %s", m, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 1023: "1023", 1024: "1.0K", 1536: "1.5K", 20480: "20K", 5 << 20: "5.0M"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %s, want %s", n, got, want)
		}
	}
}
