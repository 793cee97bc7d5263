package groups_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session/runner/agents"
	"github.com/berth-dev/berth/session/sessiondb"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name            string
		provider, model string
		config          string
		want            groups.Config
		field           string // refused, naming this field ("" with err: the JSON itself)
		err             string // in the message
	}{
		{name: "empty", config: ""},
		{name: "empty object", config: "{}"},
		{name: "null", config: "null"},
		{name: "every field", provider: "claude", model: "claude-sonnet-4-5", config: `{"image":"berth-agent:test","memory":67108864,"nano_cpus":500000000,"pids":64,
			"network":"none","idle_timeout":"15m","turn_timeout":"20m","stuck_timeout":"90s","mounts":[{"host_path":"/srv/data","container_path":"data","read_write":true}],
			"permission_mode":"plan","disk_quota_mb":20,"session_disk_quota_mb":5,"daily_budget_tokens":1000}`,
			want: groups.Config{Provider: "claude", Model: "claude-sonnet-4-5", Image: "berth-agent:test", Memory: 64 << 20, NanoCPUs: 5e8, Pids: 64,
				IdleTimeout: 15 * time.Minute, TurnTimeout: 20 * time.Minute, StuckTimeout: 90 * time.Second, Mounts: []mounts.Request{{HostPath: "/srv/data", ContainerPath: "data", ReadWrite: true}},
				PermissionMode: groups.PermissionPlan, DiskQuota: 20 << 20, SessionDiskQuota: 5 << 20, DailyBudgetTokens: 1000}},
		{name: "network unset", config: `{"network":""}`},
		{name: "null value", config: `{"memory":null}`},
		{name: "zero budget", config: `{"daily_budget_tokens":0}`},
		{name: "huge quota", config: `{"disk_quota_mb":9223372036854775807}`, want: groups.Config{DiskQuota: math.MaxInt64 >> 20 << 20}},
		{name: "least memory", config: `{"memory":6291456}`, want: groups.Config{Memory: groups.MinMemory}},
		{name: "file limits", config: `{"max_file_bytes":1048576,"max_files_per_message":2,"max_inbox_bytes":5242880}`,
			want: groups.Config{MaxFileBytes: 1 << 20, MaxFilesPerMessage: 2, MaxInboxBytes: 5 << 20}},

		{name: "unknown field", config: `{"pids":64,"memroy":1}`, field: "memroy", err: `"memroy" is not a setting berth knows`},
		{name: "unknown fields, first named", config: `{"zz":1,"aa":1}`, field: "aa"},
		{name: "case differs", config: `{"Network":"host"}`, field: "Network", err: "not a setting"},
		{name: "unknown mount field", config: `{"mounts":[{"host_path":"/srv","container_path":"x","rw":true}]}`, field: "mounts", err: `unknown field "rw"`},
		{name: "network host", config: `{"network":"host"}`, field: "network", err: `"network" is "host"; agent containers never have a network`},
		{name: "network bridge", config: `{"network":"bridge"}`, field: "network", err: `"network" is "bridge"`},
		{name: "network container", config: `{"network":"container:abc"}`, field: "network"},
		{name: "negative memory", config: `{"memory":-1}`, field: "memory", err: `"memory" is -1; it must be a positive number`},
		{name: "small memory", config: `{"memory":1024}`, field: "memory", err: "the least the engine accepts"},
		{name: "zero cpus", config: `{"nano_cpus":0}`, field: "nano_cpus", err: `"nano_cpus" is 0`},
		{name: "negative pids", config: `{"pids":-5}`, field: "pids", err: `"pids" is -5`},
		{name: "negative disk quota", config: `{"disk_quota_mb":-1}`, field: "disk_quota_mb"},
		{name: "zero session quota", config: `{"session_disk_quota_mb":0}`, field: "session_disk_quota_mb"},
		{name: "negative budget", config: `{"daily_budget_tokens":-1}`, field: "daily_budget_tokens", err: "0 (no budget) or more"},
		{name: "zero file size", config: `{"max_file_bytes":0}`, field: "max_file_bytes", err: `"max_file_bytes" is 0; it must be a positive number`},
		{name: "negative files", config: `{"max_files_per_message":-1}`, field: "max_files_per_message"},
		{name: "inbox as text", config: `{"max_inbox_bytes":"100MB"}`, field: "max_inbox_bytes", err: "a number of bytes"},
		{name: "bad duration", config: `{"idle_timeout":"soon"}`, field: "idle_timeout", err: `"idle_timeout" is "soon"; it must be a positive duration`},
		{name: "negative duration", config: `{"idle_timeout":"-5m"}`, field: "idle_timeout"},
		{name: "zero duration", config: `{"idle_timeout":"0s"}`, field: "idle_timeout"},
		{name: "duration as number", config: `{"idle_timeout":600}`, field: "idle_timeout", err: "not valid JSON of the expected shape"},
		{name: "bad turn timeout", config: `{"turn_timeout":"forever"}`, field: "turn_timeout", err: `"turn_timeout" is "forever"; it must be a positive duration`},
		{name: "zero turn timeout", config: `{"turn_timeout":"0s"}`, field: "turn_timeout"},
		{name: "negative stuck timeout", config: `{"stuck_timeout":"-1m"}`, field: "stuck_timeout", err: `"stuck_timeout" is "-1m"`},
		{name: "stuck timeout as number", config: `{"stuck_timeout":180}`, field: "stuck_timeout", err: "not valid JSON of the expected shape"},
		{name: "string limit", config: `{"pids":"many"}`, field: "pids", err: `"pids" is not valid JSON of the expected shape (a number): it is a string`},
		{name: "fractional limit", config: `{"memory":1.5e9}`, field: "memory"},
		{name: "permission mode", config: `{"permission_mode":"yolo"}`, field: "permission_mode", err: "the claude CLI knows acceptEdits"},
		{name: "relative host path", config: `{"mounts":[{"host_path":"srv","container_path":"x"}]}`, field: "mounts", err: "host path must be absolute"},
		{name: "escaping container path", config: `{"mounts":[{"host_path":"/srv","container_path":"../x"}]}`, field: "mounts", err: "container path"},
		{name: "not json", config: `{"pids":`, err: "container_config is refused: it is not valid JSON"},
		{name: "trailing data", config: `{} {}`, err: "not valid JSON"},
		{name: "not an object", config: `[1]`, err: "it is an array, not an object"},
		{name: "unknown provider", provider: "gpt", field: groups.FieldProvider, err: `this group's provider is refused: it is "gpt"`},
		{name: "control in model", model: "a\nb", field: groups.FieldModel, err: "this group's model is refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := groups.ParseConfig(tt.provider, tt.model, tt.config)
			refused := tt.field != "" || tt.err != ""
			if !refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !configEqual(got, tt.want) {
					t.Errorf("got %+v\nwant %+v", got, tt.want)
				}
				return
			}
			var ce *groups.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if ce.Field != tt.field || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v (field %q), want field %q and %q", err, ce.Field, tt.field, tt.err)
			}
			if tt.field != "" && tt.field != groups.FieldProvider && tt.field != groups.FieldModel &&
				!strings.HasPrefix(err.Error(), `this group's container_config is refused: "`+tt.field+`" `) {
				t.Errorf("err = %q, want it to start by naming %q", err, tt.field)
			}
			if !configEqual(got, groups.Config{}) {
				t.Errorf("a refused config returned %+v", got)
			}
		})
	}
}

