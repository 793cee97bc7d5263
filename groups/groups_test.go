package groups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateFolder(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"main", true},
		{"team-a_2", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"global", false},
		{"Global", false},
		{"../etc", false},
		{"a/b", false},
		{"a b", false},
		{"é", false},
		{strings.Repeat("x", 10000), false},
	}
	for _, tt := range tests {
		if err := ValidateFolder(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidateFolder(%.20q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestInitCreatesOnceAndNeverOverwrites(t *testing.T) {
	l := Layout{Root: t.TempDir(), UID: -1}
	if err := l.InitGlobal(); err != nil {
		t.Fatal(err)
	}
	if err := l.Init("team", "Team"); err != nil {
		t.Fatal(err)
	}
	dir := l.Dir("team")
	mem, _ := os.ReadFile(filepath.Join(dir, MemoryFile))
	if first, _, _ := strings.Cut(string(mem), "\n"); first != "@/workspace/global/CLAUDE.md" {
		t.Fatalf("first line of CLAUDE.md = %q", first)
	}
	for _, f := range []string{"runner.go", "agents/anthropic.go"} {
		if _, err := os.Stat(filepath.Join(dir, RunnerSrc, f)); err != nil {
			t.Fatalf("runner source not copied: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ClaudeShared, "settings.json")); err != nil {
		t.Fatal(err)
	}
	// The agent writes its memory, edits its runner copy, deletes a file.
	os.WriteFile(filepath.Join(dir, MemoryFile), []byte("agent notes"), 0o644)
	os.WriteFile(filepath.Join(dir, RunnerSrc, "runner.go"), []byte("// changed"), 0o644)
	os.Remove(filepath.Join(dir, ClaudeShared, "settings.json"))
	os.WriteFile(filepath.Join(l.GlobalDir(), MemoryFile), []byte("global notes"), 0o644)
	if err := l.Init("team", "Team"); err != nil {
		t.Fatal(err)
	}
	l.InitGlobal()
	for p, want := range map[string]string{
		filepath.Join(dir, MemoryFile):             "agent notes",
		filepath.Join(dir, RunnerSrc, "runner.go"): "// changed",
		filepath.Join(l.GlobalDir(), MemoryFile):   "global notes",
	} {
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("%s = %q after a second Init, want %q", p, b, want)
		}
	}
	// Creating only what is missing is allowed; it is what "once" means for a new path.
	if _, err := os.Stat(filepath.Join(dir, ClaudeShared, "settings.json")); err != nil {
		t.Errorf("missing settings.json not restored: %v", err)
	}
}

func TestInitNeverWritesThroughSymlink(t *testing.T) {
	l := Layout{Root: t.TempDir(), UID: -1}
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("host file"), 0o644)
	dir := l.Dir("g")
	os.MkdirAll(dir, 0o755)
	os.Symlink(outside, filepath.Join(dir, MemoryFile))
	if err := l.Init("g", "G"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "host file" {
		t.Fatalf("Init wrote through a symlink: %q", b)
	}
}
