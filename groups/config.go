package groups

// A group's configuration.
//
// An agent group's settings live in its agent_groups row: the provider and
// model columns and container_config, a JSON object. ParseConfig is the one
// reader of all three: it refuses what no group may ask for, naming the
// field, and every part of berth (the session manager, the credential
// proxy's meter, the admin commands) works from the Config it returns.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/mounts"
)

// Defaults of the settings a group may set for itself, used where neither
// the operator nor the group's config sets one.
const (
	// DefaultIdleTimeout is how long a container without work keeps running.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultTurnTimeout is the longest a turn may take, whatever progress
	// it makes.
	DefaultTurnTimeout = 15 * time.Minute
	// DefaultStuckTimeout is the longest a turn may go without progress (a
	// stream event, a tool call starting or ending, a CLI output line).
	DefaultStuckTimeout = 3 * time.Minute
	// DefaultMemory is a container's memory limit, in bytes.
	DefaultMemory int64 = 1 << 30
	// DefaultNanoCPUs is a container's CPU limit, in billionths of a CPU.
	DefaultNanoCPUs int64 = 1e9
	// DefaultPids is how many processes a container may run at once.
	DefaultPids int64 = 256
	// DefaultDiskQuota is what a group folder may hold, in bytes.
	DefaultDiskQuota int64 = 1 << 30
	// DefaultSessionDiskQuota is what a session's out/ folder may hold, in bytes.
	DefaultSessionDiskQuota int64 = 256 << 20
	// DefaultMaxFileBytes is the largest file a person may attach that
	// berth fetches for the agent.
	DefaultMaxFileBytes int64 = 20 << 20
	// DefaultMaxFilesPerMessage is how many files of one message berth fetches.
	DefaultMaxFilesPerMessage = 10
	// DefaultMaxInboxBytes is what a session's in/inbox may hold.
	DefaultMaxInboxBytes int64 = 100 << 20
	// MinMemory is the smallest memory limit the engine accepts.
	MinMemory int64 = 6 << 20
)

// Providers are the agent providers the runner knows. "echo" is the test
// and demo provider.
var Providers = []string{"echo", "anthropic", "openai", "claude"}

// DefaultProvider is the provider of a group that names none, unless the
// operator sets another (--provider).
const DefaultProvider = "echo"

// PermissionMode is the claude CLI's --permission-mode.
type PermissionMode string

// The claude CLI's permission modes. Unset, the runner uses acceptEdits.
const (
	PermissionAcceptEdits       PermissionMode = "acceptEdits"
	PermissionAuto              PermissionMode = "auto"
	PermissionBypassPermissions PermissionMode = "bypassPermissions"
	PermissionDefault           PermissionMode = "default"
	PermissionDontAsk           PermissionMode = "dontAsk"
	PermissionManual            PermissionMode = "manual"
	PermissionPlan              PermissionMode = "plan"
)

var permissionModes = []PermissionMode{PermissionAcceptEdits, PermissionAuto, PermissionBypassPermissions,
	PermissionDefault, PermissionDontAsk, PermissionManual, PermissionPlan}

// Config is a group's configuration, validated. A zero field is one the
// group left unset: the gateway's setting (or the default above) holds.
// There is no network field: "none" is the only network an agent
// container has, and the only one a config may name.
type Config struct {
	Provider string // agent provider, one of Providers; "": the gateway's --provider
	Model    string // the provider's model; "": the provider's default
	Image    string // container image; "": the provider's default (the operator's allowlist is checked at spawn)
	Memory   int64  // bytes, at least MinMemory
	NanoCPUs int64  // 1e9 is one CPU
	Pids     int64
	// IdleTimeout stops the group's containers after this long without work.
	IdleTimeout time.Duration
	// TurnTimeout and StuckTimeout stop a turn that runs longer, or goes
	// without progress longer, than this; its messages fail, not retried.
	TurnTimeout  time.Duration
	StuckTimeout time.Duration
	// Mounts are extra mounts asked for, each well-formed; the operator's
	// mount allowlist decides at spawn which are granted.
	Mounts         []mounts.Request
	PermissionMode PermissionMode
	// DiskQuota and SessionDiskQuota are what the group folder and each
	// session's out/ folder may hold, in bytes. A group may set its own
	// but cannot switch the measurement off.
	DiskQuota        int64
	SessionDiskQuota int64
	// DailyBudgetTokens is how many model tokens the group may spend a
	// day (UTC); 0: no budget.
	DailyBudgetTokens int64
	// MaxFileBytes, MaxFilesPerMessage and MaxInboxBytes bound the files
	// people attach that berth fetches into a session's inbox: a file, the
	// files of one message, and all of a session's inbox.
	MaxFileBytes       int64
	MaxFilesPerMessage int64
	MaxInboxBytes      int64
	// MCPServers are the group's own MCP servers (mcp_servers), validated:
	// stdio commands inside the group folder, HTTP servers the credential
	// proxy lets the group's containers reach.
	MCPServers []MCPServer
	// Scheduled tasks (issue 16): Timezone is the IANA zone the group's
	// tasks are read and run in, and its containers' TZ ("": the host's);
	// MaxTasksPerConversation and MaxTasksPerGroup bound its active and
	// paused tasks; TaskGrace is how late a run may start after downtime
	// before it is recorded missed instead. Zero: the defaults.
	Timezone                string
	MaxTasksPerConversation int64
	MaxTasksPerGroup        int64
	TaskGrace               time.Duration
}