func configEqual(a, b groups.Config) bool { return reflect.DeepEqual(a, b) }

// TestConfigDefaults: the defaults are the ones documented (README,
// docs/security.md and -h say these numbers).
func TestConfigDefaults(t *testing.T) {
	for _, tt := range []struct {
		name      string
		got, want int64
	}{
		{"DefaultIdleTimeout", int64(groups.DefaultIdleTimeout), int64(10 * time.Minute)},
		{"DefaultMemory", groups.DefaultMemory, 1 << 30},
		{"DefaultNanoCPUs", groups.DefaultNanoCPUs, 1e9},
		{"DefaultPids", groups.DefaultPids, 256},
		{"DefaultDiskQuota", groups.DefaultDiskQuota, 1 << 30},
		{"DefaultSessionDiskQuota", groups.DefaultSessionDiskQuota, 256 << 20},
		{"MinMemory", groups.MinMemory, 6 << 20},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	if !slices.Contains(groups.Providers, groups.DefaultProvider) {
		t.Errorf("DefaultProvider %q is not one of %v", groups.DefaultProvider, groups.Providers)
	}
	// An unset field is zero: the gateway's setting holds.
	c, err := groups.ParseConfig("", "", "{}")
	if err != nil || !configEqual(c, groups.Config{}) {
		t.Errorf("empty config: %+v, %v", c, err)
	}
}

// TestProvidersAreTheRunners: every provider a config may name is one the
// runner can start, and no other is.
func TestProvidersAreTheRunners(t *testing.T) {
	for _, p := range groups.Providers {
		if _, err := agents.NewProvider(p, "", "", sessiondb.Container{}); err != nil {
			t.Errorf("provider %q: %v", p, err)
		}
	}
	if _, err := agents.NewProvider("nosuch", "", "", sessiondb.Container{}); err == nil {
		t.Error("the runner accepts an unknown provider")
	}
}

// TestLoadConfigFromStore: a row read back from a real store, written
// unchecked as an older berth may have, is refused naming the field.
func TestLoadConfigFromStore(t *testing.T) {
	ctx := context.Background()
	store, err := data.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := data.AgentGroup{Name: "team", Folder: "team"}
	if err := store.CreateGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ config, field string }{
		{`{"network":"host"}`, "network"},
		{`{"pids":-1}`, "pids"},
		{`{"cpus":2}`, "cpus"},
		{`{"pids":64}`, ""},
	} {
		if err := store.UpdateGroupConfig(ctx, g.ID, "echo", "", tt.config); err != nil {
			t.Fatal(err)
		}
		row, err := store.Group(ctx, "team")
		if err != nil {
			t.Fatal(err)
		}
		_, err = groups.LoadConfig(row)
		var ce *groups.ConfigError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.config, err)
		case tt.field != "" && (!errors.As(err, &ce) || ce.Field != tt.field):
			t.Errorf("%s: %v, want a ConfigError naming %q", tt.config, err, tt.field)
		}
	}
}

