package runnerbuild_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestBuildChangedSource builds a changed runner source in the build
// container: the binary answers with the change; a second Choose of the
// same source builds nothing; a source that does not compile is a failure
// with the compiler's words, told once.
func TestBuildChangedSource(t *testing.T) {
	d := gatewaytest.RequireDocker(t)
	home := paths.Home(t.TempDir())
	groupsRoot := home.Groups()
	src := filepath.Join(groupsRoot, "g", "runner-src")
	writeStock(t, src)
	uid := -1
	if os.Getuid() == 0 {
		uid = container.AgentUID
	}
	b := runnerbuild.New(runnerbuild.Config{Home: home, Groups: groupsRoot, Engine: d, UID: uid})
	ctx := context.Background()
	if c := b.Choose(ctx, "g"); c.State != runnerbuild.StateStock || c.Bin != "" {
		t.Fatalf("stock source: %+v", c)
	}
	edit(t, filepath.Join(src, "echo.go"), `Text: "echo: " + text}`, `Text: "custom: " + text}`)
	c := b.Choose(ctx, "g")
	if c.State != runnerbuild.StateBuilt || c.Bin == "" || c.Took == 0 {
		t.Fatalf("changed source: %+v", c)
	}
	t.Logf("first build of a changed source: %v", c.Took)
	// The build is berth-runner, toolbox and all: asked under the
	// toolbox's name, it lists its commands.
	cmd := exec.Command(c.Bin, "--list")
	cmd.Args[0] = "berth-toolbox"
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sh") {
		t.Fatalf("run the build: %v: %s", err, out)
	}
	again := b.Choose(ctx, "g")
	if again.State != runnerbuild.StateBuilt || again.Bin != c.Bin || again.Took != 0 {
		t.Fatalf("unchanged changed source rebuilt: %+v", again)
	}
	// A small change rebuilds from the group's warm cache.
	edit(t, filepath.Join(src, "echo.go"), `Text: "custom: " + text}`, `Text: "custom2: " + text}`)
	small := b.Choose(ctx, "g")
	if small.State != runnerbuild.StateBuilt || small.Bin == c.Bin || small.Took == 0 {
		t.Fatalf("small change: %+v", small)
	}
	if _, err := os.Stat(c.Bin); !os.IsNotExist(err) {
		t.Fatalf("the older build was kept: %v", err)
	}
	t.Logf("a small change (warm cache): %v", small.Took)
	edit(t, filepath.Join(src, "echo.go"), `Text: "custom2: " + text}`, `Text: "custom: " + text + undefinedName}`)
	bad := b.Choose(ctx, "g")
	if bad.State != runnerbuild.StateFailed || bad.Bin != "" || !bad.Tell || !strings.Contains(bad.Problem, "undefinedName") {
		t.Fatalf("broken source: %+v", bad)
	}
	t.Logf("a failed build (warm cache): %v", bad.Took)
	if twice := b.Choose(ctx, "g"); twice.State != runnerbuild.StateFailed || twice.Tell || twice.Took != 0 {
		t.Fatalf("broken source told or built twice: %+v", twice)
	}
}

func writeStock(t *testing.T, dir string) {
	t.Helper()
	for name, b := range runnerbuild.Stock() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
