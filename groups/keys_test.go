package groups_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
)

var testInstall = groups.Install{Provider: groups.DefaultProvider, Image: "berth-agent:latest", ClaudeImage: "berth-agent-claude:latest",
	Images: []string{"berth-agent:latest", "berth-agent-claude:latest", "team-image:1"}}

// TestSet: what a person writes is stored as the typed configuration
// reads it (sizes as bytes or MiB, CPUs as nano_cpus, durations as
// strings), and reads back as written; a bad value is a *KeyError naming
// the key and what is allowed, and the row is unchanged.
func TestSet(t *testing.T) {
	tests := []struct {
		set     string
		stored  string // container_config after, or the refusal's text
		refused bool
		show    string // the key's effective value after
	}{
		{"memory=2g", `{"memory":2147483648}`, false, "2g"},
		{"memory=512m", `{"memory":536870912}`, false, "512m"},
		{"memory=1.5g", `{"memory":1610612736}`, false, "1536m"},
		{"memory=1073741824", `{"memory":1073741824}`, false, "1g"},
		{"memory=1000000", `{"memory":1000000}`, true, "memory=1000000 is refused: below the least the engine accepts, 6m; allowed: a size such as 2g or 512m (or bytes), at least 6m"},
		{"memory=-1g", "", true, "memory=-1g is refused: not a size"},
		{"memory=lots", "", true, "memory=lots is refused: not a size; allowed: a size such as 2g or 512m"},
		{"cpus=1.5", `{"nano_cpus":1500000000}`, false, "1.5"},
		{"cpus=0.25", `{"nano_cpus":250000000}`, false, "0.25"},
		{"cpus=0", "", true, "cpus=0 is refused: not a number of CPUs; allowed: a number of CPUs such as 1.5"},
		{"cpus=NaN", "", true, "cpus=NaN is refused"},
		{"pids=512", `{"pids":512}`, false, "512"},
		{"pids=0", "", true, "pids=0 is refused: not a positive whole number"},
		{"idle_timeout=10m", `{"idle_timeout":"10m"}`, false, "10m"},
		{"turn_timeout=90s", `{"turn_timeout":"1m30s"}`, false, "1m30s"},
		{"stuck_timeout=2h", `{"stuck_timeout":"2h"}`, false, "2h"},
		{"stuck_timeout=soon", "", true, "stuck_timeout=soon is refused: not a positive duration; allowed: a positive duration such as 90s"},
		{"daily_budget_tokens=100000", `{"daily_budget_tokens":100000}`, false, "100000"},
		{"daily_budget_tokens=-5", "", true, "daily_budget_tokens=-5 is refused"},
		{"permission_mode=plan", `{"permission_mode":"plan"}`, false, "plan"},
		{"permission_mode=yolo", "", true, "allowed: one of acceptEdits, auto, bypassPermissions, default, dontAsk, manual, plan"},
		{"image=team-image:1", `{"image":"team-image:1"}`, false, "team-image:1"},
		{"image=evil:1", "", true, "image=evil:1 is refused: not one of berth-agent:latest, berth-agent-claude:latest, team-image:1"},
		{"provider=openai", `{}`, false, "openai"},
		{"provider=gpt", "", true, "provider=gpt is refused: not a provider berth knows; allowed: one of echo, anthropic, openai, claude"},
		{"model=gpt-4o-mini", `{}`, false, "gpt-4o-mini"},
		{"model=two words", "", true, "model=two words is refused: not a model name"},
		{"model=xoxb-123-456-abc", "", true, "looks like a credential"},
		{"disk_quota_mb=2g", `{"disk_quota_mb":2048}`, false, "2g"},
		{"disk_quota_mb=100k", "", true, "disk_quota_mb=100k is refused: less than 1m"},
		{"max_file_bytes=5m", `{"max_file_bytes":5242880}`, false, "5m"},
		{"max_files_per_message=3", `{"max_files_per_message":3}`, false, "3"},
		{"memory=", "", true, "memory= is refused: empty (use unset for the default)"},
		{"nosuch=1", "", true, "nosuch is not a setting berth knows (known: provider, model"},
		{"nano_cpus=1", "", true, "nano_cpus is not a setting berth knows"},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			g := data.AgentGroup{Folder: "team", ContainerConfig: "{}"}
			as, err := groups.ParseAssignments([]string{tt.set})
			if err != nil {
				t.Fatal(err)
			}
			out, chs, err := groups.Set(g, as, testInstall)
			if tt.refused {
				var ke *groups.KeyError
				if !errors.As(err, &ke) || !strings.Contains(err.Error(), tt.show) {
					t.Fatalf("Set(%s) = %v, want a *KeyError with %q", tt.set, err, tt.show)
				}
				if out != g || chs != nil {
					t.Errorf("a refused Set changed the row: %+v %v", out, chs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set(%s): %v", tt.set, err)
			}
			if out.ContainerConfig != tt.stored {
				t.Errorf("container_config = %s, want %s", out.ContainerConfig, tt.stored)
			}
			if _, err := groups.LoadConfig(out); err != nil {
				t.Errorf("the row Set wrote is refused by LoadConfig: %v", err)
			}
			key := as[0].Key
			if len(chs) != 1 || chs[0].Key != key || chs[0].From != "" || chs[0].To != tt.show {
				t.Errorf("changes = %+v, want %s → %s", chs, key, tt.show)
			}
			ss, err := groups.Effective(out, testInstall)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if s.Key == key && (s.Value != tt.show || s.Source != groups.SourceGroup) {
					t.Errorf("%s = %s (%s), want %s (group)", key, s.Value, s.Source, tt.show)
				}
			}
		})
	}
}