// TestREADMEDefaults: README's table of settings says the defaults the
// code uses (the table of a group's keys is TestREADMEKeys').
func TestREADMEDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	idle := strings.TrimSuffix(groups.DefaultIdleTimeout.String(), "0s") // "10m"
	if row := fmt.Sprintf("| `--idle-timeout` | `%s` |", idle); !strings.Contains(string(b), row) {
		t.Errorf("README has no row starting %s", row)
	}
}

// FuzzParseConfig: whatever a row holds, the parser returns a config that
// keeps its promises or a *ConfigError, and never panics.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"", "{}", `{"network":"host"}`, `{"pids":-1,"memory":1e99}`, `{"mounts":[{"host_path":"/a","container_path":"b"}]}`,
		`{"idle_timeout":"1ns","Network":"bridge"}`, `{"memory":6291456,"disk_quota_mb":1}`, `[`, `null`} {
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, provider, config string) {
		c, err := groups.ParseConfig(provider, "", config)
		if err != nil {
			var ce *groups.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v is not a *ConfigError", err)
			}
			return
		}
		if c.Memory != 0 && c.Memory < groups.MinMemory || c.NanoCPUs < 0 || c.Pids < 0 || c.DiskQuota < 0 || c.SessionDiskQuota < 0 ||
			c.IdleTimeout < 0 || c.TurnTimeout < 0 || c.StuckTimeout < 0 || c.DailyBudgetTokens < 0 {
			t.Fatalf("accepted %q as %+v", config, c)
		}
		for _, m := range c.Mounts {
			if err := m.Validate(); err != nil {
				t.Fatalf("accepted a malformed mount %+v: %v", m, err)
			}
		}
	})
}

func TestFileLimits(t *testing.T) {
	for _, tc := range []struct {
		c           groups.Config
		file, inbox int64
		files       int
	}{
		{groups.Config{}, groups.DefaultMaxFileBytes, groups.DefaultMaxInboxBytes, groups.DefaultMaxFilesPerMessage},
		{groups.Config{MaxFileBytes: 5, MaxFilesPerMessage: 2, MaxInboxBytes: 9}, 5, 9, 2},
		{groups.Config{MaxFilesPerMessage: 1 << 40}, groups.DefaultMaxFileBytes, groups.DefaultMaxInboxBytes, 1000},
	} {
		file, files, inbox := tc.c.FileLimits()
		if file != tc.file || files != tc.files || inbox != tc.inbox {
			t.Errorf("%+v: limits %d, %d, %d; want %d, %d, %d", tc.c, file, files, inbox, tc.file, tc.files, tc.inbox)
		}
	}
	if groups.DefaultMaxFileBytes != 20<<20 || groups.DefaultMaxFilesPerMessage != 10 || groups.DefaultMaxInboxBytes != 100<<20 {
		t.Error("the documented defaults changed: update the README's table")
	}
}
