package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
)

// config is everything berth reads at start, once, and passes down.
type config struct {
	Home        string
	Provider    string
	IdleTimeout time.Duration
	MaxRunning  int
	Image       string
	Images      []string // more images groups may name (--allowed-images)
	RunnerBin   string
	Busybox     string
	DockerHost  string
	Verbose     bool
	MetricsAddr string // serve Prometheus /metrics here; "" is off

	// Model API credentials: they stay on the host, in the credential proxy.
	AnthropicKey, AnthropicURL string
	OpenAIKey, OpenAIURL       string

	// Channel credentials; never logged.
	SlackBotToken, SlackAppToken, SlackAPIURL   string
	DiscordToken, DiscordAPIURL, DiscordGateway string
}

// commonFlags registers the flags every gateway command takes.
func commonFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.Home, "home", "", "state folder (default $BERTH_HOME or ~/.local/share/berth)")
	fs.StringVar(&c.Provider, "provider", groups.DefaultProvider, "default agent provider: "+strings.Join(groups.Providers, ", ")+" (echo is the test and demo provider)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", groups.DefaultIdleTimeout, "stop an agent container after this long without work (a group's idle_timeout overrides it)")
	// The default is sized for containers at the default memory limit.
	fs.IntVar(&c.MaxRunning, "max-running", session.DefaultMaxRunning(groups.DefaultMemory),
		"at most this many agent containers at once (default: 4 per CPU, at most one per GiB of RAM)")
	fs.StringVar(&c.Image, "image", container.DefaultImage, "agent image")
	fs.Func("allowed-images", "comma-separated images a group's container_config may name besides the agent image and the claude image", func(v string) error {
		c.Images = nil
		for _, img := range strings.Split(v, ",") {
			if img = strings.TrimSpace(img); img != "" {
				c.Images = append(c.Images, img)
			}
		}
		return nil
	})
	fs.StringVar(&c.RunnerBin, "runner-bin", "", "a prebuilt static berth-runner for the image (default: compile from source)")
	fs.StringVar(&c.Busybox, "busybox", "", "a static busybox for the image (default: /bin/busybox from busybox-static)")
	fs.StringVar(&c.DockerHost, "docker-host", "", "Docker engine address (default $DOCKER_HOST or the local socket)")
	fs.BoolVar(&c.Verbose, "v", false, "log to stderr too")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (default: off)")
}

// resolve fills what flags left unset from BERTH_* variables, then from
// $BERTH_HOME/config (dotenv), and reads the channel credentials.
func (c *config) resolve(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	home, err := paths.Resolve(c.Home)
	if err != nil {
		return err
	}
	c.Home = home.String()
	file, err := readDotenv(home.Config())
	if err != nil {
		return err
	}
	lookup := func(k string) string {
		if v, ok := os.LookupEnv(k); ok {
			return v
		}
		return file[k]
	}
	var ferr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "home" || f.Name == "v" {
			return
		}
		key := "BERTH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := lookup(key); v != "" {
			if err := f.Value.Set(v); err != nil && ferr == nil {
				ferr = fmt.Errorf("%s: %w", key, err)
			}
		}
	})
	c.SlackBotToken, c.SlackAppToken, c.SlackAPIURL = lookup("SLACK_BOT_TOKEN"), lookup("SLACK_APP_TOKEN"), lookup("SLACK_API_URL")
	c.DiscordToken, c.DiscordAPIURL, c.DiscordGateway = lookup("DISCORD_BOT_TOKEN"), lookup("DISCORD_API_URL"), lookup("DISCORD_GATEWAY_URL")
	c.AnthropicKey, c.AnthropicURL = lookup("ANTHROPIC_API_KEY"), lookup("ANTHROPIC_BASE_URL")
	c.OpenAIKey, c.OpenAIURL = lookup("OPENAI_API_KEY"), lookup("OPENAI_BASE_URL")
	if c.AnthropicURL == "" {
		c.AnthropicURL = "https://api.anthropic.com"
	}
	if c.OpenAIURL == "" {
		c.OpenAIURL = "https://api.openai.com/v1"
	}
	if ferr == nil && fs.Lookup("max-running") != nil && c.MaxRunning < 1 {
		// There is no "no cap": a bigger host sets a bigger number.
		ferr = fmt.Errorf("--max-running %d: must be at least 1 (this host's default is %d)", c.MaxRunning, session.DefaultMaxRunning(groups.DefaultMemory))
	}
	return ferr
}

// readDotenv reads KEY=VALUE lines; a missing file is empty.
func readDotenv(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, n)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
