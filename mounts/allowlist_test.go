package mounts

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fixture builds an allowed root with hostile neighbours:
//
//	base/allowed/data/          allowed root (read-write allowed), project/sub inside it
//	base/allowed/ro/            allowed root (read-only)
//	base/allowed2/              sibling sharing a name prefix, not allowed
//	base/secret/                outside every root
//	base/home/berth/            berth's own state folder (protected)
func fixture(t testing.TB) (*Allowlist, string) {
	t.Helper()
	base, _ := filepath.EvalSymlinks(t.TempDir())
	mk := func(p string) string {
		full := filepath.Join(base, p)
		if err := os.MkdirAll(full, 0o755); err != nil {
			t.Fatal(err)
		}
		return full
	}
	for _, d := range []string{"allowed/data/project/sub", "allowed/data/.ssh", "allowed/data/keys", "allowed/ro/docs", "allowed2", "secret", "home/berth"} {
		mk(d)
	}
	os.WriteFile(filepath.Join(base, "allowed/data/keys/id_rsa"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(base, "allowed/data/server.pem"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(base, "allowed/data/.env"), []byte("K=v"), 0o600)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(base, "allowed/data/escape"))
	os.Symlink(filepath.Join(base, "allowed/data/.ssh"), filepath.Join(base, "allowed/data/innocent"))
	os.Symlink(filepath.Join(base, "home/berth"), filepath.Join(base, "allowed/data/state"))
	os.Symlink(filepath.Join(base, "allowed/data/project/sub"), filepath.Join(base, "allowed/data/deep"))
	list := filepath.Join(base, "allow.json")
	os.WriteFile(list, []byte(`{"roots":[{"path":"`+base+`/allowed/data","allow_read_write":true},{"path":"`+base+`/allowed/ro"}],"non_admin_read_only":true}`), 0o600)
	a, err := Load(list, filepath.Join(base, "home/berth"))
	if err != nil {
		t.Fatal(err)
	}
	a.Roots = append(a.Roots, Root{Path: filepath.Join(base, "home")}) // a careless root that contains berth's home
	return a, base
}

func TestCheckHostile(t *testing.T) {
	a, base := fixture(t)
	tests := []struct {
		name       string
		req        Request
		admin      bool
		wantErr    string
		wantRO     bool
		wantTarget string
	}{
		{"plain read-only", Request{base + "/allowed/ro/docs", "docs", false}, false, "", true, "/workspace/extra/docs"},
		{"rw allowed for admin", Request{base + "/allowed/data/project", "p", true}, true, "", false, "/workspace/extra/p"},
		{"rw downgraded for non-admin", Request{base + "/allowed/data/project", "p", true}, false, "", true, "/workspace/extra/p"},
		{"inside a writable child", Request{base + "/allowed/data/project/sub", "s", false}, true, "inside " + base + "/allowed/data/project, which an agent may write", false, ""},
		{"symlink to inside a writable child", Request{base + "/allowed/data/deep", "s", false}, false, "which an agent may write", false, ""},
		{"rw root itself only read-only", Request{base + "/allowed/data", "all", true}, true, "", true, "/workspace/extra/all"},
		{"rw downgraded by root", Request{base + "/allowed/ro/docs", "d", true}, true, "", true, "/workspace/extra/d"},
		{"dot-dot escape", Request{base + "/allowed/data/../../secret", "x", false}, false, "not inside any allowed root", false, ""},
		{"symlink out of root", Request{base + "/allowed/data/escape", "x", false}, false, "not inside any allowed root", false, ""},
		{"symlink to blocked name", Request{base + "/allowed/data/innocent", "x", false}, false, "blocked pattern .ssh", false, ""},
		{"blocked .ssh", Request{base + "/allowed/data/.ssh", "x", false}, false, "blocked pattern .ssh", false, ""},
		{"blocked id_rsa", Request{base + "/allowed/data/keys/id_rsa", "x", false}, false, "blocked pattern id_*", false, ""},
		{"blocked pem", Request{base + "/allowed/data/server.pem", "x", false}, false, "blocked pattern *.pem", false, ""},
		{"blocked .env", Request{base + "/allowed/data/.env", "x", false}, false, "blocked pattern .env", false, ""},
		{"relative host path", Request{"allowed/data/project", "x", false}, false, "must be absolute", false, ""},
		{"host path with colon", Request{base + "/allowed/data/project:/etc", "x", false}, false, "':'", false, ""},
		{"sibling prefix", Request{base + "/allowed2", "x", false}, false, "not inside any allowed root", false, ""},
		{"protected berth home", Request{base + "/home/berth", "x", false}, false, "berth's own folder", false, ""},
		{"symlink to berth home", Request{base + "/allowed/data/state", "x", false}, false, "berth's own folder", false, ""},
		{"root containing berth home", Request{base + "/home", "x", false}, false, "berth's own folder", false, ""},
		{"missing path", Request{base + "/allowed/data/nope", "x", false}, false, "does not exist", false, ""},
		{"system folder", Request{"/etc", "x", false}, false, "never mounted", false, ""},
		{"target with colon", Request{base + "/allowed/ro/docs", "a:b", false}, false, "':'", false, ""},
		{"target with dot-dot", Request{base + "/allowed/ro/docs", "a/../../etc", false}, false, "'..'", false, ""},
		{"absolute target", Request{base + "/allowed/ro/docs", "/etc", false}, false, "relative", false, ""},
		{"empty target", Request{base + "/allowed/ro/docs", "", false}, false, "empty", false, ""},
		{"long target", Request{base + "/allowed/ro/docs", strings.Repeat("a", 101), false}, false, "at most 100", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := a.Check(tt.req, tt.admin)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q (mount %+v)", err, tt.wantErr, m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ReadOnly != tt.wantRO || m.Target != tt.wantTarget {
				t.Fatalf("mount = %+v, want ro=%v target=%s", m, tt.wantRO, tt.wantTarget)
			}
		})
	}
}

func TestLoadMissingFileAllowsNothing(t *testing.T) {
	a, err := Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Check(Request{HostPath: "/tmp", ContainerPath: "t"}, true); err == nil {
		t.Fatal("empty allowlist allowed a mount")
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/allowed/data/project", "/allowed/data/../../secret", "/allowed/data/escape", "relative", "/a:b", "/allowed/data/.ssh"} {
		f.Add(s, "docs", true, false)
	}
	f.Add("/allowed/ro/docs", "../x", false, true)
	f.Add("/allowed/ro/docs", "a/./b", true, true)
	a, base := fixture(f)
	f.Fuzz(func(t *testing.T, host, target string, rw, admin bool) {
		m, err := a.Check(Request{HostPath: base + host, ContainerPath: target, ReadWrite: rw}, admin)
		if err != nil {
			return
		}
		inRoot := false
		for _, r := range a.Roots[:2] {
			if within(m.Source, r.Path) {
				inRoot = true
			}
		}
		if !inRoot {
			t.Fatalf("accepted %q outside the roots", m.Source)
		}
		if p := blockedComponent(m.Source, defaultBlocked); p != "" {
			t.Fatalf("accepted %q matching %s", m.Source, p)
		}
		if !strings.HasPrefix(m.Target, "/workspace/extra/") || path.Clean(m.Target) != m.Target {
			t.Fatalf("bad target %q", m.Target)
		}
	})
}
