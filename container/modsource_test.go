package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestRunnerSourcePrefersTheTree(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	got, err := RunnerSource(context.Background(), filepath.Join(wd, "toolbox"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Dir(wd); got != want {
		t.Errorf("RunnerSource from a folder of the tree = %q, want the tree %q", got, want)
	}
}

func TestModuleDirRefusesWhatIsNoRelease(t *testing.T) {
	for _, m := range []debug.Module{
		{Path: Module, Version: "(devel)"}, // go build or go run in a clone
		{Path: Module},
		{Path: "example.com/other", Version: "v1.0.0"}, // berth's packages inside another program
	} {
		if _, err := moduleDir(context.Background(), m); !errors.Is(err, ErrNoSource) {
			t.Errorf("moduleDir(%+v) = %v, want ErrNoSource", m, err)
		}
	}
}

// A version the module proxy cannot give is a clear error naming it, not
// a folder. GOPROXY=off keeps the test off the network.
func TestModuleDirNamesAnUnfetchableVersion(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOMODCACHE", t.TempDir())
	_, err := moduleDir(context.Background(), debug.Module{Path: Module, Version: "v0.0.0-20000101000000-000000000000"})
	if err == nil || errors.Is(err, ErrNoSource) {
		t.Fatalf("moduleDir of an unfetchable version = %v, want an error naming it", err)
	}
	t.Log(err)
}
