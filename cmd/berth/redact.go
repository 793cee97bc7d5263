package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/berth-dev/berth/data/paths"
)

// redacted replaces a secret wherever berth would otherwise print it.
const redacted = "[redacted]"

// tokenPattern matches things that look like platform tokens and API keys
// even when berth was not told about them: Slack bot, user and app-level
// tokens, Anthropic keys.
var tokenPattern = regexp.MustCompile(`\b(?:xox[abpors]-|xapp-|sk-ant-)[A-Za-z0-9_\-]{4,}`)

// minSecret is the shortest value treated as a secret; shorter values
// (a placeholder such as "x") would blank out ordinary words.
const minSecret = 6

// redactor removes known secret values and token-shaped strings from text.
type redactor struct {
	secrets *strings.Replacer // nil: none known
}

// newRedactor returns a redactor for the given secret values; empty and
// very short values are ignored.
func newRedactor(secrets []string) *redactor {
	var vals []string
	seen := map[string]bool{}
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecret || seen[s] {
			continue
		}
		seen[s] = true
		vals = append(vals, s)
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	r := &redactor{}
	if len(vals) > 0 {
		pairs := make([]string, 0, 2*len(vals))
		for _, v := range vals {
			pairs = append(pairs, v, redacted)
		}
		r.secrets = strings.NewReplacer(pairs...)
	}
	return r
}

// String returns s with every secret replaced by "[redacted]".
func (r *redactor) String(s string) string {
	if r == nil {
		return s
	}
	if r.secrets != nil {
		s = r.secrets.Replace(s)
	}
	if strings.Contains(s, "xox") || strings.Contains(s, "xapp-") || strings.Contains(s, "sk-ant-") {
		s = tokenPattern.ReplaceAllString(s, redacted)
	}
	return s
}

// value redacts one attribute value: strings, errors, Stringers, groups
// and, when their printed form holds a secret, any other value.
func (r *redactor) value(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := r.String(v.String()); s != v.String() {
			return slog.StringValue(s)
		}
		return v
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, a := range as {
			out[i] = slog.Attr{Key: a.Key, Value: r.value(a.Value)}
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case nil:
			return v
		case error:
			// An error is printed as its message: always a string here,
			// so the redacted form is what every handler shows.
			return slog.StringValue(r.String(x.Error()))
		case fmt.Stringer:
			text = x.String()
		default:
			text = fmt.Sprintf("%+v", x)
		}
		if s := r.String(text); s != text {
			return slog.StringValue(s)
		}
		return v
	}
	return v
}

// redactHandler wraps a handler so that no secret reaches it: in the
// message, in attributes added with With, or in a record's attributes.
type redactHandler struct {
	next slog.Handler
	r    *redactor
}

// newRedactHandler wraps next with redaction by r.
func newRedactHandler(next slog.Handler, r *redactor) slog.Handler {
	return redactHandler{next: next, r: r}
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(slog.Attr{Key: a.Key, Value: h.r.value(a.Value)})
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: a.Key, Value: h.r.value(a.Value)}
	}
	return redactHandler{next: h.next.WithAttrs(out), r: h.r}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{next: h.next.WithGroup(name), r: h.r}
}

// secretValues lists every credential berth knows of: the channel tokens
// in cfg, and the value of every *_API_KEY, *_TOKEN and *_SECRET variable
// in the environment and in $BERTH_HOME/config.
func secretValues(cfg config) []string {
	out := []string{cfg.SlackBotToken, cfg.SlackAppToken, cfg.DiscordToken}
	add := func(k, v string) {
		for _, suffix := range []string{"_API_KEY", "_TOKEN", "_SECRET"} {
			if strings.HasSuffix(strings.ToUpper(k), suffix) {
				out = append(out, v)
				return
			}
		}
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			add(k, v)
		}
	}
	if cfg.Home != "" {
		if file, err := readDotenv(paths.Home(cfg.Home).Config()); err == nil {
			for k, v := range file {
				add(k, v)
			}
		}
	}
	return out
}
