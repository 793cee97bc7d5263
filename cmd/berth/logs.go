package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
)

// logsPoll is how often `berth logs -f` looks for new lines.
const logsPoll = 250 * time.Millisecond

// backupSuffix matches the timestamp lumberjack gives a rotated file:
// berth-2025-01-02T15-04-05.000.log.
var backupSuffix = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log$`)

// logsCommand is `berth logs`.
func (c *commandLine) logsCommand() *ffcli.Command {
	fs := c.flagSet("logs")
	var cfg config
	cfg.settings(fs, flagHome)
	var o logsOptions
	fs.BoolVar(&o.follow, "f", false, "follow: keep printing lines as they are written, across log rotation")
	fs.StringVar(&o.filter.group, "group", "", "only lines of this agent group (folder name)")
	fs.StringVar(&o.filter.session, "session", "", "only lines of this session (an id prefix is enough)")
	fs.StringVar(&o.filter.channel, "channel", "", "only lines of this channel type (slack, discord, terminal)")
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
		if err := o.filter.level.UnmarshalText([]byte(level)); err != nil {
			fmt.Fprintf(stderr, "berth logs: --level: %v\n", err)
			return errUsage
		}
		o.filter.hasLevel = true
	}
	if since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "berth logs: --since: %v\n", err)
			return errUsage
		}
		o.filter.since = t
	}
	if o.last < 0 {
		o.last = 0
		if o.follow && o.filter.since.IsZero() {
			o.last = 10
		}
	}
	return nil
}

// logsOptions is a parsed `berth logs` command line.
type logsOptions struct {
	home       string
	filter     logFilter
	follow     bool
	containers bool
	json       bool
	colour     bool
	last       int // 0: all
	poll       time.Duration
}

// logFilter selects log entries.
type logFilter struct {
	group, session, channel string
	level                   slog.Level
	hasLevel                bool
	since                   time.Time
}

// logEntry is one line of the gateway log or of a container's output.
type logEntry struct {
	time    time.Time
	level   string // gateway: INFO, …; container: stdout or stderr
	msg     string // gateway: the message; container: the line
	fields  []field
	raw     []byte
	session string // container lines: whose
	parsed  bool   // false: not a line berth wrote; shown as is
}

func (e logEntry) get(key string) (string, bool) {
	for _, f := range e.fields {
		if f.key == key {
			return f.val, true
		}
	}
	return "", false
}

// match reports whether a gateway line passes the filter.
func (f logFilter) match(e logEntry) bool {
	if !e.parsed {
		return f == (logFilter{})
	}
	if !f.since.IsZero() && e.time.Before(f.since) {
		return false
	}
	if e.session != "" {
		return true // container lines were chosen by session already
	}
	if f.hasLevel {
		var l slog.Level
		if l.UnmarshalText([]byte(e.level)) != nil || l < f.level {
			return false
		}
	}
	for _, c := range []struct{ key, want string }{{"group", f.group}, {"channel", f.channel}} {
		if c.want == "" {
			continue
		}
		if v, _ := e.get(c.key); v != c.want {
			return false
		}
	}
	if f.session != "" {
		if v, _ := e.get("session"); !strings.HasPrefix(v, f.session) {
			return false
		}
	}
	return true
}

// mayMatch is a cheap test on a raw gateway line that rejects most lines
// a filter would reject, before the line is parsed.
func (f logFilter) mayMatch(raw []byte) bool {
	for _, c := range []struct{ key, want string }{{"group", f.group}, {"channel", f.channel}, {"session", f.session}} {
		if c.want == "" || !plainValue(c.want) {
			continue
		}
		needle := `"` + c.key + `":"` + c.want
		if c.key != "session" {
			needle += `"`
		}
		if !bytes.Contains(raw, []byte(needle)) {
			return false
		}
	}
	return true
}

// plainValue reports whether JSON writes s unescaped.
func plainValue(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// parseSince reads "10m", "3d" or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.Add(-time.Duration(d) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (10m, 2h, 3d) nor a time (2006-01-02T15:04:05Z07:00)", s)
}

