package groups

// The keys of a group's configuration people set.
//
// Keys is the one registry of them: `berth groups config`, the chat
// command !config, the README's table and the refusals all come from it.
// A key knows how it is written by a person ("2g", "1.5", "10m"), where it
// lives in the agent_groups row (the provider or model column, or a key of
// container_config), its default and where that default comes from.
// Whatever a key writes is then read back through ParseConfig, the one
// reader of a group's row, so nothing it refuses is ever stored.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/docker/go-units"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/mounts"
)

// Source is where a key's effective value comes from.
type Source string

// The sources of a value, from the weakest.
const (
	SourceDefault Source = "default" // berth's built-in default
	SourceInstall Source = "install" // the operator's flags, BERTH_* variables or config file
	SourceGroup   Source = "group"   // the group's own row
)

// Install is what the operator's installation decides about groups' keys:
// the defaults it sets for every group and what it allows them to name.
type Install struct {
	// Provider is the provider of groups that name none; ProviderFrom says
	// why, when the operator set it or berth picked it from credentials
	// ("" : it is DefaultProvider, berth's own).
	Provider, ProviderFrom string
	// IdleTimeout is --idle-timeout; 0 or DefaultIdleTimeout is berth's default.
	IdleTimeout time.Duration
	// Image is the agent image (--image), ImageSet whether the operator
	// chose it; ClaudeImage is the image of the claude provider.
	Image, ClaudeImage string
	ImageSet           bool
	// Images are the images a group may name: Image, ClaudeImage and
	// --allowed-images.
	Images []string
	// Allowlist is the mount allowlist a group's mounts are checked
	// against; nil: none is configured, and no mount may be set.
	Allowlist *mounts.Allowlist
	// Timezone is the host's zone (HostTimezone), the default of the
	// timezone key; "": not known here (README's table).
	Timezone string
}

// provider is the install's provider and where it comes from.
func (in Install) provider() (string, Source) {
	if in.Provider == "" || (in.Provider == DefaultProvider && in.ProviderFrom == "") {
		return DefaultProvider, SourceDefault
	}
	return in.Provider, SourceInstall
}

// Key is one setting of a group's configuration.
type Key struct {
	Name string
	// Column is the agent_groups column the key is (FieldProvider,
	// FieldModel); "": it is the container_config key Field.
	Column, Field string
	// Allowed says what a value may be, for a person: it ends every
	// refusal.
	Allowed string
	// Doc is what the key does, one line.
	Doc string
	// Operator marks a key only the operator sets (berth groups config),
	// never a chat command: its value decides where the host sends
	// secrets (mcp_servers: which URL gets which MCP header variable), so
	// a group admin must not choose it.
	Operator bool
	// Default is the key's value when the group sets none, with where it
	// comes from.
	Default func(in Install) (string, Source)
	// show writes the group's value for a person; "" when the group left
	// it unset.
	show func(c Config) string
	// encode turns what a person wrote into the value stored: a string
	// for a column, a JSON value for container_config. A refusal is an
	// error whose text completes "<key>=<value> is refused: …".
	encode func(v string, in Install, g data.AgentGroup) (any, error)
}

func fixed(v string) func(Install) (string, Source) {
	return func(Install) (string, Source) { return v, SourceDefault }
}

