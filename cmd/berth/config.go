package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
)

// config is everything berth reads at start, once, and passes down.
type config struct {
	Home     string
	Provider string
	// ProviderWhy says where Provider comes from: "" for berth's default
	// (echo: nothing is configured), else a phrase such as
	// "ANTHROPIC_API_KEY is set" (see pickProvider).
	ProviderWhy string
	IdleTimeout time.Duration
	MaxRunning  int
	Image       string
	Images      []string // more images groups may name (--allowed-images)
	RunnerBin   string
	Busybox     string
	DockerHost  string
	Kube        kubeSettings // --runtime kubernetes and its settings
	Verbose     bool
	HTTPAddr    string // the HTTP listener: console, probes, /metrics; "" is off
	MetricsAddr string // where /metrics was before the console; see gateway.Config.MetricsAddr

	// Model API credentials: they stay on the host, in the credential proxy.
	AnthropicKey, AnthropicURL string
	OpenAIKey, OpenAIURL       string

	// Channel credentials; never logged.
	SlackBotToken, SlackAppToken, SlackAPIURL   string
	DiscordToken, DiscordAPIURL, DiscordGateway string
}

// envPrefix names a setting's variable: --idle-timeout is BERTH_IDLE_TIMEOUT.
const envPrefix = "BERTH"

// The settings, the flags of berth's configuration. A command takes the
// ones it uses; a setting not given as a flag comes from $BERTH_<FLAG>,
// then from the line BERTH_<FLAG>=… in $BERTH_HOME/config. A command's
// other flags (logs --group, groups create --provider) are options of that
// one invocation and come from the command line only: BERTH_PROVIDER, the
// install's default provider, must not pin every group created.
const (
	flagHome          = "home"
	flagProvider      = "provider"
	flagIdleTimeout   = "idle-timeout"
	flagMaxRunning    = "max-running"
	flagImage         = "image"
	flagAllowedImages = "allowed-images"
	flagRunnerBin     = "runner-bin"
	flagBusybox       = "busybox"
	flagDockerHost    = "docker-host"
	flagHTTPAddr      = "http-addr"
	flagMetricsAddr   = "metrics-addr"
	// The runtime, and the Kubernetes runtime's settings (kube.go).
	flagRuntime        = "runtime"
	flagKubeconfig     = "kubeconfig"
	flagNamespace      = "namespace"
	flagKubeClaim      = "kube-claim"
	flagKubeNode       = "kube-node"
	flagKubePullPolicy = "kube-pull-policy"
)

// runtimeSettings choose and reach the runtime agent containers run on.
var runtimeSettings = []string{flagRuntime, flagKubeconfig, flagNamespace, flagKubeClaim, flagKubeNode, flagKubePullPolicy}

// gatewaySettings are the settings of the commands that run a gateway or
// build its image.
var gatewaySettings = append([]string{flagHome, flagProvider, flagIdleTimeout, flagMaxRunning, flagImage, flagAllowedImages,
	flagRunnerBin, flagBusybox, flagDockerHost, flagHTTPAddr, flagMetricsAddr}, runtimeSettings...)

// declare declares every setting, once, on fs, bound to c.
func (c *config) declare(fs *flag.FlagSet) {
	fs.StringVar(&c.Home, flagHome, "", "state folder (default $BERTH_HOME or ~/.local/share/berth)")
	// No default here: unset, the provider is picked from the credentials
	// present once they are read (pickProvider).
	fs.StringVar(&c.Provider, flagProvider, "", "default agent provider: "+strings.Join(groups.Providers, ", ")+
		" (default: the one whose API key is set, else echo, the test and demo provider)")
	fs.DurationVar(&c.IdleTimeout, flagIdleTimeout, groups.DefaultIdleTimeout, "stop an agent container after this long without work (a group's idle_timeout overrides it)")
	// The default is sized for containers at the default memory limit.
	fs.IntVar(&c.MaxRunning, flagMaxRunning, session.DefaultMaxRunning(groups.DefaultMemory),
		"at most this many agent containers at once (default: 4 per CPU, at most one per GiB of RAM)")
	fs.StringVar(&c.Image, flagImage, container.DefaultImage, "agent image")
	fs.Var((*imageList)(&c.Images), flagAllowedImages, "comma-separated `images` a group's container_config may name besides the agent image and the claude image")
	fs.StringVar(&c.RunnerBin, flagRunnerBin, "", "a prebuilt static berth-runner for the image (default: compile from source)")
	fs.StringVar(&c.Busybox, flagBusybox, "", "a static busybox to add to the image and prefer for its shell (default: none; the runner is the shell)")
	fs.StringVar(&c.DockerHost, flagDockerHost, "", "Docker engine address (default $DOCKER_HOST or the local socket)")
	fs.StringVar(&c.HTTPAddr, flagHTTPAddr, "", "serve the web console at http://ADDR/, with /metrics, /healthz and /readyz, e.g. 127.0.0.1:7777 "+
		"(default: off; an address other hosts reach needs berth console token)")
	fs.StringVar(&c.MetricsAddr, flagMetricsAddr, "", "serve /metrics, /healthz and /readyz at ADDR (its old flag; alone it is --http-addr, but on an address other hosts reach "+
		"with no console token it serves no console)")
	c.Kube.declare(fs)
}

