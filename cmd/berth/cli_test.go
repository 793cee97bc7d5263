package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
)

// cmdLogs runs `berth logs args` as the command line would.
func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, append([]string{"logs"}, args...), nil, stdout, stderr)
}

// cmdDoctor runs `berth doctor args` as the command line would.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, append([]string{"doctor"}, args...), nil, stdout, stderr)
}

// TestSettingPrecedence checks a setting comes from its flag, else its
// BERTH_* variable, else $BERTH_HOME/config, else its default; and that a
// variable set to "" hides the file's line.
func TestSettingPrecedence(t *testing.T) {
	tests := []struct {
		name string
		flag string // --image, if not ""
		env  *string
		file string // the config file's BERTH_IMAGE line, if not ""
		want string
	}{
		{"default", "", nil, "", container.DefaultImage},
		{"file", "", nil, "file:1", "file:1"},
		{"env over file", "", ptr("env:1"), "file:1", "env:1"},
		{"flag over env and file", "flag:1", ptr("env:1"), "file:1", "flag:1"},
		{"flag over file", "flag:1", nil, "file:1", "flag:1"},
		{"empty env hides file", "", ptr(""), "file:1", container.DefaultImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if tt.env != nil {
				t.Setenv("BERTH_IMAGE", *tt.env)
			} else {
				unsetenv(t, "BERTH_IMAGE")
			}
			if tt.file != "" {
				writeConfig(t, home, "# test\nexport BERTH_IMAGE='"+tt.file+"'\n")
			}
			c := &commandLine{stderr: io.Discard}
			fs := c.flagSet("test")
			var cfg config
			cfg.settings(fs, flagHome, flagImage)
			args := []string{"--home", home}
			if tt.flag != "" {
				args = append(args, "--image", tt.flag)
			}
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := cfg.resolve(fs); err != nil {
				t.Fatal(err)
			}
			if cfg.Image != tt.want {
				t.Errorf("image = %q, want %q", cfg.Image, tt.want)
			}
		})
	}
}

// TestAdminReadsConfigFile checks the operator commands resolve their
// settings like the gateway's: BERTH_HOME from the environment, and
// $BERTH_HOME/config read (here, a bad line in it is reported).
func TestAdminReadsConfigFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("BERTH_HOME", home)
	writeConfig(t, home, "BERTH_DOCKER_HOST\n")
	var errb bytes.Buffer
	err := run(context.Background(), []string{"sessions", "list"}, nil, io.Discard, &errb)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), paths.Home(home).Config()+":1: expected KEY=VALUE") {
		t.Errorf("sessions list with a bad config file: exit %d, %v", exitCode(err), err)
	}
	writeConfig(t, home, "")
	ok(t, home, "groups", "create", "team")
	store := openHome(t, home)
	ctx := context.Background()
	g, err := store.Group(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	mg, err := store.EnsureMessagingGroup(ctx, "slack", "C1", "", false)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := store.ResolveSession(ctx, data.SessionKey{AgentGroupID: g.ID, MessagingGroupID: mg.ID, Mode: data.SessionShared})
	if err != nil {
		t.Fatal(err)
	}
	// sessions stop takes the Docker engine from the config file, as the
	// gateway does (it used to read only --docker-host).
	const sock = "/nonexistent/berth-test-docker.sock"
	unsetenv(t, "BERTH_DOCKER_HOST")
	writeConfig(t, home, "BERTH_DOCKER_HOST=unix://"+sock+"\n")
	err = run(ctx, []string{"sessions", "stop", s.ID, "--home", home}, nil, io.Discard, io.Discard)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), sock) {
		t.Errorf("sessions stop: exit %d, %v; want 1 naming %s", exitCode(err), err, sock)
	}
}

