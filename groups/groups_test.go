package groups

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/data/paths"
)

// TestLayoutIsTheHomes: a Layout rooted at a home's groups folder finds
// the folders where paths.Home says they are.
func TestLayoutIsTheHomes(t *testing.T) {
	h := paths.Home("/h")
	l := Layout{Root: h.Groups(), UID: -1}
	for _, tc := range []struct{ got, want string }{
		{l.Dir("team"), h.Group("team")},
		{l.GlobalDir(), h.Global()},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

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

// TestInitOverLeftoverFolderNeverEscapes: a group was deleted, its folder
// left behind with symlinks its agent planted, and a group of the same name
// is created again. Init runs as root: it must not create, write or chown
// anything through those symlinks (the decoy stays exactly as it was), and
// it still creates what is missing in the real folders.
func TestInitOverLeftoverFolderNeverEscapes(t *testing.T) {
	uid := -1
	if os.Getuid() == 0 {
		uid = 65532 // as the gateway does when it runs as root
	}
	tests := []struct {
		name    string
		plant   func(t *testing.T, dir, decoy string)
		wantErr string
		created []string // made in the real folder nonetheless
	}{
		{"runner-src to decoy", func(t *testing.T, dir, decoy string) {
			symlink(t, decoy, filepath.Join(dir, RunnerSrc))
		}, "", []string{MemoryFile, ClaudeShared + "/settings.json"}},
		{".claude-shared to decoy", func(t *testing.T, dir, decoy string) {
			symlink(t, decoy, filepath.Join(dir, ClaudeShared))
		}, "", []string{MemoryFile, RunnerSrc + "/runner.go"}},
		{"CLAUDE.md to a decoy file", func(t *testing.T, dir, decoy string) {
			symlink(t, filepath.Join(decoy, "file"), filepath.Join(dir, MemoryFile))
		}, "", []string{RunnerSrc + "/runner.go"}},
		{"CLAUDE.md dangling into decoy", func(t *testing.T, dir, decoy string) {
			symlink(t, filepath.Join(decoy, "new-file"), filepath.Join(dir, MemoryFile))
		}, "", []string{RunnerSrc + "/runner.go"}},
		{"subfolder of runner-src to decoy", func(t *testing.T, dir, decoy string) {
			os.MkdirAll(filepath.Join(dir, RunnerSrc), 0o755)
			symlink(t, decoy, filepath.Join(dir, RunnerSrc, "agents"))
		}, "", []string{MemoryFile, RunnerSrc + "/runner.go"}},
		{"runner-src to a folder inside the group", func(t *testing.T, dir, decoy string) {
			os.MkdirAll(filepath.Join(dir, "elsewhere"), 0o755)
			symlink(t, "elsewhere", filepath.Join(dir, RunnerSrc))
		}, "", []string{MemoryFile}},
		{"the group folder itself to decoy", func(t *testing.T, dir, decoy string) {
			symlink(t, decoy, dir)
		}, "not a folder", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Layout{Root: t.TempDir(), UID: uid}
			decoy := t.TempDir()
			os.WriteFile(filepath.Join(decoy, "file"), []byte("decoy file"), 0o644)
			os.MkdirAll(filepath.Join(decoy, "sub"), 0o755)
			dir := l.Dir("g")
			if !strings.HasSuffix(tt.name, "itself to decoy") {
				os.MkdirAll(dir, 0o755)
			}
			tt.plant(t, dir, decoy)
			before := tree(t, decoy)
			err := l.Init("g", "G")
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Init = %v, want error %q", err, tt.wantErr)
			}
			if after := tree(t, decoy); !reflect.DeepEqual(before, after) {
				t.Fatalf("Init changed the decoy:\nbefore %v\nafter  %v", before, after)
			}
			if _, err := os.Stat(filepath.Join(dir, "elsewhere", "runner.go")); err == nil {
				t.Error("Init wrote through a symlink to a folder inside the group")
			}
			for _, p := range tt.created {
				fi, err := os.Lstat(filepath.Join(dir, p))
				if err != nil || !fi.Mode().IsRegular() {
					t.Errorf("%s not created: %v", p, err)
					continue
				}
				if st := fi.Sys().(*syscall.Stat_t); uid >= 0 && int(st.Uid) != uid {
					t.Errorf("%s is owned by %d, want %d", p, st.Uid, uid)
				}
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// tree records every entry under dir: its mode, owner and content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
