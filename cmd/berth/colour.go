package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data/logs"
)

// ANSI escapes the readable log form uses.
const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
	ansiGrey   = "\x1b[90m"
)

// wantColour reports whether w is a terminal that should get colour:
// not when NO_COLOR is set or TERM is "dumb".
func wantColour(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// field is one key=value pair of a readable log line.
type field = logs.Field

// lineFormat writes log entries in the readable form:
//
//	15:04:05.000 INFO  routed channel=slack group=main session=0a1b…
type lineFormat struct {
	colour bool
	layout string // time layout
}

// level writes a level name (or a container stream's) padded to five
// columns, in its colour.
func (f lineFormat) level(b *strings.Builder, lvl string) {
	if f.colour {
		b.WriteString(levelColour(lvl))
	}
	fmt.Fprintf(b, "%-5s", lvl)
	if f.colour {
		b.WriteString(ansiReset)
	}
}

// write formats one entry into b, ending with a newline.
func (f lineFormat) write(b *strings.Builder, t time.Time, lvl, msg string, fields []field) {
	if !t.IsZero() {
		f.dim(b, t.Format(f.layout))
		b.WriteByte(' ')
	}
	f.level(b, lvl)
	b.WriteByte(' ')
	if f.colour {
		b.WriteString(ansiBold)
	}
	b.WriteString(oneLine(terminal.StripControls(msg))) // a message may quote agent text
	if f.colour {
		b.WriteString(ansiReset)
	}
	for _, kv := range fields {
		b.WriteByte(' ')
		f.dim(b, terminal.StripControls(kv.Key)+"=")
		b.WriteString(quoteValue(kv.Val))
	}
	b.WriteByte('\n')
}

func (f lineFormat) dim(b *strings.Builder, s string) {
	if f.colour {
		b.WriteString(ansiDim + s + ansiReset)
		return
	}
	b.WriteString(s)
}

func levelColour(lvl string) string {
	switch {
	case strings.HasPrefix(lvl, "ERR"):
		return ansiRed
	case strings.HasPrefix(lvl, "WARN"):
		return ansiYellow
	case strings.HasPrefix(lvl, "INFO"):
		return ansiGreen
	case lvl == "stdout":
		return ansiCyan
	case lvl == "stderr":
		return ansiBlue
	}
	return ansiGrey
}

// quoteValue quotes a value that would not read as one word, or that
// holds a control or a byte that is not UTF-8 (shown escaped, not obeyed).
func quoteValue(s string) string {
	if s == "" {
		return `""`
	}
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r == ' ' || r == '=' || r == '"' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// oneLine keeps a message on its line.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\n\r") {
		return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
	}
	return s
}

// textHandler is a slog.Handler that writes the readable form, coloured
// when asked (on a terminal) and plain otherwise.
type textHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	level  slog.Leveler
	format lineFormat
	attrs  []field // from WithAttrs
	prefix string  // open groups, "a.b."
}

// newTextHandler returns a readable handler writing to w at level and above.
func newTextHandler(w io.Writer, level slog.Leveler, colour bool) *textHandler {
	return &textHandler{mu: &sync.Mutex{}, w: w, level: level, format: lineFormat{colour: colour, layout: "15:04:05.000"}}
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	fields := append([]field(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		fields = appendAttr(fields, h.prefix, a)
		return true
	})
	var b strings.Builder
	h.format.write(&b, r.Time, r.Level.String(), r.Message, fields)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]field(nil), h.attrs...)
	for _, a := range as {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr flattens an attribute (groups become dotted keys).
func appendAttr(fs []field, prefix string, a slog.Attr) []field {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fs
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			fs = appendAttr(fs, p, g)
		}
		return fs
	}
	var s string
	switch v.Kind() {
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			s = err.Error()
		} else {
			s = fmt.Sprint(v.Any())
		}
	default:
		s = v.String()
	}
	return append(fs, field{Key: prefix + a.Key, Val: s})
}