// TestOldRowsReadTheSame: a row written before the registry (bytes,
// nano_cpus, keys it does not name such as network) is shown in the
// human units, and a set or unset keeps every other key as it was.
func TestOldRowsReadTheSame(t *testing.T) {
	g := data.AgentGroup{Folder: "old", ContainerConfig: `{"network":"none","memory":536870912,"nano_cpus":2500000000,"idle_timeout":"1h30m0s"}`}
	ss, err := groups.Effective(g, testInstall)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range ss {
		got[s.Key] = s.Value + " " + string(s.Source)
	}
	for k, want := range map[string]string{"memory": "512m group", "cpus": "2.5 group", "idle_timeout": "1h30m group", "pids": "256 default"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	out, _, err := groups.Set(g, []groups.Assignment{{Key: "pids", Value: "64"}}, testInstall)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"idle_timeout":"1h30m0s","memory":536870912,"nano_cpus":2500000000,"network":"none","pids":64}`; out.ContainerConfig != want {
		t.Errorf("after set: %s, want %s", out.ContainerConfig, want)
	}
	out, chs, err := groups.Unset(out, []string{"cpus", "memory"}, testInstall)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"idle_timeout":"1h30m0s","network":"none","pids":64}`; out.ContainerConfig != want {
		t.Errorf("after unset: %s, want %s", out.ContainerConfig, want)
	}
	if fmt.Sprint(chs) != "[{memory 512m } {cpus 2.5 }]" {
		t.Errorf("changes %v", chs)
	}
	// A row the typed configuration refuses is repaired by unsetting the
	// key it names; it cannot be shown meanwhile.
	bad := data.AgentGroup{Folder: "bad", ContainerConfig: `{"memory":-1,"pids":8}`}
	if _, err := groups.Effective(bad, testInstall); err == nil {
		t.Fatal("a refused row was shown")
	}
	if _, _, err := groups.Set(bad, []groups.Assignment{{Key: "pids", Value: "9"}}, testInstall); err == nil ||
		!strings.Contains(err.Error(), "memory") {
		t.Errorf("a set that leaves the bad key: %v, want a refusal naming memory", err)
	}
	fixed, chs, err := groups.Unset(bad, []string{"memory"}, testInstall)
	if err != nil || fixed.ContainerConfig != `{"pids":8}` || fmt.Sprint(chs) != "[{memory -1 }]" {
		t.Errorf("unset of the bad key: %q, %v, %v", fixed.ContainerConfig, chs, err)
	}
	// The same value written again is no change.
	same := data.AgentGroup{Folder: "same", ContainerConfig: `{"idle_timeout":"10m0s"}`}
	if _, chs, err := groups.Set(same, []groups.Assignment{{Key: "idle_timeout", Value: "600s"}}, testInstall); err != nil || len(chs) != 0 {
		t.Errorf("the same duration again: %v, %v", chs, err)
	}
}