// Keys are the keys people set, in the order they are shown. A new key of
// container_config is its field in ParseConfig plus one entry here (the
// CLI, !config, the refusals and README's table follow; TestREADMEKeys
// says when README's table needs regenerating).
var Keys = []Key{
	{Name: "provider", Column: FieldProvider, Allowed: "one of " + strings.Join(Providers, ", "),
		Doc:     "the agent provider (echo repeats what it is told)",
		Default: func(in Install) (string, Source) { return in.provider() },
		show:    func(c Config) string { return c.Provider },
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			if !slices.Contains(Providers, v) {
				return nil, errors.New("not a provider berth knows")
			}
			return v, nil
		}},
	{Name: "model", Column: FieldModel, Allowed: fmt.Sprintf("the provider's model name, at most %d printable characters", maxModel),
		Doc:     "the provider's model",
		Default: fixed("(the provider's default)"),
		show:    func(c Config) string { return c.Model },
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			if len(v) > maxModel || strings.ContainsFunc(v, unicode.IsControl) || strings.ContainsFunc(v, unicode.IsSpace) {
				return nil, errors.New("not a model name")
			}
			return v, nil
		}},
	{Name: "image", Field: "image", Allowed: "an image the operator allows (the agent image, the claude image or --allowed-images)",
		Doc: "the container image",
		Default: func(in Install) (string, Source) {
			if in.ImageSet {
				return in.Image, SourceInstall
			}
			return cmp.Or(in.Image, "(the agent image)"), SourceDefault
		},
		show: func(c Config) string { return c.Image },
		encode: func(v string, in Install, _ data.AgentGroup) (any, error) {
			if !slices.Contains(in.Images, v) {
				return nil, fmt.Errorf("not one of %s", strings.Join(in.Images, ", "))
			}
			return v, nil
		}},
	{Name: "memory", Field: "memory", Allowed: fmt.Sprintf("a size such as 2g or 512m (or bytes), at least %dm", MinMemory>>20),
		Doc:     "the container's memory limit",
		Default: fixed(formatSize(DefaultMemory)),
		show:    func(c Config) string { return sizeOrEmpty(c.Memory) },
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			n, err := parseSize(v)
			if err == nil && n < MinMemory {
				err = fmt.Errorf("below the least the engine accepts, %dm", MinMemory>>20)
			}
			return n, err
		}},
	{Name: "cpus", Field: "nano_cpus", Allowed: "a number of CPUs such as 1.5, at most 1024",
		Doc:     "the container's CPU limit",
		Default: fixed(formatCPUs(DefaultNanoCPUs)),
		show: func(c Config) string {
			if c.NanoCPUs == 0 {
				return ""
			}
			return formatCPUs(c.NanoCPUs)
		},
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 1024) || math.Round(f*1e9) < 1 {
				return nil, errors.New("not a number of CPUs")
			}
			return int64(math.Round(f * 1e9)), nil
		}},
	countKey("pids", "pids", "how many processes the container may run at once", DefaultPids),
	durationKey("idle_timeout", "stop the group's containers after this long without work", func(in Install) (string, Source) {
		if in.IdleTimeout > 0 && in.IdleTimeout != DefaultIdleTimeout {
			return formatDuration(in.IdleTimeout), SourceInstall
		}
		return formatDuration(DefaultIdleTimeout), SourceDefault
	}, func(c Config) time.Duration { return c.IdleTimeout }),
	durationKey("turn_timeout", "the longest a turn may take; its messages then fail", fixed(formatDuration(DefaultTurnTimeout)),
		func(c Config) time.Duration { return c.TurnTimeout }),
	durationKey("stuck_timeout", "the longest a turn may go without progress; its messages then fail", fixed(formatDuration(DefaultStuckTimeout)),
		func(c Config) time.Duration { return c.StuckTimeout }),
	{Name: "daily_budget_tokens", Field: "daily_budget_tokens", Allowed: "a number of tokens (0: no budget)",
		Doc:     "model tokens the group may spend a day (UTC)",
		Default: fixed("0 (no budget)"),
		show: func(c Config) string {
			if c.DailyBudgetTokens == 0 {
				return ""
			}
			return strconv.FormatInt(c.DailyBudgetTokens, 10)
		},
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, errors.New("not a number of tokens")
			}
			return n, nil
		}},
	{Name: "permission_mode", Field: "permission_mode", Allowed: "one of " + strings.Join(permissionModeNames(), ", "),
		Doc:     "the claude CLI's --permission-mode",
		Default: fixed(string(PermissionAcceptEdits)),
		show:    func(c Config) string { return string(c.PermissionMode) },
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			if !slices.Contains(permissionModes, PermissionMode(v)) {
				return nil, errors.New("not a permission mode the claude CLI knows")
			}
			return v, nil
		}},
	{Name: "mounts", Field: "mounts",
		Allowed: "host_path:container_path[:rw], comma-separated, each inside the operator's mount allowlist (or a JSON list)",
		Doc:     "extra host folders, under /workspace/extra",
		Default: fixed("(none)"),
		show: func(c Config) string {
			s := make([]string, len(c.Mounts))
			for i, m := range c.Mounts {
				s[i] = m.HostPath + ":" + m.ContainerPath
				if m.ReadWrite {
					s[i] += ":rw"
				}
			}
			return strings.Join(s, ",")
		},
		encode: encodeMounts},
	sizeKey("disk_quota_mb", "what the group folder may hold", DefaultDiskQuota, 1<<20),
	sizeKey("session_disk_quota_mb", "what each session's out/ folder may hold", DefaultSessionDiskQuota, 1<<20),
	sizeKey("max_file_bytes", "the largest attached file berth fetches", DefaultMaxFileBytes, 1),
	countKey("max_files_per_message", "max_files_per_message", "how many files of one message berth fetches", DefaultMaxFilesPerMessage),
	sizeKey("max_inbox_bytes", "what a session's inbox of fetched files may hold", DefaultMaxInboxBytes, 1),
	{Name: "timezone", Field: "timezone", Allowed: `an IANA time zone name such as Europe/Paris or UTC`,
		Doc: "the zone the group's scheduled tasks are read and run in, and its containers' TZ",
		Default: func(in Install) (string, Source) {
			if in.Timezone != "" {
				return in.Timezone + " (the host's)", SourceDefault
			}
			return "the host's (TZ)", SourceDefault
		},
		show: func(c Config) string { return c.Timezone },
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			if _, err := loadZone(v); err != nil {
				return nil, errors.New("not a time zone berth knows")
			}
			return v, nil
		}},
	countKey("max_tasks_per_conversation", "max_tasks_per_conversation", "how many active or paused scheduled tasks one conversation may have", DefaultMaxTasksPerConversation),
	countKey("max_tasks", "max_tasks", "how many active or paused scheduled tasks the whole group may have", DefaultMaxTasksPerGroup),
	durationKey("task_grace", "how late a task's run may still start after berth was down; later, it is recorded missed", fixed(formatDuration(DefaultTaskGrace)),
		func(c Config) time.Duration { return c.TaskGrace }),
	{Name: "mcp_servers", Field: "mcp_servers", Operator: true,
		Allowed: `a JSON list of {"name", "command", "args"} (a program in the group folder) or {"name", "url", "headers_env"} (through the credential proxy), at most 8; set from the CLI only`,
		Doc:     "the group's own MCP servers",
		Default: fixed("(none)"),
		show: func(c Config) string {
			s := make([]string, len(c.MCPServers))
			for i, m := range c.MCPServers {
				s[i] = m.Name + "=" + cmp.Or(m.Command, m.URL)
			}
			return strings.Join(s, ",")
		},
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			var servers []MCPServer
			dec := json.NewDecoder(strings.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&servers); err != nil {
				return nil, errors.New("not a JSON list of MCP servers")
			}
			return servers, nil // ParseConfig, reading the row back, checks each
		}},
}

