package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/logs"
	"github.com/berth-dev/berth/data/paths"
)

// logsPoll is how often `berth logs -f` looks for new lines.
const logsPoll = 250 * time.Millisecond

// logsCommand is `berth logs`.
func (c *commandLine) logsCommand() *ffcli.Command {
	fs := c.flagSet("logs")
	var cfg config
	cfg.settings(fs, flagHome)
	var o logsOptions
	fs.BoolVar(&o.follow, "f", false, "follow: keep printing lines as they are written, across log rotation")
	fs.StringVar(&o.filter.Group, "group", "", "only lines of this agent group (folder name)")
	fs.StringVar(&o.filter.Session, "session", "", "only lines of this session (an id prefix is enough)")
	fs.StringVar(&o.filter.Channel, "channel", "", "only lines of this channel type (slack, discord, terminal)")
	level := fs.String("level", "", "only lines at this level or above: debug, info, warn, error")
	since := fs.String("since", "", "only lines since this long ago (10m, 2h, 3d) or this time (RFC 3339); reads rotated files too")
	fs.BoolVar(&o.containers, "containers", false, "interleave the matching sessions' container output, in time order")
	fs.BoolVar(&o.json, "json", false, "print JSON lines as stored instead of the readable form")
	fs.IntVar(&o.last, "n", -1, "only the last n matching lines before following (default: all; with -f and no --since, 10)")
	return c.command(leaf{fs: fs, usage: "logs [-f] [flags]", help: "print the gateway log, filtered; --containers adds the agents' output", cfg: &cfg,
		check: func() error { return o.parse(*level, *since, c.stderr) },
		run: func(ctx context.Context, _ []string) error {
			o.home, o.poll = cfg.Home, logsPoll
			o.colour = !o.json && wantColour(c.stdout)
			return runLogs(ctx, o, c.stdout)
		}})
}

// parse completes o from the flags that are text on the command line.
func (o *logsOptions) parse(level, since string, stderr io.Writer) error {
	if level != "" {
		if err := o.filter.Level.UnmarshalText([]byte(level)); err != nil {
			fmt.Fprintf(stderr, "berth logs: --level: %v\n", err)
			return errUsage
		}
		o.filter.HasLevel = true
	}
	if since != "" {
		t, err := logs.ParseSince(since, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "berth logs: --since: %v\n", err)
			return errUsage
		}
		o.filter.Since = t
	}
	if o.last < 0 {
		o.last = 0
		if o.follow && o.filter.Since.IsZero() {
			o.last = 10
		}
	}
	return nil
}

// logsOptions is a parsed `berth logs` command line.
type logsOptions struct {
	home       string
	filter     logs.Filter
	follow     bool
	containers bool
	json       bool
	colour     bool
	last       int // 0: all
	poll       time.Duration
}

// printer writes entries in the chosen form.
type printer struct {
	w      *bufio.Writer
	json   bool
	format lineFormat
}

// print writes one entry. Any text in it may come from an agent (its
// output, an error quoting it), so no control reaches the terminal: the
// readable form strips or quotes them (lineFormat), the rest is stripped
// here.
func (p *printer) print(e logs.Entry) {
	strip := terminal.StripControls
	if p.json {
		if e.Session == "" {
			p.w.WriteString(strip(string(e.Raw)))
			p.w.WriteByte('\n')
			return
		}
		b, _ := json.Marshal(struct {
			Time    time.Time `json:"time"`
			Session string    `json:"session"`
			Stream  string    `json:"stream"`
			Line    string    `json:"line"`
		}{e.Time, e.Session, e.Level, e.Msg})
		// JSON escapes C0 controls but writes C1 ones as they are.
		p.w.WriteString(strip(string(b)))
		p.w.WriteByte('\n')
		return
	}
	var b strings.Builder
	switch {
	case !e.Parsed:
		b.WriteString(strip(string(e.Raw)))
		b.WriteByte('\n')
	case e.Session != "":
		// A container line; the runner's own JSON lines are shown readably.
		fields := []field{{Key: "session", Val: e.Session}}
		msg := e.Msg
		if inner := logs.ParseGatewayLine([]byte(e.Msg)); inner.Parsed || (inner.Msg != "" && inner.Level != "") {
			fields = append(fields, field{Key: "level", Val: inner.Level})
			fields = append(fields, inner.Fields...)
			msg = inner.Msg
		}
		p.format.write(&b, e.Time.Local(), strip(e.Level), msg, fields)
	default:
		p.format.write(&b, e.Time.Local(), strip(e.Level), e.Msg, e.Fields)
	}
	p.w.WriteString(b.String())
}