// parseGatewayLine parses one slog JSON line, keeping its keys' order;
// nested groups become dotted keys. It is a small scanner rather than
// encoding/json, which is several times slower on a large log.
func parseGatewayLine(raw []byte) logEntry {
	e := logEntry{raw: raw, fields: make([]field, 0, 8)}
	b := skipSpace(raw)
	if len(b) == 0 || b[0] != '{' {
		return e
	}
	rest, err := scanObject(b, "", &e)
	if err != nil || len(skipSpace(rest)) > 0 {
		return logEntry{raw: raw}
	}
	e.parsed = !e.time.IsZero()
	return e
}

var errBadJSON = errors.New("malformed JSON line")

// scanObject reads the object at the start of b into e's fields.
func scanObject(b []byte, prefix string, e *logEntry) ([]byte, error) {
	b = skipSpace(b[1:])
	if len(b) > 0 && b[0] == '}' {
		return b[1:], nil
	}
	for {
		key, rest, err := scanString(skipSpace(b))
		if err != nil {
			return nil, err
		}
		b = skipSpace(rest)
		if len(b) == 0 || b[0] != ':' {
			return nil, errBadJSON
		}
		b = skipSpace(b[1:])
		if len(b) == 0 {
			return nil, errBadJSON
		}
		if b[0] == '{' {
			if b, err = scanObject(b, prefix+key+".", e); err != nil {
				return nil, err
			}
		} else {
			var val string
			if val, b, err = scanValue(b); err != nil {
				return nil, err
			}
			switch {
			case prefix == "" && key == "time":
				e.time, _ = time.Parse(time.RFC3339Nano, val)
			case prefix == "" && key == "level":
				e.level = val
			case prefix == "" && key == "msg":
				e.msg = val
			default:
				e.fields = append(e.fields, field{key: prefix + key, val: val})
			}
		}
		b = skipSpace(b)
		if len(b) == 0 {
			return nil, errBadJSON
		}
		switch b[0] {
		case ',':
			b = b[1:]
		case '}':
			return b[1:], nil
		default:
			return nil, errBadJSON
		}
	}
}

// scanString reads the JSON string at the start of b.
func scanString(b []byte) (string, []byte, error) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, errBadJSON
	}
	escaped := false
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			if !escaped {
				return string(b[1:i]), b[i+1:], nil
			}
			var s string
			if err := json.Unmarshal(b[:i+1], &s); err != nil {
				return "", nil, err
			}
			return s, b[i+1:], nil
		}
	}
	return "", nil, errBadJSON
}

// scanValue reads a string (unquoted), or any other value as written.
func scanValue(b []byte) (string, []byte, error) {
	if b[0] == '"' {
		return scanString(b)
	}
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth == 0 {
				return string(b[:i]), b[i:], nil
			}
			depth--
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return string(b[:i]), b[i:], nil
		}
	}
	if depth > 0 || inString {
		return "", nil, errBadJSON
	}
	return string(b), nil, nil
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// parseContainerLine reads "<RFC 3339 time> <stream> <text>".
func parseContainerLine(line string) (logEntry, bool) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return logEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return logEntry{}, false
	}
	stream, text, _ := strings.Cut(rest, " ")
	return logEntry{time: t, level: stream, msg: text, raw: []byte(line), parsed: true}, true
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
func (p *printer) print(e logEntry) {
	strip := terminal.StripControls
	if p.json {
		if e.session == "" {
			p.w.WriteString(strip(string(e.raw)))
			p.w.WriteByte('\n')
			return
		}
		b, _ := json.Marshal(struct {
			Time    time.Time `json:"time"`
			Session string    `json:"session"`
			Stream  string    `json:"stream"`
			Line    string    `json:"line"`
		}{e.time, e.session, e.level, e.msg})
		// JSON escapes C0 controls but writes C1 ones as they are.
		p.w.WriteString(strip(string(b)))
		p.w.WriteByte('\n')
		return
	}
	var b strings.Builder
	switch {
	case !e.parsed:
		b.WriteString(strip(string(e.raw)))
		b.WriteByte('\n')
	case e.session != "":
		// A container line; the runner's own JSON lines are shown readably.
		fields := []field{{key: "session", val: e.session}}
		msg := e.msg
		if inner := parseGatewayLine([]byte(e.msg)); inner.parsed || (inner.msg != "" && inner.level != "") {
			fields = append(fields, field{key: "level", val: inner.level})
			fields = append(fields, inner.fields...)
			msg = inner.msg
		}
		p.format.write(&b, e.time.Local(), strip(e.level), msg, fields)
	default:
		p.format.write(&b, e.time.Local(), strip(e.level), e.msg, e.fields)
	}
	p.w.WriteString(b.String())
}

