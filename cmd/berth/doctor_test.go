package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/data/paths"
)

// doctorEnv points berth at fresh state and config folders with no channel
// credentials from the environment.
func doctorEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("BERTH_HOME", home)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, k := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_BOT_TOKEN", "BERTH_IMAGE", "BERTH_DOCKER_HOST"} {
		t.Setenv(k, "")
	}
	return home
}

func TestDoctorDockerUnreachable(t *testing.T) {
	doctorEnv(t)
	var out, errOut bytes.Buffer
	err := cmdDoctor(context.Background(), []string{"--docker-host", "unix:///tmp/nonexistent.sock"}, &out, &errOut)
	var ee exitError
	if !errors.As(err, &ee) || ee.code == 0 {
		t.Fatalf("err = %v, want a non-zero exit\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"FAIL  docker",
		"no Docker engine at unix:///tmp/nonexistent.sock",
		"fix: install Docker Engine (https://docs.docker.com/engine/install/) and start it, or set DOCKER_HOST to a running one",
		"skip  image",
		"ok    state",
		"ok    store       not created yet",
		"ok    allowlist",
		"disk",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestCheckTokens(t *testing.T) {
	const (
		bot     = "xoxb-1234567890-1234567890-abcdefABCDEF"
		app     = "xapp-1-A012345-1234567890-abcdef0123"
		discord = "MTEwMDAwMDAwMDAwMDAwMDAw.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"
	)
	tests := []struct {
		name     string
		cfg      config
		statuses string
		fix      string
	}{
		{"none", config{}, "ok", ""},
		{"slack ok", config{SlackBotToken: bot, SlackAppToken: app}, "ok", ""},
		{"slack app missing", config{SlackBotToken: bot}, "FAIL", "SLACK_APP_TOKEN"},
		{"slack swapped", config{SlackBotToken: app, SlackAppToken: bot}, "FAIL", "Bot User OAuth Token"},
		{"slack app wrong", config{SlackBotToken: bot, SlackAppToken: "xoxp-123456789012"}, "FAIL", "connections:write"},
		{"discord ok", config{DiscordToken: discord}, "ok", ""},
		{"discord wrong", config{DiscordToken: "not-a-token"}, "FAIL", "Developer Portal"},
		{"both", config{SlackBotToken: bot, SlackAppToken: app, DiscordToken: discord}, "ok ok", ""},
	}
	for _, tt := range tests {
		rs := checkTokens(tt.cfg)
		var statuses, text []string
		for _, r := range rs {
			statuses = append(statuses, r.status)
			text = append(text, r.detail, r.fix)
		}
		if strings.Join(statuses, " ") != tt.statuses {
			t.Errorf("%s: statuses %v, want %s", tt.name, statuses, tt.statuses)
		}
		all := strings.Join(text, " ")
		if tt.fix != "" && !strings.Contains(all, tt.fix) {
			t.Errorf("%s: no %q in %q", tt.name, tt.fix, all)
		}
		for _, secret := range []string{bot, app, discord, "not-a-token"} {
			if strings.Contains(all, secret) {
				t.Errorf("%s: a token is printed", tt.name)
			}
		}
	}
}

func TestCheckAllowlist(t *testing.T) {
	home := t.TempDir()
	projects := t.TempDir()
	hd, _ := os.UserHomeDir()
	tests := []struct {
		name   string
		body   string // "" means no file
		mode   os.FileMode
		status string
		detail string
	}{
		{"missing", "", 0o600, checkOK, "no extra mounts"},
		{"fine", `{"roots":[{"path":"` + projects + `","allow_read_write":true}]}`, 0o600, checkOK, "1 allowed roots"},
		{"not json", `{"roots": [`, 0o600, checkFail, "mount allowlist"},
		{"relative", `{"roots":[{"path":"projects"}]}`, 0o600, checkFail, "not an absolute path"},
		{"root", `{"roots":[{"path":"/"}]}`, 0o600, checkFail, "whole disk"},
		{"state folder", `{"roots":[{"path":"` + home + `"}]}`, 0o600, checkFail, "berth's state"},
		{"ssh", `{"roots":[{"path":"` + filepath.Join(hd, ".ssh") + `"}]}`, 0o600, checkFail, ".ssh"},
		{"missing root", `{"roots":[{"path":"/nonexistent/projects"}]}`, 0o600, checkWarn, "does not exist"},
		{"world writable", `{"roots":[]}`, 0o666, checkFail, "writable by others"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "mount-allowlist.json")
		if tt.body != "" {
			os.WriteFile(path, []byte(tt.body), 0o600)
			os.Chmod(path, tt.mode)
		}
		r := checkAllowlist(path, home)
		if r.status != tt.status || !strings.Contains(r.detail, tt.detail) {
			t.Errorf("%s: %s %q, want %s with %q", tt.name, r.status, r.detail, tt.status, tt.detail)
		}
		if (r.status == checkFail || r.status == checkWarn) && r.fix == "" {
			t.Errorf("%s: no fix", tt.name)
		}
	}
}

func TestCheckStore(t *testing.T) {
	home := t.TempDir()
	if r := checkStore(context.Background(), home); r.status != checkOK || !strings.Contains(r.detail, "not created") {
		t.Fatalf("no store: %+v", r)
	}
	if _, err := os.Stat(paths.Home(home).Store()); err == nil {
		t.Fatal("doctor created the store")
	}
	os.WriteFile(paths.Home(home).Store(), []byte("this is not a database, just text that is long enough"), 0o600)
	if r := checkStore(context.Background(), home); r.status != checkFail || r.fix == "" {
		t.Fatalf("damaged store: %+v", r)
	}
}

func TestCheckStateFolderNotWritable(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root can write anywhere")
	}
	home := t.TempDir()
	os.Chmod(home, 0o500)
	defer os.Chmod(home, 0o700)
	if r := checkStateFolder(home); r.status != checkFail || !strings.Contains(r.fix, "BERTH_HOME") {
		t.Fatalf("%+v", r)
	}
}

func TestDoctorRefusedToken(t *testing.T) {
	doctorEnv(t)
	fake := slacktest.New(t)
	const bot = "xoxb-invalid-0123456789abcdef"
	t.Setenv("SLACK_BOT_TOKEN", bot)
	t.Setenv("SLACK_APP_TOKEN", "xapp-1-A1-0123456789abcdef")
	t.Setenv("SLACK_API_URL", fake.URL())
	var out, errOut bytes.Buffer
	err := cmdDoctor(context.Background(), []string{"--docker-host", "unix:///tmp/nonexistent.sock"}, &out, &errOut)
	got := out.String()
	if err == nil || !strings.Contains(got, "FAIL  slack auth") || !strings.Contains(got, "SLACK_BOT_TOKEN") {
		t.Fatalf("err = %v\n%s", err, got)
	}
	if strings.Contains(got+errOut.String(), bot) {
		t.Fatal("doctor printed the token")
	}
}