// LookupKey returns the key named name.
func LookupKey(name string) (Key, bool) {
	i := slices.IndexFunc(Keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return Keys[i], true
}

// KeyNames are the keys' names, in order.
func KeyNames() []string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return names
}

func countKey(name, field, doc string, def int64) Key {
	return Key{Name: name, Field: field, Allowed: "a positive whole number", Doc: doc,
		Default: fixed(strconv.FormatInt(def, 10)),
		show: func(c Config) string {
			v := fieldInt(c, field)
			if v == 0 {
				return ""
			}
			return strconv.FormatInt(v, 10)
		},
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, errors.New("not a positive whole number")
			}
			return n, nil
		}}
}

// sizeKey is a size stored in units of unit bytes (1: bytes, 1<<20: MiB).
func sizeKey(name, doc string, def, unit int64) Key {
	return Key{Name: name, Field: name, Allowed: "a size such as 2g or 512m (or bytes)", Doc: doc,
		Default: fixed(formatSize(def)),
		show:    func(c Config) string { return sizeOrEmpty(fieldInt(c, name)) },
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			n, err := parseSize(v)
			if err != nil {
				return nil, err
			}
			if n < unit {
				return nil, fmt.Errorf("less than %s", formatSize(unit))
			}
			return n / unit, nil
		}}
}