// FileLimits are the group's file limits, the defaults where unset.
func (c Config) FileLimits() (maxFile int64, maxFiles int, maxInbox int64) {
	maxFile, maxFiles, maxInbox = DefaultMaxFileBytes, DefaultMaxFilesPerMessage, DefaultMaxInboxBytes
	if c.MaxFileBytes > 0 {
		maxFile = c.MaxFileBytes
	}
	if c.MaxFilesPerMessage > 0 {
		maxFiles = int(min(c.MaxFilesPerMessage, 1000))
	}
	if c.MaxInboxBytes > 0 {
		maxInbox = c.MaxInboxBytes
	}
	return maxFile, maxFiles, maxInbox
}

// Field names of a group's configuration, as ConfigError reports them.
const (
	FieldProvider = "provider"
	FieldModel    = "model"
)

// ConfigError is a group configuration berth refuses. Field names the bad
// setting: a container_config key, or FieldProvider or FieldModel (the
// row's columns); it is empty when container_config is not a JSON object
// at all.
type ConfigError struct {
	Field  string
	Reason string // what is wrong, starting with a verb: `is "host"; …`
}

// Error implements error.
func (e *ConfigError) Error() string {
	switch e.Field {
	case "":
		return "this group's container_config is refused: " + e.Reason
	case FieldProvider, FieldModel:
		return fmt.Sprintf("this group's %s is refused: it %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("this group's container_config is refused: %q %s", e.Field, e.Reason)
}

// LoadConfig parses and validates a group's row.
func LoadConfig(g data.AgentGroup) (Config, error) {
	return ParseConfig(g.Provider, g.Model, g.ContainerConfig)
}

// maxModel bounds a model name; real ones are a few dozen bytes.
const maxModel = 200

// ParseConfig parses and validates a group's provider, model and
// container_config ("" is an empty object). It refuses unknown keys, a
// value of the wrong type, a network other than "none", a limit or quota
// that is not positive, a memory limit below MinMemory, an idle, turn or
// stuck timeout that is not a positive duration, an unknown permission
// mode, a negative budget, a file limit that is not positive, a
// malformed mount request and a malformed MCP server (checkMCPServers: a
// command outside the group folder, among others). The error is a *ConfigError
// naming the first bad field found: the provider, the model, a key berth
// does not know, a value of the wrong type, then the values, in the order
// of Config's fields.
func ParseConfig(provider, model, containerConfig string) (Config, error) {
	c := Config{Provider: provider, Model: model}
	if provider != "" && !slices.Contains(Providers, provider) {
		return Config{}, &ConfigError{FieldProvider, fmt.Sprintf("is %q; berth knows %s", truncate(provider, 64), strings.Join(Providers, ", "))}
	}
	if len(model) > maxModel || strings.ContainsFunc(model, unicode.IsControl) {
		return Config{}, &ConfigError{FieldModel, fmt.Sprintf("is %q; a model name is at most %d printable characters", truncate(model, 64), maxModel)}
	}
	raw, err := splitObject(containerConfig)
	if err != nil {
		return Config{}, err
	}
	var (
		network, idle, turn, stuck, mode               string
		memory, nanoCPUs, pids, diskQuotaMB, sessionMB *int64
		budget                                         *int64
		maxFile, maxFiles, maxInbox                    *int64
		maxTasksConv, maxTasks                         *int64
		taskGrace                                      string
	)
	// Each key is decoded on its own, so a value of the wrong shape is
	// reported with its key, and a key no field has is refused by name
	// rather than ignored: encoding/json would otherwise drop it, or match
	// it to a field case-insensitively ("Network").
	fields := []configField{
		{"image", &c.Image, "a string"},
		{"memory", &memory, "a number of bytes"},
		{"nano_cpus", &nanoCPUs, "a number, 1e9 for one CPU"},
		{"pids", &pids, "a number"},
		{"network", &network, `the string "none"`},
		{"idle_timeout", &idle, `a duration such as "15m"`},
		{"turn_timeout", &turn, `a duration such as "15m"`},
		{"stuck_timeout", &stuck, `a duration such as "3m"`},
		{"mounts", &c.Mounts, `a list of {"host_path", "container_path", "read_write"}`},
		{"permission_mode", &mode, "a string"},
		{"disk_quota_mb", &diskQuotaMB, "a number of MiB"},
		{"session_disk_quota_mb", &sessionMB, "a number of MiB"},
		{"daily_budget_tokens", &budget, "a number of tokens"},
		{"max_file_bytes", &maxFile, "a number of bytes"},
		{"max_files_per_message", &maxFiles, "a number"},
		{"max_inbox_bytes", &maxInbox, "a number of bytes"},
		{"mcp_servers", &c.MCPServers, `a list of {"name", "command", "args"} or {"name", "url", "headers_env"}`},
		{"timezone", &c.Timezone, `an IANA time zone name such as "Europe/Paris"`},
		{"max_tasks_per_conversation", &maxTasksConv, "a number"},
		{"max_tasks", &maxTasks, "a number"},
		{"task_grace", &taskGrace, `a duration such as "1h"`},
	}
	if err := refuseUnknown(raw, fields); err != nil {
		return Config{}, err
	}
	for _, f := range fields {
		if v, ok := raw[f.key]; ok {
			if err := f.decode(v); err != nil {
				return Config{}, err
			}
		}
	}

	if network != "" && network != "none" {
		return Config{}, &ConfigError{"network", fmt.Sprintf("is %q; agent containers never have a network (only \"none\" is allowed)", truncate(network, 64))}
	}
	for _, lim := range []struct {
		key  string
		v    *int64
		into *int64
		unit int64
	}{
		{"memory", memory, &c.Memory, 1},
		{"nano_cpus", nanoCPUs, &c.NanoCPUs, 1},
		{"pids", pids, &c.Pids, 1},
		{"disk_quota_mb", diskQuotaMB, &c.DiskQuota, 1 << 20},
		{"session_disk_quota_mb", sessionMB, &c.SessionDiskQuota, 1 << 20},
		{"max_file_bytes", maxFile, &c.MaxFileBytes, 1},
		{"max_files_per_message", maxFiles, &c.MaxFilesPerMessage, 1},
		{"max_inbox_bytes", maxInbox, &c.MaxInboxBytes, 1},
		{"max_tasks_per_conversation", maxTasksConv, &c.MaxTasksPerConversation, 1},
		{"max_tasks", maxTasks, &c.MaxTasksPerGroup, 1},
	} {
		if lim.v == nil {
			continue
		}
		if *lim.v <= 0 {
			return Config{}, &ConfigError{lim.key, fmt.Sprintf("is %d; it must be a positive number (or left out for the default)", *lim.v)}
		}
		*lim.into = min(*lim.v, math.MaxInt64/lim.unit) * lim.unit
	}
	if memory != nil && *memory < MinMemory {
		return Config{}, &ConfigError{"memory", fmt.Sprintf("is %d bytes; the least the engine accepts is %d (%d MiB)", *memory, MinMemory, MinMemory>>20)}
	}
	for _, dur := range []struct {
		key  string
		v    string
		into *time.Duration
	}{
		{"idle_timeout", idle, &c.IdleTimeout},
		{"turn_timeout", turn, &c.TurnTimeout},
		{"stuck_timeout", stuck, &c.StuckTimeout},
		{"task_grace", taskGrace, &c.TaskGrace},
	} {
		if dur.v == "" {
			continue
		}
		d, err := time.ParseDuration(dur.v)
		if err != nil || d <= 0 {
			return Config{}, &ConfigError{dur.key, fmt.Sprintf("is %q; it must be a positive duration such as \"15m\"", truncate(dur.v, 64))}
		}
		*dur.into = d
	}
	for i, req := range c.Mounts {
		if err := req.Validate(); err != nil {
			return Config{}, &ConfigError{"mounts", fmt.Sprintf("has a bad request (number %d, host path %q): %v", i+1, truncate(req.HostPath, 200), err)}
		}
	}
	if mode != "" {
		if !slices.Contains(permissionModes, PermissionMode(mode)) {
			names := make([]string, len(permissionModes))
			for i, m := range permissionModes {
				names[i] = string(m)
			}
			return Config{}, &ConfigError{"permission_mode", fmt.Sprintf("is %q; the claude CLI knows %s", truncate(mode, 64), strings.Join(names, ", "))}
		}
		c.PermissionMode = PermissionMode(mode)
	}
	if budget != nil {
		if *budget < 0 {
			return Config{}, &ConfigError{"daily_budget_tokens", fmt.Sprintf("is %d; it must be 0 (no budget) or more", *budget)}
		}
		c.DailyBudgetTokens = *budget
	}
	if err := checkMCPServers(c.MCPServers); err != nil {
		return Config{}, err
	}
	if c.Timezone != "" {
		if _, err := loadZone(c.Timezone); err != nil {
			return Config{}, &ConfigError{"timezone", fmt.Sprintf("is %q; %v", truncate(c.Timezone, 64), err)}
		}
	}
	return c, nil
}

// Defaults of the scheduled-task settings.
const (
	// DefaultMaxTasksPerConversation bounds one conversation's active and paused tasks.
	DefaultMaxTasksPerConversation = 20
	// DefaultMaxTasksPerGroup bounds one group's active and paused tasks.
	DefaultMaxTasksPerGroup = 100
	// DefaultTaskGrace is how late a run missed during downtime may still start.
	DefaultTaskGrace = time.Hour
)

// loadZone loads an IANA zone by name. "Local" is refused: it means
// nothing inside a container.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" || len(name) > 64 || strings.ContainsFunc(name, unicode.IsSpace) {
		return nil, errors.New("it must be an IANA time zone name such as \"Europe/Paris\" or \"UTC\"")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("it is not a time zone berth knows (an IANA name such as \"Europe/Paris\" or \"UTC\")")
	}
	return loc, nil
}