// runLogs prints what the options select and, with follow, keeps going
// until ctx is done.
func runLogs(ctx context.Context, o logsOptions, stdout io.Writer) error {
	out := &printer{w: bufio.NewWriterSize(stdout, 64<<10), json: o.json,
		format: lineFormat{colour: o.colour, layout: "2006-01-02 15:04:05.000"}}
	defer out.w.Flush()

	sources := []*logs.Source{logs.NewSource(paths.Home(o.home).GatewayLog(), "", o.filter)}
	var sessions *sessionSet
	if o.containers {
		var err error
		if sessions, err = matchingSessions(ctx, o.home, o.filter); err != nil {
			return err
		}
		for _, id := range sessions.list(paths.Home(o.home).SessionLogs()) {
			sources = append(sources, logs.NewSource(paths.Home(o.home).SessionLog(id), id, o.filter))
		}
	}
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()

	// What is there now, merged in time order.
	var ring []logs.Entry
	for {
		if ctx.Err() != nil {
			return nil
		}
		var best *logs.Source
		for _, s := range sources {
			if h := s.Peek(); h != nil && (best == nil || h.Time.Before(best.Peek().Time)) {
				best = s
			}
		}
		if best == nil {
			break
		}
		e, _ := best.Take()
		if o.last > 0 {
			if len(ring) == o.last {
				ring = ring[1:]
			}
			ring = append(ring, e)
			continue
		}
		out.print(e)
	}
	for _, e := range ring {
		out.print(e)
	}
	if err := out.w.Flush(); err != nil || !o.follow {
		return err
	}

	// Then what comes.
	t := time.NewTicker(o.poll)
	defer t.Stop()
	rescan := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if sessions != nil && time.Since(rescan) > 2*time.Second {
			rescan = time.Now()
			known := map[string]bool{}
			for _, s := range sources {
				known[s.SessionID()] = true
			}
			for _, id := range sessions.list(paths.Home(o.home).SessionLogs()) {
				if !known[id] {
					// A file that appeared while following: all of it is new.
					sources = append(sources, logs.NewSource(paths.Home(o.home).SessionLog(id), id, o.filter))
				}
			}
		}
		var batch []logs.Entry
		for _, s := range sources {
			s.CheckRotation()
			for e, ok := s.Take(); ok; e, ok = s.Take() {
				batch = append(batch, e)
			}
		}
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].Time.Before(batch[j].Time) })
		for _, e := range batch {
			out.print(e)
		}
		if err := out.w.Flush(); err != nil {
			return err
		}
	}
}

// sessionSet is the sessions whose container output is shown.
type sessionSet struct {
	prefix string          // --session
	ids    map[string]bool // nil: any
}

func (s *sessionSet) list(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, de := range entries {
		name := de.Name()
		id, ok := paths.SessionLogID(name)
		if !ok || de.IsDir() || logs.BackupSuffix.MatchString(name) || !strings.HasPrefix(id, s.prefix) {
			continue
		}
		if s.ids != nil && !s.ids[id] {
			continue
		}
		out = append(out, id)
	}
	return out
}

// matchingSessions decides whose container output matches the filter: by
// id prefix, and for --group or --channel by what the store knows.
func matchingSessions(ctx context.Context, home string, f logs.Filter) (*sessionSet, error) {
	set := &sessionSet{prefix: f.Session}
	if f.Group == "" && f.Channel == "" {
		return set, nil
	}
	set.ids = map[string]bool{}
	file := paths.Home(home).Store()
	if _, err := os.Stat(file); err != nil {
		return set, nil // no store: no sessions
	}
	store, err := data.Open(ctx, file)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	var sf data.SessionFilter
	if f.Group != "" {
		g, err := store.Group(ctx, f.Group)
		if errors.Is(err, data.ErrNotFound) {
			return set, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up group %s: %w", f.Group, err)
		}
		sf.AgentGroupID = g.ID
	}
	list, err := store.Sessions(ctx, sf)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	for _, s := range list {
		if f.Channel != "" {
			mg, err := store.MessagingGroupByID(ctx, s.MessagingGroupID)
			if err != nil || mg.ChannelType != f.Channel {
				continue
			}
		}
		set.ids[s.ID] = true
	}
	return set, nil
}
