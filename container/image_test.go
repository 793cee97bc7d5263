package container

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/container/toolbox"
)

// A busybox that was named but is missing fails the build with its path,
// before anything else: the image is never quietly built without it.
func TestBuildImageMissingBusybox(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "busybox")
	err := (&Docker{}).BuildImage(context.Background(), "berth-agent:never", ImageSource{Runner: "/nonexistent/runner", Busybox: missing}, io.Discard)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("BuildImage with a missing busybox: %v", err)
	}
}

// The image builder starts the runner under toolbox.ListName without
// importing the toolbox (so the host binary does not link it).
func TestToolboxListName(t *testing.T) {
	if toolboxListName != toolbox.ListName {
		t.Fatalf("container starts the runner as %q to list its toolbox, but the toolbox answers to %q", toolboxListName, toolbox.ListName)
	}
}