// HostTimezone is the IANA name of the host's time zone: TZ when set, else
// what /etc/localtime links to, else "UTC".
func HostTimezone() string {
	if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" {
		if _, err := loadZone(tz); err == nil {
			return tz
		}
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "zoneinfo/"); ok {
			if _, err := loadZone(name); err == nil {
				return name
			}
		}
	}
	return "UTC"
}

// Zone is the IANA name of the group's time zone: its timezone key, or
// the host's.
func (c Config) Zone() string {
	if c.Timezone != "" {
		return c.Timezone
	}
	return HostTimezone()
}

// Location is the group's time zone (Zone, loaded); UTC should the name
// not load any more.
func (c Config) Location() *time.Location {
	loc, err := loadZone(c.Zone())
	if err != nil {
		return time.UTC
	}
	return loc
}

// TaskLimits are the group's task limits, the defaults where unset.
func (c Config) TaskLimits() (perConversation, perGroup int) {
	perConversation, perGroup = DefaultMaxTasksPerConversation, DefaultMaxTasksPerGroup
	if c.MaxTasksPerConversation > 0 {
		perConversation = int(min(c.MaxTasksPerConversation, 10000))
	}
	if c.MaxTasksPerGroup > 0 {
		perGroup = int(min(c.MaxTasksPerGroup, 100000))
	}
	return perConversation, perGroup
}

