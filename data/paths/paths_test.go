package paths

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLayout spells out, once, where each thing is on disk: a change here
// moves files under every existing BERTH_HOME.
func TestLayout(t *testing.T) {
	h := Home("/h")
	for _, tc := range []struct{ got, want string }{
		{h.String(), "/h"},
		{h.Store(), "/h/berth.db"},
		{h.Lock(), "/h/berth.lock"},
		{h.Config(), "/h/config"},
		{h.Status(), "/h/status.json"},
		{h.ConsoleToken(), "/h/console.token"},
		{h.Groups(), "/h/groups"},
		{h.Group("team"), "/h/groups/team"},
		{h.Global(), "/h/groups/global"},
		{h.Sessions(), "/h/sessions"},
		{h.Session("g1", "s1"), "/h/sessions/g1/s1"},
		{h.Logs(), "/h/logs"},
		{h.GatewayLog(), "/h/logs/berth.log"},
		{h.SessionLogs(), "/h/logs/sessions"},
		{h.SessionLog("s1"), "/h/logs/sessions/s1.log"},
		{h.ProxyDir("team"), "/h/run/proxy/team"},
		{h.RunnerBin(), "/h/cache/berth-runner"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		name, id string
		ok       bool
	}{
		{"s1.log", "s1", true},
		{filepath.Base(h.SessionLog("abc")), "abc", true},
		{"s1.txt", "s1.txt", false},
	} {
		if id, ok := SessionLogID(tc.name); id != tc.id || ok != tc.ok {
			t.Errorf("SessionLogID(%q) = %q, %v; want %q, %v", tc.name, id, ok, tc.id, tc.ok)
		}
	}
}

func TestDefault(t *testing.T) {
	user, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name, berthHome, xdg, want string
	}{
		{"BERTH_HOME", "/srv/berth", "/xdg", "/srv/berth"},
		{"XDG_DATA_HOME", "", "/xdg", "/xdg/berth"},
		{"neither", "", "", filepath.Join(user, ".local", "share", "berth")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BERTH_HOME", tc.berthHome)
			t.Setenv("XDG_DATA_HOME", tc.xdg)
			if got, err := Default(); err != nil || string(got) != tc.want {
				t.Errorf("Default() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BERTH_HOME", filepath.Join(dir, "env"))
	t.Chdir(dir)
	for _, tc := range []struct{ flag, want string }{
		{"", filepath.Join(dir, "env")},
		{filepath.Join(dir, "flag"), filepath.Join(dir, "flag")},
		{"rel", filepath.Join(dir, "rel")},
	} {
		got, err := Resolve(tc.flag)
		if err != nil || string(got) != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.flag, got, err, tc.want)
			continue
		}
		if fi, err := os.Stat(tc.want); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("Resolve(%q) did not create a 0700 folder: %v %v", tc.flag, fi, err)
		}
	}
}

// homeNames are the names only this package may put into a path. Not
// runnerBinFile: berth-runner is the binary's own name wherever it is
// built; its place in the home is cache/.
var homeNames = []string{storeFile, lockFile, configFile, statusFile, consoleToken, groupsDir, sessionsDir, logsDir,
	gatewayLogFile, sessionLogsDir, runDir, proxyDir, cacheDir, GlobalFolder}

// TestNoOtherCodeJoinsHomePaths parses every non-test .go file of the
// module outside this package and fails on a name of the home layout
// (berth.db, sessions, logs, …) that is
//   - a string literal argument of filepath.Join or path.Join,
//   - a string literal concatenated with +, holding a slash ("/berth.db"),
//   - or the value of a constant (a name hidden behind one).
//
// A literal counts when one of its slash-separated elements is such a
// name ("run/proxy" counts). Tests are not scanned: they may spell a path
// out to check it, though most call Home. The agent runner (session/runner)
// is exempt: it runs inside the container, where there is no BERTH_HOME
// and /workspace/global is a mount point.
func TestNoOtherCodeJoinsHomePaths(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	exempt := []string{here, filepath.Join(root, "session", "runner")}
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || slices.Contains(exempt, path)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, bad := range homeLiterals(f) {
			t.Errorf("%s: %s: use paths.Home instead", fset.Position(bad.pos), bad.why)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("scanned only %d files under %s", files, root)
	}
}

// TestHomeLiterals checks the scan itself, on code that breaks the rule
// and code that does not.
func TestHomeLiterals(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
	}{
		{`p := filepath.Join(home, "berth.db")`, 1},
		{`p := path.Join(home, "sessions", g, s)`, 1},
		{`p := filepath.Join(home, "run/proxy", g)`, 1},
		{`p := home + "/berth.lock"`, 1},
		{`p := "logs/" + id`, 1},
		{`p := filepath.Join(dir, sessiondb.OutDir, "outbox")`, 0},
		{`p := filepath.Join(dir, "proxy.sock")`, 0},
		{`p := paths.Home(home).Store()`, 0},
		{`row("sessions", "%d", n)`, 0},
		{`p := "groups " + names`, 0},
	} {
		src := "package p\nfunc f() {\n" + tc.src + "\n_ = p\n}\n"
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(homeLiterals(f)); got != tc.want {
			t.Errorf("%s: %d findings, want %d", tc.src, got, tc.want)
		}
	}
	for _, tc := range []struct {
		src  string
		want int
	}{
		{`const dbFile = "berth.db"`, 1},
		{`const GlobalFolder = "global"`, 1},
		{`const GlobalFolder = paths.GlobalFolder`, 0},
		{`const InDir = "in"`, 0},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package p\n"+tc.src+"\n", 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(homeLiterals(f)); got != tc.want {
			t.Errorf("%s: %d findings, want %d", tc.src, got, tc.want)
		}
	}
}

type finding struct {
	pos token.Pos
	why string
}

// homeLiterals finds the string literals in f that build a home path.
func homeLiterals(f *ast.File) []finding {
	var out []finding
	flag := func(e ast.Expr, needSlash bool, why string) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil || needSlash && !strings.Contains(s, "/") {
			return
		}
		if name, ok := homeName(s); ok {
			out = append(out, finding{lit.Pos(), why + " " + strconv.Quote(name)})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Join" {
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "filepath" || pkg.Name == "path") {
					for _, a := range n.Args {
						flag(a, false, pkg.Name+".Join of")
					}
				}
			}
		case *ast.BinaryExpr:
			if n.Op == token.ADD {
				flag(n.X, true, "concatenation of")
				flag(n.Y, true, "concatenation of")
			}
		case *ast.GenDecl:
			if n.Tok == token.CONST {
				for _, spec := range n.Specs {
					for _, v := range spec.(*ast.ValueSpec).Values {
						if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							if s, err := strconv.Unquote(lit.Value); err == nil && slices.Contains(homeNames, s) {
								out = append(out, finding{lit.Pos(), "constant " + strconv.Quote(s)})
							}
						}
					}
				}
			}
		}
		return true
	})
	return out
}

// homeName reports the first slash-separated element of s that is a name
// of the home layout.
func homeName(s string) (string, bool) {
	for elem := range strings.SplitSeq(s, "/") {
		if slices.Contains(homeNames, elem) {
			return elem, true
		}
	}
	return "", false
}
