package runnerbuild_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/container/runnerbuild"
)

// stockDir writes the stock source into a new runner-src folder.
func stockDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "group", "runner-src")
	writeStock(t, dir)
	return dir
}

func TestReadStockIsStock(t *testing.T) {
	src, err := runnerbuild.Read(stockDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if src.Hash() != runnerbuild.StockHash() {
		t.Fatalf("a copy of the stock source hashes %s, the stock %s", src.Hash(), runnerbuild.StockHash())
	}
	if len(src) < 5 || src["runner.go"] == nil || src["agents/agent.go"] == nil {
		t.Fatalf("read %v", src.Names())
	}
}

// TestHash: what the build compiles changes the hash; what it does not
// (tests, other files) does not.
func TestHash(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, dir string)
		changed bool
	}{
		{"nothing", func(*testing.T, string) {}, false},
		{"a file's content", func(t *testing.T, dir string) { appendTo(t, filepath.Join(dir, "echo.go"), "\n// x\n") }, true},
		{"a provider's content", func(t *testing.T, dir string) { appendTo(t, filepath.Join(dir, "agents", "agent.go"), "\n// x\n") }, true},
		{"a file added", func(t *testing.T, dir string) { put(t, filepath.Join(dir, "extra.go"), "package runner\n") }, true},
		{"a file removed", func(t *testing.T, dir string) { remove(t, filepath.Join(dir, "outbox.go")) }, true},
		{"a file renamed", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "outbox.go"), filepath.Join(dir, "outbox2.go")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a test added", func(t *testing.T, dir string) { put(t, filepath.Join(dir, "x_test.go"), "package runner\n") }, false},
		{"notes added", func(t *testing.T, dir string) { put(t, filepath.Join(dir, "NOTES.md"), "mine\n") }, false},
		{"a folder added", func(t *testing.T, dir string) { put(t, filepath.Join(dir, "more", "x.go"), "package more\n") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := stockDir(t)
			tt.change(t, dir)
			src, err := runnerbuild.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := src.Hash() != runnerbuild.StockHash(); got != tt.changed {
				t.Fatalf("changed = %v, want %v", got, tt.changed)
			}
		})
	}
}