// settings registers the named settings on a command's flag set.
func (c *config) settings(fs *flag.FlagSet, names ...string) {
	all := flag.NewFlagSet("settings", flag.ContinueOnError)
	c.declare(all)
	for _, name := range names {
		f := all.Lookup(name)
		if f == nil {
			panic("berth: no setting " + name)
		}
		fs.Var(setting{f.Value}, f.Name, f.Usage)
	}
}

// verboseFlag registers -v, an option of the commands that log.
func (c *config) verboseFlag(fs *flag.FlagSet) {
	fs.BoolVar(&c.Verbose, "v", false, "log to stderr too")
}

// setting marks a flag as a setting (see [config.settings]).
type setting struct{ flag.Value }

// settingEnv is the environment variable of a setting's flag, or "" for an
// option.
func settingEnv(f *flag.Flag) string {
	if _, ok := f.Value.(setting); !ok {
		return ""
	}
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// imageList is --allowed-images: comma-separated, blanks dropped.
type imageList []string

func (l *imageList) String() string { return strings.Join(*l, ",") }

func (l *imageList) Set(v string) error {
	*l = nil
	for _, img := range strings.Split(v, ",") {
		if img = strings.TrimSpace(img); img != "" {
			*l = append(*l, img)
		}
	}
	return nil
}

// The model APIs' endpoints when ANTHROPIC_BASE_URL and OPENAI_BASE_URL
// name none.
const (
	defaultAnthropicURL = "https://api.anthropic.com"
	defaultOpenAIURL    = "https://api.openai.com/v1"
)

// credentials declares what berth reads from the environment and the
// config file under their own names. They are not flags: on a command
// line a token would show in ps.
func (c *config) credentials() *flag.FlagSet {
	fs := flag.NewFlagSet("credentials", flag.ContinueOnError)
	fs.StringVar(&c.SlackBotToken, "slack-bot-token", "", "")
	fs.StringVar(&c.SlackAppToken, "slack-app-token", "", "")
	fs.StringVar(&c.SlackAPIURL, "slack-api-url", "", "")
	fs.StringVar(&c.DiscordToken, "discord-bot-token", "", "")
	fs.StringVar(&c.DiscordAPIURL, "discord-api-url", "", "")
	fs.StringVar(&c.DiscordGateway, "discord-gateway-url", "", "")
	fs.StringVar(&c.AnthropicKey, "anthropic-api-key", "", "")
	fs.StringVar(&c.AnthropicURL, "anthropic-base-url", defaultAnthropicURL, "")
	fs.StringVar(&c.OpenAIKey, "openai-api-key", "", "")
	fs.StringVar(&c.OpenAIURL, "openai-base-url", defaultOpenAIURL, "")
	return fs
}

// resolve completes c once fs has parsed the command line: the state
// folder first (--home, else $BERTH_HOME, else the default), because the
// config file is inside it; then, through ff, each setting the command
// line left unset from its BERTH_* variable, else from $BERTH_HOME/config;
// then the credentials from the environment, else the config file.
func (c *config) resolve(fs *flag.FlagSet) error {
	home, err := paths.Resolve(c.Home)
	if err != nil {
		return err
	}
	c.Home = home.String()
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	// Only what the command line left unset is handed to ff, so that the
	// command line always wins.
	unset := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if settingEnv(f) != "" && !given[f.Name] && f.Name != flagHome {
			unset.Var(f.Value, f.Name, f.Usage)
		}
	})
	file := []ff.Option{
		ff.WithConfigFile(home.Config()), ff.WithConfigFileParser(dotenvParser(home.Config())),
		ff.WithAllowMissingConfigFile(true), ff.WithIgnoreUndefined(true),
	}
	if err := ff.Parse(unset, nil, append(file, ff.WithEnvVarPrefix(envPrefix))...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := ff.Parse(c.credentials(), nil, append(file, ff.WithEnvVars())...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if fs.Lookup(flagProvider) != nil {
		if c.Provider == "" {
			c.Provider, c.ProviderWhy = c.pickProvider()
		} else {
			c.ProviderWhy = providerConfigured
		}
	}
	if fs.Lookup(flagRuntime) != nil {
		if err := c.Kube.check(); err != nil {
			return err
		}
	}
	if fs.Lookup(flagMaxRunning) != nil && c.MaxRunning < 1 {
		// There is no "no cap": a bigger host sets a bigger number.
		return fmt.Errorf("--max-running %d: must be at least 1 (this host's default is %d)", c.MaxRunning, session.DefaultMaxRunning(groups.DefaultMemory))
	}
	return nil
}

// dotenvParser reads $BERTH_HOME/config for ff: KEY=VALUE lines, "#"
// comments, an optional "export " and quotes around the value (the format
// the file has always had; ff.EnvParser refuses "KEY=" and "export"). A
// variable set in the environment, even to "", hides the file's line, as
// it always has: ff itself skips empty variables.
func dotenvParser(path string) ff.ConfigFileParser {
	return func(r io.Reader, set func(name, value string) error) error {
		return parseDotenv(path, r, func(k, v string) error {
			if _, inEnv := os.LookupEnv(k); inEnv {
				return nil
			}
			return set(k, v)
		})
	}
}

// parseDotenv calls set for each KEY=VALUE line of r, read from path.
func parseDotenv(path string, r io.Reader, set func(k, v string) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return fmt.Errorf("%s:%d: expected KEY=VALUE", path, n)
		}
		if err := set(strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// readDotenv reads the KEY=VALUE lines of path; a missing file is empty.
func readDotenv(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	err = parseDotenv(path, f, func(k, v string) error {
		out[k] = v
		return nil
	})
	return out, err
}

// providerConfigured is ProviderWhy for a provider the operator named.
const providerConfigured = "--provider, BERTH_PROVIDER or the config file names it"

// pickProvider is the provider of an install that names none: the model
// API whose credentials (or endpoint) are present, anthropic first when
// both are; else echo, berth's default, with why "".
func (c *config) pickProvider() (provider, why string) {
	type found struct{ provider, why string }
	var fs []found
	switch {
	case c.AnthropicKey != "":
		fs = append(fs, found{"anthropic", "ANTHROPIC_API_KEY is set"})
	case c.AnthropicURL != "" && c.AnthropicURL != defaultAnthropicURL:
		fs = append(fs, found{"anthropic", "ANTHROPIC_BASE_URL is set"})
	}
	switch {
	case c.OpenAIKey != "":
		fs = append(fs, found{"openai", "OPENAI_API_KEY is set"})
	case c.OpenAIURL != "" && c.OpenAIURL != defaultOpenAIURL:
		fs = append(fs, found{"openai", "OPENAI_BASE_URL is set"})
	}
	switch len(fs) {
	case 0:
		return groups.DefaultProvider, ""
	case 1:
		return fs[0].provider, fs[0].why
	}
	return fs[0].provider, fs[0].why + " and " + fs[1].why + "; " + fs[0].provider + " is taken first, --provider or BERTH_PROVIDER chooses"
}

// providerStartLine is what `berth run` says at start about the provider
// of groups that name none.
func providerStartLine(cfg config) string {
	switch {
	case cfg.Provider == groups.DefaultProvider && cfg.ProviderWhy == "":
		return "berth: provider: echo: replies are echoes of what is sent (no provider is configured and no model API key is set: " +
			"set ANTHROPIC_API_KEY or OPENAI_API_KEY, or --provider)"
	case cfg.Provider == groups.DefaultProvider:
		return "berth: provider: echo (" + cfg.ProviderWhy + "): replies are echoes of what is sent"
	}
	return "berth: provider: " + cfg.Provider + " (" + cfg.ProviderWhy + "); a group's own provider, if it names one, answers in it"
}