func durationKey(name, doc string, def func(Install) (string, Source), get func(Config) time.Duration) Key {
	return Key{Name: name, Field: name, Allowed: "a positive duration such as 90s, 10m or 1h", Doc: doc, Default: def,
		show: func(c Config) string {
			if d := get(c); d != 0 {
				return formatDuration(d)
			}
			return ""
		},
		encode: func(v string, _ Install, _ data.AgentGroup) (any, error) {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, errors.New("not a positive duration")
			}
			return formatDuration(d), nil
		}}
}

// formatDuration writes d as a person would: "10m", "1h30m", "90s" → "1m30s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fieldInt is the Config field of a container_config key holding a number.
func fieldInt(c Config, field string) int64 {
	switch field {
	case "pids":
		return c.Pids
	case "max_files_per_message":
		return c.MaxFilesPerMessage
	case "disk_quota_mb":
		return c.DiskQuota
	case "session_disk_quota_mb":
		return c.SessionDiskQuota
	case "max_file_bytes":
		return c.MaxFileBytes
	case "max_inbox_bytes":
		return c.MaxInboxBytes
	case "max_tasks_per_conversation":
		return c.MaxTasksPerConversation
	case "max_tasks":
		return c.MaxTasksPerGroup
	}
	return 0
}

// parseSize reads "2g", "512m", "1.5GiB" (binary units) or bytes.
func parseSize(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n <= 0 {
		return 0, errors.New("not a size")
	}
	return n, nil
}

// formatSize writes n bytes in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func sizeOrEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return formatSize(n)
}

func formatCPUs(nano int64) string {
	return strconv.FormatFloat(float64(nano)/1e9, 'f', -1, 64)
}

func permissionModeNames() []string {
	names := make([]string, len(permissionModes))
	for i, m := range permissionModes {
		names[i] = string(m)
	}
	return names
}

// encodeMounts reads mounts as host:container[:rw],… or a JSON list, and
// checks each against the operator's allowlist: a mount it would refuse
// at spawn is refused now, with its reason.
func encodeMounts(v string, in Install, g data.AgentGroup) (any, error) {
	var reqs []mounts.Request
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&reqs); err != nil {
			return nil, errors.New("not a JSON list of mounts")
		}
	} else {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m == "" {
				continue
			}
			parts := strings.Split(m, ":")
			req := mounts.Request{HostPath: parts[0]}
			switch {
			case len(parts) == 2:
				req.ContainerPath = parts[1]
			case len(parts) == 3 && (parts[2] == "rw" || parts[2] == "ro"):
				req.ContainerPath, req.ReadWrite = parts[1], parts[2] == "rw"
			default:
				return nil, fmt.Errorf("%q is not host_path:container_path[:rw]", truncate(m, 200))
			}
			reqs = append(reqs, req)
		}
	}
	if len(reqs) > 0 && in.Allowlist == nil {
		return nil, errors.New("no mount allowlist is configured on this host")
	}
	for _, req := range reqs {
		if in.Allowlist == nil {
			break
		}
		if _, err := in.Allowlist.Check(req, g.IsAdmin); err != nil {
			return nil, err
		}
	}
	if reqs == nil {
		reqs = []mounts.Request{}
	}
	return reqs, nil
}

// secretLike matches values shaped like the credentials berth knows of
// (model API keys, Slack and Discord tokens, GitHub tokens, private keys):
// no key holds a secret, and a value that looks like one is refused rather
// than stored in the row, the log and every `config` answer.
var secretLike = regexp.MustCompile(`(?i)(sk-[a-z0-9_-]{16,}|xox[abpr]-|xapp-|gh[opsu]_[a-z0-9]{16,}|github_pat_|-----BEGIN|AKIA[0-9A-Z]{16})`)

// Setting is one key's effective value.
type Setting struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Source  Source `json:"source"`
	Default string `json:"default"` // the value without the group's
	Allowed string `json:"allowed"`
	Doc     string `json:"doc"`
}