// TestReadRefuses: what the agent planted is refused, never followed.
// Every symlink points at a decoy of the test's own.
func TestReadRefuses(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, dir, decoy string)
		want  string
	}{
		{"a Go file is a symlink", func(t *testing.T, dir, decoy string) {
			remove(t, filepath.Join(dir, "echo.go"))
			link(t, filepath.Join(decoy, "echo.go"), filepath.Join(dir, "echo.go"))
		}, "echo.go is a symlink"},
		{"agents is a symlink", func(t *testing.T, dir, decoy string) {
			if err := os.RemoveAll(filepath.Join(dir, "agents")); err != nil {
				t.Fatal(err)
			}
			link(t, decoy, filepath.Join(dir, "agents"))
		}, "agents is a symlink"},
		{"another name is a symlink", func(t *testing.T, dir, decoy string) {
			link(t, decoy, filepath.Join(dir, "notes"))
		}, "notes is a symlink"},
		{"a provider is a symlink", func(t *testing.T, dir, decoy string) {
			link(t, filepath.Join(decoy, "echo.go"), filepath.Join(dir, "agents", "x.go"))
		}, "agents/x.go is a symlink"},
		{"runner-src is a symlink", func(t *testing.T, dir, decoy string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			link(t, decoy, dir)
		}, "runner-src is a symlink"},
		{"a Go file is a FIFO", func(t *testing.T, dir, _ string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo.go"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "fifo.go is not a regular file"},
		{"a Go file is a folder", func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(filepath.Join(dir, "dir.go"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "dir.go is not a regular file"},
		{"a file too big", func(t *testing.T, dir, _ string) {
			put(t, filepath.Join(dir, "big.go"), strings.Repeat("x", runnerbuild.MaxFileBytes+1))
		}, "big.go is"},
		{"too many files", func(t *testing.T, dir, _ string) {
			for i := range runnerbuild.MaxFiles {
				put(t, filepath.Join(dir, "agents", "f"+itoa(i)+".go"), "package agents\n")
			}
		}, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := stockDir(t)
			decoy := t.TempDir()
			put(t, filepath.Join(decoy, "echo.go"), "package runner\n// decoy\n")
			tt.plant(t, dir, decoy)
			_, err := runnerbuild.Read(dir)
			if !errors.Is(err, runnerbuild.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read = %v, want a refusal naming %q", err, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	dir := stockDir(t)
	appendTo(t, filepath.Join(dir, "echo.go"), "// mine\n")
	put(t, filepath.Join(dir, "agents", "new.go"), "package agents\n")
	remove(t, filepath.Join(dir, "outbox.go"))
	src, err := runnerbuild.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := runnerbuild.Diff(runnerbuild.Stock(), src)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"added: agents/new.go", "removed: outbox.go", "--- stock/echo.go", "+++ group/echo.go", "+// mine", "+package agents", "@@"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff has no %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "runner.go") {
		t.Errorf("diff names an unchanged file:\n%s", d)
	}
	if same, err := runnerbuild.Diff(runnerbuild.Stock(), runnerbuild.Stock()); err != nil || same != "" {
		t.Fatalf("diff of the stock source with itself = %q, %v", same, err)
	}
}

// TestStage: the staged tree is berth's with the group's runner source in
// place of the stock one, whole (a file it removed is gone), and no tests.
func TestStage(t *testing.T) {
	base := t.TempDir()
	put(t, filepath.Join(base, "go.mod"), "module github.com/berth-dev/berth\n")
	put(t, filepath.Join(base, "cmd", "berth-runner", "main.go"), "package main\n")
	put(t, filepath.Join(base, "cmd", "berth-runner", "main_test.go"), "package main\n")
	put(t, filepath.Join(base, ".git", "config"), "secret-ish\n")
	put(t, filepath.Join(base, "session", "runner", "runner.go"), "package runner // stock\n")
	put(t, filepath.Join(base, "session", "runner", "gone.go"), "package runner // stock, removed by the group\n")
	put(t, filepath.Join(base, "session", "runner", "agents", "agent.go"), "package agents // stock\n")
	link(t, filepath.Join(base, "go.mod"), filepath.Join(base, "link.go"))
	src := runnerbuild.Source{"runner.go": []byte("package runner // group\n"), "agents/agent.go": []byte("package agents // group\n"), "agents/new.go": []byte("package agents\n")}
	dst := filepath.Join(t.TempDir(), "stage")
	if err := runnerbuild.Stage(dst, base, src); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"go.mod": "module github.com/berth-dev/berth\n", "cmd/berth-runner/main.go": "package main\n",
		"session/runner/runner.go": "package runner // group\n", "session/runner/agents/agent.go": "package agents // group\n",
		"session/runner/agents/new.go": "package agents\n",
	} {
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", rel, b, err, want)
		}
	}
	for _, rel := range []string{"cmd/berth-runner/main_test.go", ".git/config", "session/runner/gone.go", "link.go"} {
		if _, err := os.Lstat(filepath.Join(dst, rel)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is staged (%v)", rel, err)
		}
	}
	if err := runnerbuild.Stage(dst, base, runnerbuild.Source{"../evil.go": []byte("x")}); err == nil {
		t.Error("Stage into an existing folder succeeded")
	}
	if err := runnerbuild.Stage(filepath.Join(t.TempDir(), "s"), base, runnerbuild.Source{"../evil.go": []byte("x")}); err == nil {
		t.Error("a source path outside the runner was staged")
	}
}

// TestReset: the stock source comes back; symlinks are removed, not
// followed (the decoy they pointed at is untouched); other files stay.
func TestReset(t *testing.T) {
	dir := stockDir(t)
	decoy := t.TempDir()
	put(t, filepath.Join(decoy, "echo.go"), "decoy\n")
	remove(t, filepath.Join(dir, "echo.go"))
	link(t, filepath.Join(decoy, "echo.go"), filepath.Join(dir, "echo.go"))
	if err := os.RemoveAll(filepath.Join(dir, "agents")); err != nil {
		t.Fatal(err)
	}
	link(t, decoy, filepath.Join(dir, "agents"))
	put(t, filepath.Join(dir, "extra.go"), "package runner\n")
	put(t, filepath.Join(dir, "NOTES.md"), "mine\n")
	appendTo(t, filepath.Join(dir, "runner.go"), "// changed\n")
	if err := runnerbuild.Reset(dir, -1); err != nil {
		t.Fatal(err)
	}
	src, err := runnerbuild.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if src.Hash() != runnerbuild.StockHash() {
		t.Fatalf("after reset the source is %v, not the stock one", src.Names())
	}
	if b, err := os.ReadFile(filepath.Join(decoy, "echo.go")); err != nil || string(b) != "decoy\n" {
		t.Fatalf("the decoy changed: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(decoy); len(entries) != 1 {
		t.Fatalf("the decoy folder was written: %v", entries)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "NOTES.md")); err != nil || string(b) != "mine\n" {
		t.Fatalf("reset lost a file that is not source: %q, %v", b, err)
	}
}

// BenchmarkRead is what a wake of a group costs to tell its source from
// the stock one: reading and hashing its files (the stock 11, and 40 of
// the stock files' size).
func BenchmarkRead(b *testing.B) {
	for _, extra := range []int{0, 29} {
		b.Run(strconv.Itoa(len(runnerbuild.Stock())+extra)+"files", func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "g", "runner-src")
			for name, content := range runnerbuild.Stock() {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(p, content, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			for i := range extra {
				if err := os.WriteFile(filepath.Join(dir, "agents", "extra"+strconv.Itoa(i)+".go"), runnerbuild.Stock()["runner.go"], 0o644); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				src, err := runnerbuild.Read(dir)
				if err != nil {
					b.Fatal(err)
				}
				_ = src.Hash()
			}
		})
	}
}

func put(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	put(t, path, string(b)+s)
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
