package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/census"
)

// statusEvery is how often a running gateway rewrites status.json.
const statusEvery = 10 * time.Second

// gatewayStatus is what a running gateway writes to $BERTH_HOME/status.json
// for `berth status`.
type gatewayStatus struct {
	PID         int             `json:"pid"`
	Started     time.Time       `json:"started"`
	Updated     time.Time       `json:"updated"`
	Version     string          `json:"version"`
	Channels    []channelStatus `json:"channels"`
	MetricsAddr string          `json:"metrics_addr,omitempty"`
	// ConsoleAddr is where the web console is served; "" without one
	// (NoConsole), or from a gateway older than the field, whose console
	// was at MetricsAddr.
	ConsoleAddr string `json:"console_addr,omitempty"`
	// NoConsole says the listener serves metrics and probes only
	// (--metrics-addr alone, reachable from other hosts, no token).
	NoConsole bool `json:"no_console,omitempty"`
}

// channelStatus is one channel the gateway was configured with.
type channelStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Conn is what an adapter with channels.Health reported when the file
	// was written; the reader counts the last event's age.
	Conn *channelConn `json:"conn,omitempty"`
}

// channelConn is channels.Conn as the status file keeps it.
type channelConn struct {
	Connected      bool      `json:"connected"`
	LastEvent      time.Time `json:"last_event,omitzero"`
	Reconnects     int       `json:"reconnects"`
	DeafReconnects int       `json:"deaf_reconnects"`
	LastError      string    `json:"last_error,omitempty"`
}

// observability is the operator's tooling a gateway runs beside its core
// (gateway.Config.Observe): the status file and the capture of
// containers' output. The metrics endpoint is the gateway's own.
type observability struct {
	channels atomic.Pointer[[]channels.Channel] // set once the gateway's channels are known
	capture  func(sessionID, containerID string)
	stops    []func()
}

// startObservability starts the status file writer, which names
// metricsAddr (the gateway's metrics endpoint; "" without one) and
// consoleAddr (its web console; "" without one), and
// container log capture from src (nil: none to capture).
func startObservability(ctx context.Context, cfg config, src outputSource, metricsAddr, consoleAddr string, log *slog.Logger) (_ *observability, err error) {
	o := &observability{}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	clogs := newContainerLogs(cfg.Home, src, log, newRedactor(secretValues(cfg)))
	o.capture = clogs.Capture
	o.stops = append(o.stops, func() { clogs.close(5 * time.Second) })
	st := gatewayStatus{PID: os.Getpid(), Started: time.Now(), Version: version(), Channels: configuredChannelStatus(cfg),
		MetricsAddr: metricsAddr, ConsoleAddr: consoleAddr, NoConsole: metricsAddr != "" && consoleAddr == ""}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	path := paths.Home(cfg.Home).Status()
	go func() {
		defer close(done)
		writeStatusLoop(sctx, path, st, o.channelStates, log)
	}()
	o.stops = append(o.stops, func() {
		cancel()
		<-done
		os.Remove(path)
	})
	return o, nil
}

// close stops what startObservability started, last first.
func (o *observability) close() {
	for i := len(o.stops) - 1; i >= 0; i-- {
		o.stops[i]()
	}
	o.stops = nil
}

// configuredChannelStatus names the channels cfg has credentials for.
func configuredChannelStatus(cfg config) []channelStatus {
	var out []channelStatus
	if cfg.SlackBotToken != "" || cfg.SlackAppToken != "" {
		out = append(out, channelStatus{Name: "slack", State: "configured"})
	}
	if cfg.DiscordToken != "" {
		out = append(out, channelStatus{Name: "discord", State: "configured"})
	}
	return out
}

// setChannels tells the status writer which channels the gateway runs.
func (o *observability) setChannels(chans []channels.Channel) { o.channels.Store(&chans) }

// channelStates describes each running channel's connection, or nil
// before the channels are known.
func (o *observability) channelStates() []channelStatus {
	p := o.channels.Load()
	if p == nil {
		return nil
	}
	var out []channelStatus
	for _, ch := range *p {
		cs := channelStatus{Name: ch.Type(), State: "running"}
		if h, ok := ch.(channels.Health); ok {
			c := h.Health()
			cs.State = c.String()
			cc := channelConn(c) // the same fields: one added to Conn fails to compile here
			cs.Conn = &cc
		}
		out = append(out, cs)
	}
	return out
}