// runLogs prints what the options select and, with follow, keeps going
// until ctx is done.
func runLogs(ctx context.Context, o logsOptions, stdout io.Writer) error {
	out := &printer{w: bufio.NewWriterSize(stdout, 64<<10), json: o.json,
		format: lineFormat{colour: o.colour, layout: "2006-01-02 15:04:05.000"}}
	defer out.w.Flush()

	sources := []*logSource{newLogSource(paths.Home(o.home).GatewayLog(), "", o.filter)}
	var sessions *sessionSet
	if o.containers {
		var err error
		if sessions, err = matchingSessions(ctx, o.home, o.filter); err != nil {
			return err
		}
		for _, id := range sessions.list(paths.Home(o.home).SessionLogs()) {
			sources = append(sources, newLogSource(paths.Home(o.home).SessionLog(id), id, o.filter))
		}
	}
	defer func() {
		for _, s := range sources {
			s.close()
		}
	}()

	// What is there now, merged in time order.
	var ring []logEntry
	for {
		if ctx.Err() != nil {
			return nil
		}
		var best *logSource
		for _, s := range sources {
			if h := s.peek(); h != nil && (best == nil || h.time.Before(best.head.time)) {
				best = s
			}
		}
		if best == nil {
			break
		}
		e := *best.head
		best.head = nil
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
				known[s.session] = true
			}
			for _, id := range sessions.list(paths.Home(o.home).SessionLogs()) {
				if !known[id] {
					// A file that appeared while following: all of it is new.
					sources = append(sources, newLogSource(paths.Home(o.home).SessionLog(id), id, o.filter))
				}
			}
		}
		var batch []logEntry
		for _, s := range sources {
			s.tail.checkRotation()
			for h := s.peek(); h != nil; h = s.peek() {
				batch = append(batch, *h)
				s.head = nil
			}
		}
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].time.Before(batch[j].time) })
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
		if !ok || de.IsDir() || backupSuffix.MatchString(name) || !strings.HasPrefix(id, s.prefix) {
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
func matchingSessions(ctx context.Context, home string, f logFilter) (*sessionSet, error) {
	set := &sessionSet{prefix: f.session}
	if f.group == "" && f.channel == "" {
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
	if f.group != "" {
		g, err := store.Group(ctx, f.group)
		if errors.Is(err, data.ErrNotFound) {
			return set, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up group %s: %w", f.group, err)
		}
		sf.AgentGroupID = g.ID
	}
	list, err := store.Sessions(ctx, sf)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	for _, s := range list {
		if f.channel != "" {
			mg, err := store.MessagingGroupByID(ctx, s.MessagingGroupID)
			if err != nil || mg.ChannelType != f.channel {
				continue
			}
		}
		set.ids[s.ID] = true
	}
	return set, nil
}

// logSource yields the matching entries of one log: its rotated backups
// (only those written since --since, and only with --since), then the
// current file, which it can follow across rotation.
type logSource struct {
	session string // "" for the gateway log
	filter  logFilter
	backups []string
	cur     *bufio.Reader
	curFile *os.File
	tail    *tailer
	head    *logEntry
	last    time.Time // of the previous entry, for lines with none
}

func newLogSource(path, session string, f logFilter) *logSource {
	s := &logSource{session: session, filter: f, tail: &tailer{path: path}}
	if !f.since.IsZero() {
		s.backups = backups(path, f.since)
	}
	return s
}

// backups lists a log's rotated files written since t, oldest first.
func backups(path string, t time.Time) []string {
	base := strings.TrimSuffix(filepath.Base(path), ".log")
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), base+"-*.log"))
	var out []string
	for _, m := range matches {
		if !backupSuffix.MatchString(m) || backupSuffix.ReplaceAllString(filepath.Base(m), "") != base {
			continue
		}
		if fi, err := os.Stat(m); err == nil && !fi.ModTime().Before(t) {
			out = append(out, m)
		}
	}
	sort.Strings(out) // the UTC timestamp in the name sorts by time
	return out
}

