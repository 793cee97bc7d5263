package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"runtime/debug"
	"strings"
)

// Module is the berth module's path, as go.mod declares it.
const Module = "github.com/berth-dev/berth"

// ErrNoSource is returned when neither a berth source tree nor a released
// version of the running binary can give the runner's source.
var ErrNoSource = errors.New("berth source not found: run in a clone of berth, install a released version (go install " + Module + "/cmd/berth@latest), or give a prebuilt static runner with --runner-bin")

// RunnerSource finds the source the agent runner is compiled from: the
// berth source tree at or above dir, or else, for a binary installed with
// `go install …@version`, that same version of the module, which the go
// command fetches into (or finds in) its module cache. Either way the
// runner is built from exactly the source its host binary came from.
func RunnerSource(ctx context.Context, dir string) (string, error) {
	if src, err := SourceDir(dir); err == nil {
		return src, nil
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ErrNoSource
	}
	return moduleDir(ctx, bi.Main)
}

// moduleDir is the module cache folder of m, a released berth version.
func moduleDir(ctx context.Context, m debug.Module) (string, error) {
	if m.Path != Module || m.Version == "" || m.Version == "(devel)" {
		return "", ErrNoSource
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", m.Path+"@"+m.Version)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct{ Dir, Error string }
	if jerr := json.Unmarshal(stdout.Bytes(), &got); jerr == nil && got.Error != "" {
		return "", fmt.Errorf("fetch the runner's source (%s@%s): %s", m.Path, m.Version, got.Error)
	}
	if err != nil {
		return "", fmt.Errorf("fetch the runner's source (%s@%s): %w: %s", m.Path, m.Version, err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	if got.Dir == "" {
		return "", fmt.Errorf("fetch the runner's source (%s@%s): the go command named no folder", m.Path, m.Version)
	}
	return got.Dir, nil
}