// Effective is group g's configuration, key by key, each with where its
// value comes from. A row ParseConfig refuses is reported as the error,
// with no settings: unset or set the key it names to repair it.
func Effective(g data.AgentGroup, in Install) ([]Setting, error) {
	c, err := LoadConfig(g)
	if err != nil {
		return nil, err
	}
	out := make([]Setting, 0, len(Keys))
	for _, k := range Keys {
		def, src := k.Default(in)
		if k.Name == "image" && c.Image == "" && cmpProvider(c.Provider, in) == "claude" && in.ClaudeImage != "" {
			def, src = in.ClaudeImage, SourceDefault
		}
		s := Setting{Key: k.Name, Value: def, Source: src, Default: def, Allowed: k.Allowed, Doc: k.Doc}
		if v := k.show(c); v != "" {
			s.Value, s.Source = v, SourceGroup
		}
		out = append(out, s)
	}
	return out, nil
}

func cmpProvider(p string, in Install) string {
	if p != "" {
		return p
	}
	p, _ = in.provider()
	return p
}

// Change is one key a Set or Unset changed, as the log records it.
type Change struct {
	Key, From, To string // "" : unset
}

// KeyError is a value Set refuses, or a key it does not know.
type KeyError struct {
	Key, Value string
	Reason     string // what is wrong with the value
	Allowed    string
	// Stored marks a value the row already held, which the change left
	// as it was: it must be set or unset too.
	Stored bool
}

// Error implements error.
func (e *KeyError) Error() string {
	if e.Stored {
		return fmt.Sprintf("%s, as the group's row holds it, is refused: it %s; set it (allowed: %s) or unset it", e.Key, e.Reason, e.Allowed)
	}
	if e.Value == "" && e.Reason == "" {
		return fmt.Sprintf("%s is not a setting berth knows (known: %s)", truncate(e.Key, 64), strings.Join(KeyNames(), ", "))
	}
	return fmt.Sprintf("%s=%s is refused: %s; allowed: %s", e.Key, truncate(e.Value, 64), e.Reason, e.Allowed)
}

// Assignment is one key=value a person wrote.
type Assignment struct{ Key, Value string }

// ParseAssignments reads key=value arguments, refusing one without "=".
func ParseAssignments(args []string) ([]Assignment, error) {
	out := make([]Assignment, 0, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value (keys: %s)", truncate(a, 64), strings.Join(KeyNames(), ", "))
		}
		out = append(out, Assignment{Key: k, Value: strings.TrimSpace(v)})
	}
	return out, nil
}