// TestEffectiveSources: each value says whether it is berth's default,
// the install's (the operator's flags, variables or config file) or the
// group's own.
func TestEffectiveSources(t *testing.T) {
	in := testInstall
	in.Provider, in.ProviderFrom, in.IdleTimeout, in.Image, in.ImageSet = "anthropic", "ANTHROPIC_API_KEY is set", 30*time.Minute, "my-agent:2", true
	g := data.AgentGroup{Folder: "team", Model: "claude-x", ContainerConfig: `{"pids":64}`}
	ss, err := groups.Effective(g, in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range ss {
		got[s.Key] = s.Value + " " + string(s.Source)
	}
	for k, want := range map[string]string{
		"provider": "anthropic install", "idle_timeout": "30m install", "image": "my-agent:2 install",
		"model": "claude-x group", "pids": "64 group", "memory": "1g default", "turn_timeout": "15m default",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	// The claude provider's default image is the claude image.
	g.Provider = "claude"
	ss, _ = groups.Effective(g, testInstall)
	for _, s := range ss {
		if s.Key == "image" && s.Value != "berth-agent-claude:latest" {
			t.Errorf("claude's image = %s", s.Value)
		}
	}
	if len(ss) != len(groups.Keys) {
		t.Errorf("%d settings for %d keys", len(ss), len(groups.Keys))
	}
}

// TestSetMounts: mounts are checked against the operator's allowlist when
// set, with the allowlist's own reason; a request inside an allowed root
// is stored.
func TestSetMounts(t *testing.T) {
	root := t.TempDir()
	data1 := filepath.Join(root, "data")
	if err := os.Mkdir(data1, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	list := filepath.Join(t.TempDir(), "allow.json")
	if err := os.WriteFile(list, []byte(fmt.Sprintf(`{"roots":[{"path":%q,"allow_read_write":false}]}`, root)), 0o600); err != nil {
		t.Fatal(err)
	}
	allow, err := mounts.Load(list)
	if err != nil {
		t.Fatal(err)
	}
	in := testInstall
	in.Allowlist = allow
	g := data.AgentGroup{Folder: "team", ContainerConfig: "{}"}
	tests := []struct{ value, want string }{
		{data1 + ":data", `{"mounts":[{"host_path":"` + data1 + `","container_path":"data","read_write":false}]}`},
		{data1 + ":data:rw", `{"mounts":[{"host_path":"` + data1 + `","container_path":"data","read_write":true}]}`},
		{`[{"host_path":"` + data1 + `","container_path":"d"}]`, `{"mounts":[{"host_path":"` + data1 + `","container_path":"d","read_write":false}]}`},
		{outside + ":x", "refused: mount " + fmt.Sprintf("%q", outside) + " refused: not inside any allowed root"},
		{data1 + ":../etc", "container path"},
		{"relative:x", "host path must be absolute"},
		{data1, "is not host_path:container_path[:rw]"},
	}
	for _, tt := range tests {
		out, _, err := groups.Set(g, []groups.Assignment{{Key: "mounts", Value: tt.value}}, in)
		got := out.ContainerConfig
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("mounts=%s: %s, want %s", tt.value, got, tt.want)
		}
	}
	if _, _, err := groups.Set(g, []groups.Assignment{{Key: "mounts", Value: data1 + ":data"}}, testInstall); err == nil ||
		!strings.Contains(err.Error(), "no mount allowlist") {
		t.Errorf("without an allowlist: %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite README.md's table of group keys from groups.Keys")

// TestREADMEKeys: README's table of a group's keys is the registry's,
// every key with its default and what it allows (go test -update
// rewrites it).
func TestREADMEKeys(t *testing.T) {
	const begin, end = "<!-- group keys: generated from groups.Keys by go test ./groups -update -->\n", "<!-- end of group keys -->\n"
	var b strings.Builder
	b.WriteString("| key | default | what | values |\n|---|---|---|---|\n")
	for _, k := range groups.Keys {
		def, _ := k.Default(groups.Install{Provider: groups.DefaultProvider, Image: "berth-agent:latest"})
		switch k.Name {
		case "provider":
			def = "`--provider`, else the one whose API key is set, else `echo`"
		case "image":
			def = "`--image` (`berth-agent:latest`; the claude image for `claude`)"
		case "idle_timeout":
			def = "`--idle-timeout` (`" + def + "`)"
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, def, k.Doc, strings.ReplaceAll(k.Allowed, "|", `\|`))
	}
	table := b.String()
	path := filepath.Join("..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no table of group keys between %q and %q", begin, end)
	}
	if *update {
		if err := os.WriteFile(path, []byte(before+begin+table+end+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, _, _ := strings.Cut(rest, end); got != table {
		t.Errorf("README.md's table of group keys is not groups.Keys'; run go test ./groups -run TestREADMEKeys -update\ngot:\n%s\nwant:\n%s", got, table)
	}
	for _, k := range groups.Keys {
		if !strings.Contains(table, "| `"+k.Name+"` |") {
			t.Errorf("key %s is missing", k.Name)
		}
	}
}
