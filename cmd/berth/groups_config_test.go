package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

// TestGroupsConfig: `berth groups config` shows each key's value and where
// it comes from (the install's --provider, the group's own row, berth's
// default); set and unset change the row as the typed configuration reads
// it and record each change in the gateway log; a bad value or key exits 1
// naming the key and what it allows and changes nothing; a mistake on the
// command line exits 2.
func TestGroupsConfig(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ok(t, home, "groups", "create", "team")
	row := func() string {
		var g groupJSON
		decode(t, home, &g, "groups", "show", "team")
		return g.Provider + "|" + g.Model + "|" + g.ContainerConfig
	}
	settings := func(args ...string) map[string]string {
		t.Helper()
		var j groupConfigJSON
		decode(t, home, &j, append([]string{"groups", "config", "team", "--provider", "openai"}, args...)...)
		if j.Group != "team" || len(j.Settings) != len(groups.Keys) {
			t.Fatalf("config --json: %+v", j)
		}
		m := map[string]string{}
		for _, s := range j.Settings {
			m[s.Key] = s.Value + " " + string(s.Source)
		}
		return m
	}
	want := func(got map[string]string, kv ...string) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			if got[kv[i]] != kv[i+1] {
				t.Errorf("%s = %q, want %q", kv[i], got[kv[i]], kv[i+1])
			}
		}
	}
	want(settings(), "provider", "openai install", "memory", "1g default", "cpus", "1 default", "model", "(the provider's default) default")

	out := ok(t, home, "groups", "config", "team", "set", "memory=2g", "cpus=1.5", "pids=512", "turn_timeout=20m", "model=gpt-4o-mini")
	for _, w := range []string{"group team: model default → gpt-4o-mini, memory default → 2g", "next container of every session",
		"KEY", "memory", "2g", "group"} {
		if !strings.Contains(out, w) {
			t.Errorf("set's output lacks %q:\n%s", w, out)
		}
	}
	const stored = `|gpt-4o-mini|{"memory":2147483648,"nano_cpus":1500000000,"pids":512,"turn_timeout":"20m"}`
	if got := row(); got != stored {
		t.Fatalf("row = %s, want %s", got, stored)
	}
	want(settings(), "memory", "2g group", "cpus", "1.5 group", "pids", "512 group", "turn_timeout", "20m group", "model", "gpt-4o-mini group")

	for _, tt := range []struct {
		args []string
		code int
		msg  []string
	}{
		{[]string{"set", "memory=lots"}, 1, []string{"memory=lots is refused", "allowed: a size such as 2g or 512m"}},
		{[]string{"set", "pids=8", "cpus=-1"}, 1, []string{"cpus=-1 is refused", "allowed: a number of CPUs"}},
		{[]string{"set", "permission_mode=yolo"}, 1, []string{"acceptEdits, auto, bypassPermissions"}},
		{[]string{"set", "provider=gpt"}, 1, []string{"one of echo, anthropic, openai, claude"}},
		{[]string{"set", "image=evil:1"}, 1, []string{"image=evil:1 is refused: not one of berth-agent:latest"}},
		{[]string{"set", "memroy=1g"}, 1, []string{"memroy is not a setting berth knows", "known: provider, model"}},
		{[]string{"set", "model=sk-proj-abcdefghijklmnopqrstuvwxyz"}, 1, []string{"looks like a credential"}},
		{[]string{"set", "memory"}, 2, []string{`"memory" is not key=value`}},
		{[]string{"set"}, 2, []string{"set needs at least one key"}},
		{[]string{"frob", "x"}, 2, []string{`"frob": expected set or unset`}},
	} {
		stdout, stderr, code := cliErr(t, home, append([]string{"groups", "config", "team"}, tt.args...)...)
		for _, m := range tt.msg {
			if code != tt.code || !strings.Contains(stderr, m) {
				t.Errorf("%v: exit %d, stderr %q; want %d with %q", tt.args, code, stderr, tt.code, m)
			}
		}
		if stdout != "" {
			t.Errorf("%v: a refusal printed %q", tt.args, stdout)
		}
		if got := row(); got != stored {
			t.Fatalf("%v changed the row to %s", tt.args, got)
		}
	}
	if _, stderr, code := cliErr(t, home, "groups", "config", "nosuch"); code != 1 || !strings.Contains(stderr, `no agent group "nosuch"`) {
		t.Errorf("unknown group: exit %d, %q", code, stderr)
	}

	var j groupConfigJSON
	decode(t, home, &j, "groups", "config", "team", "unset", "memory", "model")
	if fmt.Sprint(j.Changed) != "[{model gpt-4o-mini } {memory 2g }]" || j.Note != groups.AppliesNext {
		t.Errorf("unset --json: changed %v, note %q", j.Changed, j.Note)
	}
	if got := row(); got != `||{"nano_cpus":1500000000,"pids":512,"turn_timeout":"20m"}` {
		t.Errorf("after unset: %s", got)
	}
	var none groupConfigJSON
	decode(t, home, &none, "groups", "config", "team", "unset", "memory")
	if len(none.Changed) != 0 || none.Note != "" || len(none.Settings) != len(groups.Keys) {
		t.Errorf("an unset that changes nothing: changed %v, note %q", none.Changed, none.Note)
	}

	// The gateway log has each change, who made it, from what to what.
	b, err := os.ReadFile(paths.Home(home).GatewayLog())
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, line := range strings.Split(string(b), "\n") {
		var rec struct{ Msg, User, Group, Key, From, To string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "group config changed" {
			if !strings.HasPrefix(rec.User, "cli:") {
				t.Errorf("change by %q, want cli:<user>", rec.User)
			}
			seen = append(seen, rec.Group+" "+rec.Key+" "+rec.From+"→"+rec.To)
		}
	}
	if got := strings.Join(seen, ", "); got != "team model →gpt-4o-mini, team memory →2g, team cpus →1.5, team pids →512, "+
		"team turn_timeout →20m, team model gpt-4o-mini→, team memory 2g→" {
		t.Errorf("logged: %s", got)
	}
	if strings.Contains(string(b), "sk-proj-") {
		t.Error("the log holds the credential-shaped value")
	}
}

