package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/berth-dev/berth/channels/slack"
)

// berth slack manifest prints the embedded manifest, byte for byte, and
// needs no configuration.
func TestSlackManifestCommand(t *testing.T) {
	t.Setenv("BERTH_HOME", t.TempDir())
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"slack", "manifest"}, nil, &out, &errb); err != nil {
		t.Fatalf("berth slack manifest: %v (%s)", err, errb.String())
	}
	if out.String() != slack.Manifest || !bytes.Contains(out.Bytes(), []byte("socket_mode_enabled: true")) {
		t.Fatalf("printed %q, want the manifest", out.String())
	}
	if err := run(context.Background(), []string{"slack", "manifest", "extra"}, nil, io.Discard, &errb); exitCode(err) != 2 {
		t.Fatalf("berth slack manifest extra: exit %d, want 2", exitCode(err))
	}
}
