package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGroupsCreateConfig: `berth groups create --config` is checked with
// the parser every reader uses; a refused config names the field, exits 1
// and writes nothing: no row, no folder.
func TestGroupsCreateConfig(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"unknown", []string{"--config", `{"memroy":1073741824}`}, `"memroy" is not a setting berth knows`},
		{"negative", []string{"--config", `{"pids":-1}`}, `"pids" is -1; it must be a positive number`},
		{"host", []string{"--config", `{"network":"host"}`}, `"network" is "host"; agent containers never have a network`},
		{"duration", []string{"--config", `{"idle_timeout":"soon"}`}, `"idle_timeout" is "soon"`},
		{"shape", []string{"--config", `{"memory":"lots"}`}, `"memory" is not valid JSON of the expected shape`},
		{"json", []string{"--config", `{"pids":`}, "container_config is refused: it is not valid JSON"},
		{"provider", []string{"--provider", "bogus"}, `provider is refused: it is "bogus"`},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		err := run(context.Background(), append([]string{"groups", "create", tt.name, "--home", home}, tt.args...),
			strings.NewReader(""), &bytes.Buffer{}, &errb)
		msg := errb.String()
		if err != nil {
			msg += err.Error()
		}
		if code := exitCode(err); code != 1 || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: exit %d (%q), want 1 with %q", tt.name, code, msg, tt.want)
		}
		if _, err := os.Stat(filepath.Join(home, "groups", tt.name)); !os.IsNotExist(err) {
			t.Errorf("%s: a refused config left a folder (%v)", tt.name, err)
		}
	}
	var gs []groupJSON
	decode(t, home, &gs, "groups", "list")
	if len(gs) != 0 {
		t.Errorf("refused configs were written: %+v", gs)
	}

	ok(t, home, "groups", "create", "team", "--provider", "claude", "--config", "{\n \"pids\": 64, \"idle_timeout\": \"15m\", \"network\": \"none\"\n}")
	var g groupJSON
	decode(t, home, &g, "groups", "show", "team")
	if g.Provider != "claude" || g.ContainerConfig != `{"pids":64,"idle_timeout":"15m","network":"none"}` {
		t.Errorf("stored %q, %q", g.Provider, g.ContainerConfig)
	}
	ok(t, home, "groups", "create", "plain")
	decode(t, home, &g, "groups", "show", "plain")
	if g.ContainerConfig != "{}" {
		t.Errorf("without --config: %q", g.ContainerConfig)
	}
}
