package container

import (
	"archive/tar"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"
)

// ClaudeImage is the tag of the agent image for the claude provider.
const ClaudeImage = "berth-agent-claude:latest"

//go:embed Dockerfile.claude
var claudeDockerfile []byte

// BuildClaudeImage builds the claude provider's image: Node and the Claude
// Code CLI (from a registry) plus the static runner. It fails on machines
// that cannot pull node:22-slim.
func (d *Docker) BuildClaudeImage(ctx context.Context, tag, runner string, progress io.Writer) error {
	bin, err := os.ReadFile(runner)
	if err != nil {
		return fmt.Errorf("build claude image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, f := range map[string]struct {
		b    []byte
		mode int64
	}{"Dockerfile": {claudeDockerfile, 0o644}, "berth-runner": {bin, 0o755}} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.b)), Typeflag: tar.TypeReg})
		tw.Write(f.b)
	}
	tw.Close()
	resp, err := d.cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, Version: build.BuilderV1,
		Labels: map[string]string{"berth.managed": "1"}})
	if err != nil {
		return fmt.Errorf("build claude image: %w", err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, progress, 0, false, nil); err != nil {
		return fmt.Errorf("build claude image %s (it needs a registry for node:22-slim): %w", tag, err)
	}
	return nil
}