// Set returns g with each assignment made, validated as a whole by
// ParseConfig, and what changed. An unknown key or a bad value is a
// *KeyError naming it and the values allowed; nothing is changed then.
// Keys of container_config this registry does not name are kept as they
// are.
func Set(g data.AgentGroup, as []Assignment, in Install) (data.AgentGroup, []Change, error) {
	return edit(g, in, func(row *rowEdit) error {
		for _, a := range as {
			k, ok := LookupKey(a.Key)
			if !ok {
				return &KeyError{Key: a.Key}
			}
			refuse := func(reason string) error {
				return &KeyError{Key: k.Name, Value: a.Value, Reason: reason, Allowed: k.Allowed}
			}
			if a.Value == "" {
				return refuse("empty (use unset for the default)")
			}
			if secretLike.MatchString(a.Value) {
				return &KeyError{Key: k.Name, Value: "…", Reason: "it looks like a credential, and no setting holds one (credentials stay in the operator's environment)", Allowed: k.Allowed}
			}
			v, err := k.encode(a.Value, in, g)
			if err != nil {
				return refuse(err.Error())
			}
			if err := row.put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Unset returns g with the keys named back to their defaults, and what
// changed.
func Unset(g data.AgentGroup, names []string, in Install) (data.AgentGroup, []Change, error) {
	return edit(g, in, func(row *rowEdit) error {
		for _, n := range names {
			k, ok := LookupKey(n)
			if !ok {
				return &KeyError{Key: n}
			}
			row.unset(k)
		}
		return nil
	})
}

// rowEdit is an agent_groups row being changed.
type rowEdit struct {
	provider, model string
	raw             map[string]json.RawMessage
}

func (r *rowEdit) put(k Key, v any) error {
	switch k.Column {
	case FieldProvider:
		r.provider = v.(string)
	case FieldModel:
		r.model = v.(string)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", k.Name, err)
		}
		r.raw[k.Field] = b
	}
	return nil
}

func (r *rowEdit) unset(k Key) {
	switch k.Column {
	case FieldProvider:
		r.provider = ""
	case FieldModel:
		r.model = ""
	default:
		delete(r.raw, k.Field)
	}
}

// edit applies change to g's row and validates the result with
// ParseConfig. The row may be one ParseConfig refuses (set or unset is how
// it is repaired) unless it is not a JSON object at all.
func edit(g data.AgentGroup, in Install, change func(*rowEdit) error) (data.AgentGroup, []Change, error) {
	before, err := Effective(g, in)
	if err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field == "" {
			return g, nil, err
		}
		before = nil // a refused row: every key's value is reported as changed
	}
	raw, err := splitObject(g.ContainerConfig)
	if err != nil {
		return g, nil, err
	}
	if raw == nil {
		raw = map[string]json.RawMessage{}
	}
	raw0 := maps.Clone(raw)
	row := &rowEdit{provider: g.Provider, model: g.Model, raw: raw}
	if err := change(row); err != nil {
		return g, nil, err
	}
	b, err := json.Marshal(row.raw) // sorted keys: a stable row
	if err != nil {
		return g, nil, fmt.Errorf("encode container_config: %w", err)
	}
	out := g
	out.Provider, out.Model, out.ContainerConfig = row.provider, row.model, string(b)
	if _, err := LoadConfig(out); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			if k, ok := keyOfField(ce.Field); ok {
				return g, nil, &KeyError{Key: k.Name, Reason: ce.Reason, Allowed: k.Allowed, Stored: true}
			}
		}
		return g, nil, err
	}
	after, err := Effective(out, in)
	if err != nil {
		return g, nil, err
	}
	// A key changed when what the row stores for it did; it is told in
	// the units people write (a refused row's old value as stored).
	var changes []Change
	for i, k := range Keys {
		was, now := stored(g, raw0, k), stored(out, row.raw, k)
		if was == now {
			continue
		}
		from := was
		if before != nil {
			from = ""
			if before[i].Source == SourceGroup {
				from = before[i].Value
			}
		}
		to := ""
		if after[i].Source == SourceGroup {
			to = after[i].Value
		}
		if from == to {
			continue // written anew, the same value ("10m0s" as "10m")
		}
		changes = append(changes, Change{Key: k.Name, From: from, To: to})
	}
	return out, changes, nil
}

// stored is what g's row holds for k, as stored ("": nothing); raw is its
// container_config split.
func stored(g data.AgentGroup, raw map[string]json.RawMessage, k Key) string {
	switch k.Column {
	case FieldProvider:
		return g.Provider
	case FieldModel:
		return g.Model
	}
	return string(raw[k.Field])
}

// keyOfField is the key stored as a ConfigError's field.
func keyOfField(field string) (Key, bool) {
	i := slices.IndexFunc(Keys, func(k Key) bool { return k.Field == field || (k.Column != "" && k.Column == field) })
	if i < 0 {
		return Key{}, false
	}
	return Keys[i], true
}

// describeChange words a change for a person: "memory 1g → 2g".
func describeChange(ch Change) string {
	return ch.Key + " " + cmp.Or(ch.From, "default") + " → " + cmp.Or(ch.To, "default")
}

// DescribeChanges words changes for a person, one clause each.
func DescribeChanges(chs []Change) string {
	if len(chs) == 0 {
		return "nothing changed"
	}
	s := make([]string, len(chs))
	for i, ch := range chs {
		s[i] = describeChange(ch)
	}
	return strings.Join(s, ", ")
}

// AppliesNext is what a change's answer says about when it takes effect.
const AppliesNext = "This applies to the next container of every session of the group; a running turn is not cut."
