// Package logs reads berth's own log files under BERTH_HOME/logs: the
// gateway's JSON log (slog lines) and each session's captured container
// output, with their rotated backups. It filters lines as `berth logs`
// does and follows a file as it grows and rotates; `berth logs` and the
// web console (session/console) both read through it, so both show the
// same lines for the same filter.
package logs

import (
	"bufio"
	"bytes"
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
)

// BackupSuffix matches the timestamp lumberjack gives a rotated file:
// berth-2025-01-02T15-04-05.000.log.
var BackupSuffix = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log$`)

// Filter selects log entries, as `berth logs`' flags do.
type Filter struct {
	Group, Session, Channel string // "" matches any; Session is an id prefix
	Level                   slog.Level
	HasLevel                bool      // Level is set
	Since                   time.Time // zero: from the start
}

// Entry is one line of the gateway log or of a container's output.
type Entry struct {
	Time    time.Time
	Level   string // gateway: INFO, …; container: stdout or stderr
	Msg     string // gateway: the message; container: the line
	Fields  []Field
	Raw     []byte
	Session string // container lines: whose
	Parsed  bool   // false: not a line berth wrote; shown as is
}

// Field is one key=value pair of a log line; nested groups are dotted keys.
type Field struct {
	Key, Val string
}

// Get is the value of the entry's field key.
func (e Entry) Get(key string) (string, bool) {
	for _, f := range e.Fields {
		if f.Key == key {
			return f.Val, true
		}
	}
	return "", false
}

// Match reports whether a gateway line passes the filter.
func (f Filter) Match(e Entry) bool {
	if !e.Parsed {
		return f == (Filter{})
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if e.Session != "" {
		return true // container lines were chosen by session already
	}
	if f.HasLevel {
		var l slog.Level
		if l.UnmarshalText([]byte(e.Level)) != nil || l < f.Level {
			return false
		}
	}
	for _, c := range []struct{ key, want string }{{"group", f.Group}, {"channel", f.Channel}} {
		if c.want == "" {
			continue
		}
		if v, _ := e.Get(c.key); v != c.want {
			return false
		}
	}
	if f.Session != "" {
		if v, _ := e.Get("session"); !strings.HasPrefix(v, f.Session) {
			return false
		}
	}
	return true
}

// MayMatch is a cheap test on a raw gateway line that rejects most lines
// a filter would reject, before the line is parsed.
func (f Filter) MayMatch(raw []byte) bool {
	for _, c := range []struct{ key, want string }{{"group", f.Group}, {"channel", f.Channel}, {"session", f.Session}} {
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

// ParseSince reads "10m", "3d" or a time.
func ParseSince(s string, now time.Time) (time.Time, error) {
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

// ParseGatewayLine parses one slog JSON line, keeping its keys' order;
// nested groups become dotted keys. It is a small scanner rather than
// encoding/json, which is several times slower on a large log.
func ParseGatewayLine(raw []byte) Entry {
	e := Entry{Raw: raw, Fields: make([]Field, 0, 8)}
	b := skipSpace(raw)
	if len(b) == 0 || b[0] != '{' {
		return e
	}
	rest, err := scanObject(b, "", &e)
	if err != nil || len(skipSpace(rest)) > 0 {
		return Entry{Raw: raw}
	}
	e.Parsed = !e.Time.IsZero()
	return e
}

var errBadJSON = errors.New("malformed JSON line")

// scanObject reads the object at the start of b into e's fields.
func scanObject(b []byte, prefix string, e *Entry) ([]byte, error) {
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
				e.Time, _ = time.Parse(time.RFC3339Nano, val)
			case prefix == "" && key == "level":
				e.Level = val
			case prefix == "" && key == "msg":
				e.Msg = val
			default:
				e.Fields = append(e.Fields, Field{Key: prefix + key, Val: val})
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

// ParseContainerLine reads "<RFC 3339 time> <stream> <text>".
func ParseContainerLine(line string) (Entry, bool) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return Entry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Entry{}, false
	}
	stream, text, _ := strings.Cut(rest, " ")
	return Entry{Time: t, Level: stream, Msg: text, Raw: []byte(line), Parsed: true}, true
}

// Source yields the matching entries of one log: its rotated backups
// (only those written since --since, and only with --since), then the
// current file, which it can follow across rotation.
type Source struct {
	session string // "" for the gateway log
	filter  Filter
	backups []string
	cur     *bufio.Reader
	curFile *os.File
	tail    *tailer
	head    *Entry
	last    time.Time // of the previous entry, for lines with none
}

// NewSource reads the log at path: the gateway log when session is "",
// else that session's container output. Close it when done.
func NewSource(path, session string, f Filter) *Source {
	s := &Source{session: session, filter: f, tail: &tailer{path: path}}
	if !f.Since.IsZero() {
		s.backups = backups(path, f.Since)
	}
	return s
}

// backups lists a log's rotated files written since t, oldest first.
func backups(path string, t time.Time) []string {
	base := strings.TrimSuffix(filepath.Base(path), ".log")
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), base+"-*.log"))
	var out []string
	for _, m := range matches {
		if !BackupSuffix.MatchString(m) || BackupSuffix.ReplaceAllString(filepath.Base(m), "") != base {
			continue
		}
		if fi, err := os.Stat(m); err == nil && !fi.ModTime().Before(t) {
			out = append(out, m)
		}
	}
	sort.Strings(out) // the UTC timestamp in the name sorts by time
	return out
}

// FromTail makes s start within the last n bytes of the current file (at
// the first line that begins there) and skip the rotated backups: a page
// that shows a log's last lines reads a bounded part of it, whatever the
// log's size. Call it before the first read.
func (s *Source) FromTail(n int64) {
	s.backups = nil
	s.tail.fromTail = n
}

// SessionID is the session whose output s reads; "" for the gateway log.
func (s *Source) SessionID() string { return s.session }

// Take returns the next matching entry and moves past it, or false when
// there is none yet.
func (s *Source) Take() (Entry, bool) {
	h := s.Peek()
	if h == nil {
		return Entry{}, false
	}
	s.head = nil
	return *h, true
}

// CheckRotation notices a log rotated or truncated since the last read,
// so that the next reads follow the new file.
func (s *Source) CheckRotation() { s.tail.checkRotation() }

// Peek returns the next matching entry, or nil when there is none yet; it
// stays next until Take.
func (s *Source) Peek() *Entry {
	for s.head == nil {
		raw, ok := s.nextLine()
		if !ok {
			return nil
		}
		var e Entry
		if s.session == "" {
			if !s.filter.MayMatch(raw) {
				continue
			}
			e = ParseGatewayLine(raw)
		} else {
			var ok bool
			if e, ok = ParseContainerLine(string(raw)); !ok {
				e = Entry{Msg: string(raw), Raw: raw, Parsed: true, Level: "stdout"}
				e.Time = s.last
			}
			e.Session = s.session
		}
		if e.Time.IsZero() {
			e.Time = s.last
		}
		s.last = e.Time
		if s.filter.Match(e) {
			s.head = &e
		}
	}
	return s.head
}

// nextLine reads the next whole line from the backups, then the current file.
func (s *Source) nextLine() ([]byte, bool) {
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

// Close closes the files s has open.
func (s *Source) Close() {
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
	// fromTail, when set, starts the first file opened this many bytes
	// before its end (see Source.FromTail).
	fromTail int64
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
	if n := t.fromTail; n > 0 && fi.Size() > n {
		// From the byte before, so that a start on a line's first byte
		// keeps that line.
		if _, err := f.Seek(fi.Size()-n-1, io.SeekStart); err == nil {
			t.r.Reset(f)
			t.off = fi.Size() - n - 1
			// The rest of the line the start falls in is not a line.
			for {
				part, err := t.r.ReadSlice('\n')
				t.off += int64(len(part))
				if !errors.Is(err, bufio.ErrBufferFull) {
					break
				}
			}
		}
	}
	t.fromTail = 0 // a file rotated in later is read whole
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