// peek returns the next matching entry, or nil when there is none yet.
func (s *logSource) peek() *logEntry {
	for s.head == nil {
		raw, ok := s.nextLine()
		if !ok {
			return nil
		}
		var e logEntry
		if s.session == "" {
			if !s.filter.mayMatch(raw) {
				continue
			}
			e = parseGatewayLine(raw)
		} else {
			var ok bool
			if e, ok = parseContainerLine(string(raw)); !ok {
				e = logEntry{msg: string(raw), raw: raw, parsed: true, level: "stdout"}
				e.time = s.last
			}
			e.session = s.session
		}
		if e.time.IsZero() {
			e.time = s.last
		}
		s.last = e.time
		if s.filter.match(e) {
			s.head = &e
		}
	}
	return s.head
}

// nextLine reads the next whole line from the backups, then the current file.
func (s *logSource) nextLine() ([]byte, bool) {
	for s.cur != nil || len(s.backups) > 0 {
		if s.cur == nil {
			f, err := os.Open(s.backups[0])
			s.backups = s.backups[1:]
			if err != nil {
				continue
			}
			s.curFile, s.cur = f, bufio.NewReaderSize(f, 64<<10)
		}
		line, err := s.cur.ReadBytes('\n')
		if len(line) > 0 {
			return bytes.TrimRight(line, "\r\n"), true
		}
		if err != nil {
			s.curFile.Close()
			s.cur, s.curFile = nil, nil
		}
	}
	return s.tail.next()
}

func (s *logSource) close() {
	if s.curFile != nil {
		s.curFile.Close()
	}
	s.tail.close()
}

// tailer reads a log file that is being written, and notices when it is
// rotated (renamed and created anew) or truncated.
type tailer struct {
	path    string
	f       *os.File
	fi      os.FileInfo
	r       *bufio.Reader
	off     int64
	partial []byte
	pending [][]byte // the last lines of a file rotated away
}

// next returns the next complete line, or false when there is none yet.
func (t *tailer) next() ([]byte, bool) {
	if len(t.pending) > 0 {
		line := t.pending[0]
		t.pending = t.pending[1:]
		return line, true
	}
	if t.f == nil && !t.open() {
		return nil, false
	}
	for {
		line, err := t.r.ReadSlice('\n')
		t.off += int64(len(line))
		if err == nil {
			if len(t.partial) > 0 {
				line = append(t.partial, line...)
				t.partial = nil
			} else {
				line = append([]byte(nil), line...)
			}
			return bytes.TrimRight(line, "\r\n"), true
		}
		t.partial = append(t.partial, line...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, false
	}
}

func (t *tailer) open() bool {
	f, err := os.Open(t.path)
	if err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false
	}
	t.f, t.fi, t.r, t.off, t.partial = f, fi, bufio.NewReaderSize(f, 64<<10), 0, nil
	return true
}

// checkRotation switches to the new file at the path when the old one was
// renamed away, keeping the old one's last lines to be read first; it
// starts over when the file was truncated.
func (t *tailer) checkRotation() {
	if t.f == nil {
		return
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return // renamed and not created yet: keep reading the old one
	}
	if !os.SameFile(fi, t.fi) {
		// Keep what the old file still holds before leaving it.
		pending := t.pending
		t.pending = nil
		for {
			line, ok := t.next()
			if !ok {
				break
			}
			pending = append(pending, line)
		}
		t.pending = pending
		t.f.Close()
		t.f = nil
		t.open()
		return
	}
	if fi.Size() < t.off {
		t.f.Seek(0, io.SeekStart)
		t.r.Reset(t.f)
		t.off, t.partial = 0, nil
	}
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
	}
}
