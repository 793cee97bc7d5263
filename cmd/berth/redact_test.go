package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/data/paths"
)

// secretCarrier prints its token when formatted, as a careless config
// struct would.
type secretCarrier struct{ Token string }

func (s secretCarrier) String() string { return "carrier with " + s.Token }

// TestNoSecretInAnyLogLine writes known tokens through every way a log
// line can carry them and checks neither the JSON file nor the stderr text
// holds any of them.
func TestNoSecretInAnyLogLine(t *testing.T) {
	home := t.TempDir()
	const (
		slackBot   = "xoxb-111111111-222222222-AbCdEfGhIjKlMnOp"
		slackApp   = "xapp-1-A0000000-1111111-deadbeefcafe"
		discord    = "MTEwMDAwMDAwMDAwMDAwMDAw.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"
		apiKey     = "sk-ant-api03-verysecretkeyvalue"
		customKey  = "plain-custom-key-0123456789"
		unknownTok = "xoxb-999999999-NOT-CONFIGURED-ANYWHERE"
	)
	t.Setenv("ANTHROPIC_API_KEY", apiKey)
	t.Setenv("MY_SERVICE_API_KEY", customKey)
	os.WriteFile(paths.Home(home).Config(), []byte("OTHER_TOKEN=dotenv-secret-value-42\n"), 0o600)
	cfg := config{Home: home, SlackBotToken: slackBot, SlackAppToken: slackApp, DiscordToken: discord}
	var stderr bytes.Buffer
	log, closeLog, err := newLogger(home, &stderr, true, secretValues(cfg))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{slackBot, slackApp, discord, apiKey, customKey, unknownTok, "dotenv-secret-value-42"}

	log.Info("connect with token " + slackBot)
	log.Info("connect", "token", slackApp, "channel", "slack")
	log.Error("auth failed", "err", fmt.Errorf("discord: %w", errors.New("401 for token "+discord)))
	log.With("key", apiKey).Warn("provider")
	log.Info("config", "cfg", cfg)
	log.Info("carrier", "c", secretCarrier{Token: customKey})
	log.Info("grouped", slog.Group("creds", "bot", slackBot, slog.Group("inner", "app", slackApp)))
	log.WithGroup("req").Info("header", "authorization", "Bearer "+unknownTok)
	log.Info("dotenv", "v", "dotenv-secret-value-42")
	log.Info("values", "list", []string{apiKey, "x"})
	closeLog()

	file, err := os.ReadFile(paths.Home(home).GatewayLog())
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"berth.log": string(file), "stderr": stderr.String()} {
		if n := strings.Count(out, "\n"); n != 10 {
			t.Errorf("%s has %d lines, want 10:\n%s", name, n, out)
		}
		for _, s := range all {
			if strings.Contains(out, s) {
				t.Errorf("%s contains secret %q:\n%s", name, s, out)
			}
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s shows no %s", name, redacted)
		}
	}
	if !strings.Contains(string(file), `"channel":"slack"`) {
		t.Errorf("ordinary attributes were lost:\n%s", file)
	}
}

func TestRedactorString(t *testing.T) {
	r := newRedactor([]string{"", "abc", "supersecretvalue", "supersecretvalue-longer"})
	tests := []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"abc is too short to be a secret", "abc is too short to be a secret"},
		{"key=supersecretvalue.", "key=[redacted]."},
		{"key=supersecretvalue-longer", "key=[redacted]"},
		{"xoxp-12345-abcdef and xoxb-1-2-3abc", "[redacted] and [redacted]"},
		{"sk-ant-api03-XYZ_abc-123", "[redacted]"},
		{"token xapp-1-AAAA-1234", "token [redacted]"},
		{"xoxb-", "xoxb-"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