// cliErr is cli with the returned error's text after stderr, as main
// prints it.
func cliErr(t *testing.T, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append(args, "--home", home), strings.NewReader(""), &out, &errb)
	msg := errb.String()
	if err != nil {
		msg += err.Error()
	}
	return out.String(), msg, exitCode(err)
}

// TestGroupsConfigMounts: a mount is checked against the operator's mount
// allowlist when it is set, not only when a container starts.
func TestGroupsConfigMounts(t *testing.T) {
	cfgHome, home := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgHome)
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	ok(t, home, "groups", "create", "team")
	if _, stderr, code := cliErr(t, home, "groups", "config", "team", "set", "mounts="+shared+":shared"); code != 1 ||
		!strings.Contains(stderr, "not inside any allowed root") {
		t.Fatalf("with an empty allowlist: exit %d, %q", code, stderr)
	}
	if err := os.MkdirAll(filepath.Join(cfgHome, "berth"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgHome, "berth", "mount-allowlist.json"),
		[]byte(fmt.Sprintf(`{"roots":[{"path":%q}]}`, root)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := ok(t, home, "groups", "config", "team", "set", "mounts="+shared+":shared")
	if !strings.Contains(out, "mounts default → "+shared+":shared") {
		t.Errorf("set mounts: %s", out)
	}
	if _, stderr, code := cliErr(t, home, "groups", "config", "team", "set", "mounts=/etc:etc"); code != 1 || !strings.Contains(stderr, "refused") {
		t.Errorf("mounts=/etc: exit %d, %q", code, stderr)
	}
}

// TestPickProvider: with no provider configured, the one model API whose
// key (or endpoint) is set is the install's provider, and why is said;
// anthropic is taken first when both are; nothing set is echo, said as
// echoes; a configured provider is kept.
func TestPickProvider(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		flag          string
		provider, why string
		line          string
	}{
		{"nothing", nil, "", "echo", "", "berth: provider: echo: replies are echoes of what is sent (no provider is configured"},
		{"anthropic key", map[string]string{"ANTHROPIC_API_KEY": "k1"}, "", "anthropic", "ANTHROPIC_API_KEY is set",
			"berth: provider: anthropic (ANTHROPIC_API_KEY is set)"},
		{"openai key", map[string]string{"OPENAI_API_KEY": "k2"}, "", "openai", "OPENAI_API_KEY is set", "berth: provider: openai (OPENAI_API_KEY is set)"},
		{"local openai server", map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "", "openai", "OPENAI_BASE_URL is set", "openai"},
		{"both", map[string]string{"ANTHROPIC_API_KEY": "k1", "OPENAI_API_KEY": "k2"}, "", "anthropic",
			"ANTHROPIC_API_KEY is set and OPENAI_API_KEY is set; anthropic is taken first, --provider or BERTH_PROVIDER chooses", "anthropic is taken first"},
		{"flag wins", map[string]string{"ANTHROPIC_API_KEY": "k1"}, "openai", "openai", providerConfigured, "berth: provider: openai (--provider"},
		{"variable wins", map[string]string{"ANTHROPIC_API_KEY": "k1", "BERTH_PROVIDER": "echo"}, "", "echo", providerConfigured,
			"berth: provider: echo (--provider, BERTH_PROVIDER or the config file names it): replies are echoes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "BERTH_PROVIDER"} {
				unsetenv(t, k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var cfg config
			cfg.settings(fs, flagHome, flagProvider)
			args := []string{"--home", t.TempDir()}
			if tt.flag != "" {
				args = append(args, "--provider", tt.flag)
			}
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := cfg.resolve(fs); err != nil {
				t.Fatal(err)
			}
			if cfg.Provider != tt.provider || cfg.ProviderWhy != tt.why {
				t.Errorf("provider %q (%q), want %q (%q)", cfg.Provider, cfg.ProviderWhy, tt.provider, tt.why)
			}
			if line := providerStartLine(cfg); !strings.Contains(line, tt.line) {
				t.Errorf("start line %q lacks %q", line, tt.line)
			}
		})
	}
}
