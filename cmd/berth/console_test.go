package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/console"
)

func TestConsoleToken(t *testing.T) {
	home := t.TempDir()
	tok, errOut, code := cli(t, home, "console", "token")
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, console.TokenPrefix) {
		t.Fatalf("first token: %q, exit %d\n%s", tok, code, errOut)
	}
	stored, err := os.ReadFile(paths.Home(home).ConsoleToken())
	if err != nil || strings.Contains(string(stored), tok) {
		t.Fatalf("the token file holds %q (%v), not only a hash", stored, err)
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"console", "token", "--home", home}, strings.NewReader(""), &out, io.Discard)
	if exitCode(err) != 1 || out.Len() != 0 || err == nil || !strings.Contains(err.Error(), "--rotate") {
		t.Errorf("second call: %v, stdout %q; want exit 1, nothing printed, the way to rotate", err, out.String())
	}
	again := strings.TrimSpace(ok(t, home, "console", "token", "--rotate"))
	if again == tok || !strings.HasPrefix(again, console.TokenPrefix) {
		t.Errorf("rotated token %q, want a new one", again)
	}
}

// TestHTTPAddrSetting: --http-addr is a setting, read from the
// environment and the config file like the others; --metrics-addr is kept.
func TestHTTPAddrSetting(t *testing.T) {
	home := t.TempDir()
	unsetenv(t, "BERTH_HTTP_ADDR")
	unsetenv(t, "BERTH_METRICS_ADDR")
	writeConfig(t, home, "BERTH_HTTP_ADDR=127.0.0.1:7777\nBERTH_METRICS_ADDR=127.0.0.1:7777\n")
	c := &commandLine{stderr: io.Discard}
	fs := c.flagSet("run")
	var cfg config
	cfg.settings(fs, gatewaySettings...)
	if err := fs.Parse([]string{"--home", home}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.resolve(fs); err != nil {
		t.Fatal(err)
	}
	g := gatewayConfig(cfg, nil, nil, nil)
	if g.HTTPAddr != "127.0.0.1:7777" || g.MetricsAddr != "127.0.0.1:7777" {
		t.Errorf("gateway listens at %q (metrics %q), want the config file's", g.HTTPAddr, g.MetricsAddr)
	}
}