// Grace is the group's task grace, the default where unset.
func (c Config) Grace() time.Duration {
	if c.TaskGrace > 0 {
		return c.TaskGrace
	}
	return DefaultTaskGrace
}

// splitObject reads container_config as a JSON object, one raw value per
// key. "" and null are an empty object.
func splitObject(s string) (map[string]json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &ConfigError{Reason: "it is not valid JSON of the expected shape: it is " + describeJSON(te.Value) + ", not an object"}
		}
		return nil, &ConfigError{Reason: "it is not valid JSON of the expected shape: " + truncate(err.Error(), 200)}
	}
	return raw, nil
}

// configField is one key of container_config and where its value goes.
type configField struct {
	key  string
	into any    // a pointer to decode into
	want string // the shape expected, for a person
}

// decode reads the key's value; an error names the key.
func (f configField) decode(v json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields() // in the mount requests
	err := dec.Decode(f.into)
	if err == nil {
		return nil
	}
	reason := "is not valid JSON of the expected shape (" + f.want + ")"
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		reason += ": it is " + describeJSON(te.Value)
	} else {
		reason += ": " + truncate(err.Error(), 200)
	}
	return &ConfigError{f.key, reason}
}

// refuseUnknown refuses the first key (in byte order) no field has.
func refuseUnknown(raw map[string]json.RawMessage, fields []configField) error {
	var unknown []string
	for key := range raw {
		if !slices.ContainsFunc(fields, func(f configField) bool { return f.key == key }) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	return &ConfigError{truncate(unknown[0], 64), "is not a setting berth knows (known: " + strings.Join(known, ", ") + ")"}
}

// describeJSON names the kind of a JSON value, as UnmarshalTypeError
// reports it ("string", "number -1.5").
func describeJSON(v string) string {
	switch v {
	case "":
		return "something else"
	case "array", "object":
		return "an " + v
	}
	return "a " + v
}