// writeStatusLoop writes the status file now and every statusEvery.
func writeStatusLoop(ctx context.Context, path string, st gatewayStatus, states func() []channelStatus, log *slog.Logger) {
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	for {
		st.Updated = time.Now()
		if cs := states(); cs != nil {
			st.Channels = cs
		}
		if err := writeJSONFile(path, st); err != nil {
			log.Warn("write status file", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writeJSONFile replaces path atomically.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// gatewayRunning reports whether a gateway holds the state folder's lock.
func gatewayRunning(home string) (bool, error) {
	f, err := os.Open(paths.Home(home).Lock())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	// A shared lock conflicts with the gateway's exclusive one and with
	// nothing else, so a probe never stops another `berth status`.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("probe lock file: %w", err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// statusCommand is `berth status`.
func (c *commandLine) statusCommand() *ffcli.Command {
	fs := c.flagSet("status")
	var cfg config
	cfg.settings(fs, append([]string{flagHome, flagDockerHost, flagImage}, runtimeSettings...)...)
	return c.command(leaf{fs: fs, usage: "status [flags]", help: "gateway, channels, sessions, containers and pending messages on one screen", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			return writeStatus(ctx, cfg, c.stdout, time.Now())
		}})
}

// writeStatus prints the one-screen status of the install at cfg.Home.
func writeStatus(ctx context.Context, cfg config, w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("home", "%s", cfg.Home)

	// Gateway and channels.
	up, err := gatewayRunning(cfg.Home)
	var st gatewayStatus
	haveStatus := readJSONFile(paths.Home(cfg.Home).Status(), &st) == nil
	switch {
	case err != nil:
		row("gateway", "unknown: %v", err)
	case up && haveStatus:
		line := fmt.Sprintf("up, pid %d, since %s (%s)", st.PID, st.Started.Local().Format("2006-01-02 15:04"), census.Age(now.Sub(st.Started)))
		switch {
		case st.NoConsole:
			line += ", no console (--metrics-addr is reachable from other hosts and no console token is set)"
		case st.ConsoleAddr != "":
			line += ", console at http://" + st.ConsoleAddr + "/"
		case st.MetricsAddr != "":
			line += ", console at http://" + st.MetricsAddr + "/"
		}
		if st.MetricsAddr != "" {
			line += ", metrics at http://" + st.MetricsAddr + "/metrics"
		}
		if age := now.Sub(st.Updated); age > 3*statusEvery {
			line += fmt.Sprintf(" (status last written %s ago)", census.Age(age))
		}
		row("gateway", "%s", line)
	case up:
		row("gateway", "up")
	default:
		row("gateway", "down (start it with: berth run)")
	}
	if up && haveStatus {
		var names []string
		for _, c := range st.Channels {
			state := c.State
			if c.Conn != nil {
				state = channels.Conn(*c.Conn).Describe(now)
			}
			names = append(names, c.Name+" ("+state+")")
		}
		if len(names) == 0 {
			names = []string{"none configured (berth chat uses the terminal)"}
		}
		row("channels", "%s", strings.Join(names, ", "))
	}

	// Groups and sessions, from the store.
	var active []data.Session
	if _, err := os.Stat(paths.Home(cfg.Home).Store()); err != nil {
		row("store", "none yet (berth run or berth chat creates it)")
	} else if store, err := data.Open(ctx, paths.Home(cfg.Home).Store()); err != nil {
		row("store", "cannot open: %v", err)
	} else {
		defer store.Close()
		if gs, err := store.Groups(ctx); err != nil {
			row("groups", "cannot read: %v", err)
		} else {
			names := make([]string, len(gs))
			for i, g := range gs {
				names[i] = g.Folder
			}
			row("groups", "%d%s", len(gs), prefixed(": ", strings.Join(names, ", ")))
		}
		all, err := store.Sessions(ctx, data.SessionFilter{})
		if err != nil {
			row("sessions", "cannot read: %v", err)
		} else {
			states := map[string]int{}
			closed := 0
			for _, s := range all {
				if s.Status != data.SessionActive {
					closed++
					continue
				}
				active = append(active, s)
				states[string(s.ContainerState)]++
			}
			row("sessions", "%d active%s; %d closed", len(active), prefixed(": ", countList(states)), closed)
		}
	}

	// Messages waiting and failed, from each active session's inbound.db.
	if active != nil {
		pending, failed := census.Messages(ctx, paths.Home(cfg.Home), active, now.Add(-time.Hour))
		row("messages", "%d pending, %d failed in the last hour", pending, failed)
	}

	// Containers, from the runtime (the engine, or the cluster's Pods).
	d, err := openEngine(cfg)
	if err != nil {
		row("containers", "%v", err)
		return nil
	}
	defer d.Close()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = d.Ping(pctx)
	pcancel()
	if err != nil {
		row("containers", "%s unreachable (run berth doctor): %v", engineName(cfg), err)
		return nil
	}
	running, err := census.Running(ctx, d, map[string]string{container.LabelHome: cfg.Home})
	if err != nil {
		row("containers", "%v", err)
		return nil
	}
	row("containers", "%d running", len(running))
	if len(running) == 0 {
		return nil
	}
	stats := map[string]container.Stats{}
	if ss, ok := d.(census.Stats); ok { // the Kubernetes runtime reports none
		stats = census.Measure(ctx, ss, running)
	}
	tw.Flush()
	cw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer cw.Flush()
	fmt.Fprintln(cw, "  NAME\tGROUP\tSESSION\tAGE\tCPU\tMEMORY")
	for _, c := range running {
		cpu, mem := "?", "?"
		if s, ok := stats[c.ID]; ok {
			cpu, mem = fmt.Sprintf("%.1f%%", s.CPUPercent), census.Bytes(s.MemoryBytes)
		}
		fmt.Fprintf(cw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Labels[container.LabelGroup], c.Labels[container.LabelSession],
			census.Age(now.Sub(c.Created)), cpu, mem)
	}
	return nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// countList writes "2 running, 5 stopped", sorted by name.
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