// TestCredentialsFromFile checks the channel tokens are read from the
// environment, else from $BERTH_HOME/config, and kept for redaction.
func TestCredentialsFromFile(t *testing.T) {
	home := t.TempDir()
	unsetenv(t, "SLACK_BOT_TOKEN")
	t.Setenv("SLACK_APP_TOKEN", "xapp-env")
	writeConfig(t, home, "SLACK_BOT_TOKEN=xoxb-file\nSLACK_APP_TOKEN=xapp-file\n")
	c := &commandLine{stderr: io.Discard}
	fs := c.flagSet("test")
	var cfg config
	cfg.settings(fs, flagHome)
	if err := fs.Parse([]string{"--home", home}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.resolve(fs); err != nil {
		t.Fatal(err)
	}
	if cfg.SlackBotToken != "xoxb-file" || cfg.SlackAppToken != "xapp-env" {
		t.Errorf("tokens = %q, %q; want the file's bot token and the environment's app token", cfg.SlackBotToken, cfg.SlackAppToken)
	}
	if cfg.AnthropicURL != "https://api.anthropic.com" {
		t.Errorf("anthropic url = %q", cfg.AnthropicURL)
	}
	secrets := strings.Join(secretValues(cfg), " ")
	if !strings.Contains(secrets, "xoxb-file") {
		t.Errorf("secretValues lacks the file's token: %q", secrets)
	}
}

// TestCommandHelp checks -h lists a command's flags with their defaults,
// and the environment variable of each setting (an option has none).
func TestCommandHelp(t *testing.T) {
	var errb bytes.Buffer
	err := run(context.Background(), []string{"chat", "-h"}, nil, io.Discard, &errb)
	if code := exitCode(err); code != 2 {
		t.Errorf("chat -h: exit %d, want 2", code)
	}
	help := errb.String()
	for _, want := range []string{
		"usage: berth chat [flags]",
		"--idle-timeout duration",
		"(default 10m0s; env BERTH_IDLE_TIMEOUT)",
		`(default "` + container.DefaultImage + `"; env BERTH_IMAGE)`,
		"--home string",
		"env BERTH_HOME",
		"env BERTH_MAX_RUNNING",
		"--group string",
		`agent group to talk to (created if missing) (default "main")` + "\n",
		"-v\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("chat -h lacks %q:\n%s", want, help)
		}
	}
	errb.Reset()
	run(context.Background(), []string{"sessions", "stop", "-h"}, nil, io.Discard, &errb)
	for _, want := range []string{"usage: berth sessions stop", "--grace duration", "(default 5s)", "env BERTH_DOCKER_HOST", "--json"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("sessions stop -h lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestCommandLineMistakes checks what a mistake on the command line exits
// with and says.
func TestCommandLineMistakes(t *testing.T) {
	t.Setenv("BERTH_HOME", t.TempDir())
	tests := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"status", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"chat", "--idle-timeout", "soon"}, 2, "invalid value"},
		{[]string{"logs", "extra"}, 2, "expected no arguments"},
		{[]string{"doctor", "extra"}, 2, "usage: berth doctor"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{}, 2, "Usage:"},
		{[]string{"image"}, 2, "usage: berth image build [flags]"},
		{[]string{"discord", "invite"}, 2, "usage: berth discord invite-url"},
		{[]string{"groups", "list", "--home"}, 2, "flag needs an argument"},
		{[]string{"version"}, 0, ""},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		err := run(context.Background(), tt.args, nil, io.Discard, &errb)
		if code := exitCode(err); code != tt.code || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("berth %s: exit %d (%q), want %d with %q", strings.Join(tt.args, " "), code, errb.String(), tt.code, tt.want)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "berth groups <verb>") {
		t.Errorf("berth help: %v\n%s", err, out.String())
	}
}

// TestBadSettingFromEnvironment checks a setting's variable that does
// not parse is refused, naming the variable, with exit code 1.
func TestBadSettingFromEnvironment(t *testing.T) {
	t.Setenv("BERTH_HOME", t.TempDir())
	t.Setenv("BERTH_IDLE_TIMEOUT", "soon")
	err := run(context.Background(), []string{"discord", "invite-url"}, nil, io.Discard, io.Discard)
	if exitCode(err) != 1 || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "BERTH_IDLE_TIMEOUT") {
		t.Errorf("err = %v, want exit 1 naming BERTH_IDLE_TIMEOUT", err)
	}
}

func writeConfig(t *testing.T, home, text string) {
	t.Helper()
	if err := os.WriteFile(paths.Home(home).Config(), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// unsetenv unsets k for the test, restoring it after.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "") // registers the restore
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }
