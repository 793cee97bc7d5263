package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session/gateway"
)

// TestChatConfigSeesTheInstall: the gateway's !config is told what the
// install decides (its provider and why, the images it allows), so what
// chat shows and allows is what the session manager will run.
func TestChatConfigSeesTheInstall(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	var out channelstest.Buffer
	term := terminal.New(strings.NewReader("!config\n!config set image=extra:1 memory=64m\n!config set image=other:1\n"), &out, &out, false, "operator")
	cfg := config(t.TempDir(), rt, term)
	cfg.Provider, cfg.ProviderFrom, cfg.Images = "openai", "OPENAI_API_KEY is set", []string{"extra:1"}
	g, err := gateway.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.WireTerminal(context.Background(), "main"); err != nil {
		t.Fatal(err)
	}
	got := chat(t, g, term, &out)
	for _, w := range []string{"provider = openai (install)", "image = berth-agent:latest (default)",
		"image default → extra:1, memory default → 64m", "next container", "image=other:1 is refused: not one of berth-agent:latest, berth-agent-claude:latest, extra:1"} {
		if !strings.Contains(got, w) {
			t.Errorf("terminal lacks %q:\n%s", w, got)
		}
	}
	row, err := g.Store().Group(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	c, err := groups.LoadConfig(row)
	if err != nil || c.Image != "extra:1" || c.Memory != 64<<20 {
		t.Errorf("row %s: %+v, %v", row.ContainerConfig, c, err)
	}
	if rt.Started() != 0 {
		t.Errorf("commands started %d containers", rt.Started())
	}
}
