// Package schedule is the grammar of a task's schedule and its time math:
// what `!schedule` and the agent's schedule_task accept ("in 20m",
// "at 09:00", "tomorrow 9:00", "every 30m", a cron expression), and when
// a schedule runs next in a time zone.
//
// Cron expressions are parsed by github.com/robfig/cron/v3; this package
// only decides which words are the schedule and which the prompt.
//
// Time zones and daylight saving time: a wall-clock schedule ("at 09:00",
// a cron expression) is evaluated in its time.Location, so a daily 09:00
// task runs at 09:00 local time on both sides of a change. A wall-clock
// time that does not exist that day (02:30 when the clocks jump from
// 02:00 to 03:00) runs, for a once task, at the same distance past the gap
// (03:30, Go's time.Date normalisation); a cron task skips that day's run
// (robfig/cron's behaviour: its next run is the next day's). A time that
// happens twice (the clocks go back) runs once, at its first occurrence.
// An interval ("every 30m") is absolute time and ignores the clock.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"
)

// Kind is how a schedule repeats.
type Kind string

// Kinds of schedule.
const (
	Once     Kind = "once"     // one run, at Spec.At
	Cron     Kind = "cron"     // a cron expression, in the task's time zone
	Interval Kind = "interval" // every Spec.Every, from the creation time
)

// MinInterval is the shortest interval (and the shortest gap between a
// cron expression's runs, for "@every") a task may have.
const MinInterval = time.Minute

// MaxAhead is how far in the future a once task may be set.
const MaxAhead = 5 * 366 * 24 * time.Hour

// Spec is a parsed schedule.
type Spec struct {
	Kind  Kind
	At    time.Time     // Once: the instant it runs
	Every time.Duration // Interval
	Cron  string        // Cron: the expression, as robfig/cron parses it
}

// Expr is the schedule's stored form, which Load reads back: an RFC 3339
// instant, a Go duration, or the cron expression.
func (s Spec) Expr() string {
	switch s.Kind {
	case Once:
		return s.At.UTC().Format(time.RFC3339)
	case Interval:
		return s.Every.String()
	}
	return s.Cron
}

// Load reads a stored schedule back (the inverse of Kind and Expr).
func Load(kind Kind, expr string) (Spec, error) {
	switch kind {
	case Once:
		t, err := time.Parse(time.RFC3339, expr)
		if err != nil {
			return Spec{}, fmt.Errorf("schedule once %q: %w", expr, err)
		}
		return Spec{Kind: Once, At: t}, nil
	case Interval:
		d, err := time.ParseDuration(expr)
		if err != nil || d < MinInterval {
			return Spec{}, fmt.Errorf("schedule interval %q: not a duration of at least %s", expr, MinInterval)
		}
		return Spec{Kind: Interval, Every: d}, nil
	case Cron:
		if _, err := parseCron(expr); err != nil {
			return Spec{}, err
		}
		return Spec{Kind: Cron, Cron: expr}, nil
	}
	return Spec{}, fmt.Errorf("schedule kind %q is not known", kind)
}

// Recurring reports whether the schedule runs more than once.
func (s Spec) Recurring() bool { return s.Kind != Once }

// Next is the first time the schedule runs strictly after t, in loc; the
// zero time when it never does again (a once task past its time).
// Interval schedules step from base (their first due time) in whole
// intervals, so a late run does not shift the ones after it.
func (s Spec) Next(t, base time.Time, loc *time.Location) time.Time {
	switch s.Kind {
	case Once:
		if s.At.After(t) {
			return s.At
		}
		return time.Time{}
	case Interval:
		if s.Every <= 0 {
			return time.Time{}
		}
		if base.After(t) {
			return base
		}
		n := t.Sub(base)/s.Every + 1
		return base.Add(n * s.Every)
	case Cron:
		sched, err := parseCron(s.Cron)
		if err != nil {
			return time.Time{}
		}
		n := sched.Next(t.In(loc))
		// robfig/cron runs a wall-clock time the clocks go back over
		// twice; the package promises once, at its first occurrence.
		for i := 0; i < 4 && repeated(n, loc); i++ {
			n = sched.Next(n)
		}
		return n
	}
	return time.Time{}
}

// repeated reports whether t's wall clock in loc already happened
// earlier (the clocks went back over it): zone changes move clocks by
// 30 min, 1 h or 2 h.
func repeated(t time.Time, loc *time.Location) bool {
	if t.IsZero() {
		return false
	}
	w := t.In(loc)
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		p := t.Add(-back).In(loc)
		if p.Hour() == w.Hour() && p.Minute() == w.Minute() && p.Day() == w.Day() {
			return true
		}
	}
	return false
}

// First is the schedule's first due time after now (a once task: its time).
func (s Spec) First(now time.Time, loc *time.Location) time.Time {
	switch s.Kind {
	case Once:
		return s.At
	case Interval:
		return now.Add(s.Every)
	}
	return s.Next(now, now, loc)
}

// Describe says the schedule for a person, in loc: "once at 2026-12-02
// 09:00 CET", "every 30m", "cron 0 9 * * 1-5".
func (s Spec) Describe(loc *time.Location) string {
	switch s.Kind {
	case Once:
		return "once at " + s.At.In(loc).Format("2006-01-02 15:04 MST")
	case Interval:
		return "every " + shortDuration(s.Every)
	}
	return "cron " + s.Cron
}

// shortDuration drops a Go duration's empty trailing units: 1h0m0s is 1h.
func shortDuration(d time.Duration) string {
	str := d.String()
	if strings.HasSuffix(str, "m0s") {
		str = strings.TrimSuffix(str, "0s")
	}
	if strings.HasSuffix(str, "h0m") {
		str = strings.TrimSuffix(str, "0m")
	}
	return str
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses a five-field cron expression or a descriptor
// (@daily, @every 1h). A time zone prefix is refused: a task runs in its
// group's time zone.
func parseCron(expr string) (cron.Schedule, error) {
	if strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=") {
		return nil, errors.New("a cron expression may not name its own time zone; the task runs in its group's (the timezone key)")
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	if d, ok := sched.(cron.ConstantDelaySchedule); ok && d.Delay < MinInterval {
		return nil, fmt.Errorf("cron expression %q runs more often than every %s, the shortest interval allowed", expr, MinInterval)
	}
	return sched, nil
}

// ErrNoSchedule is Parse's error when the text does not start with a schedule.
var ErrNoSchedule = errors.New(`a schedule is one of: "in 20m", "at 09:00", "at 2026-12-24 09:00", "tomorrow 9:00", ` +
	`"every 30m", "every day at 09:00", or a cron expression such as "0 9 * * 1-5" (five fields) or "@daily"`)

// Parse reads the schedule at the start of text and returns it with the
// rest of the text (the prompt), trimmed. now is the clock and loc the
// time zone wall-clock times are read in. It refuses an interval under
// MinInterval, a time in the past and a time more than MaxAhead ahead;
// text that starts with no schedule is ErrNoSchedule.
func Parse(text string, now time.Time, loc *time.Location) (Spec, string, error) {
	words := strings.Fields(text)
	lower := func(i int) string {
		if i < len(words) {
			return strings.ToLower(words[i])
		}
		return ""
	}
	rest := func(n int) string { return restAfter(text, n) }
	switch lower(0) {
	case "":
		return Spec{}, "", ErrNoSchedule
	case "in":
		d, err := parseDuration(lower(1))
		if err != nil {
			return Spec{}, "", fmt.Errorf(`"in %s": %w`, truncate(lower(1), 20), err)
		}
		return once(now.Add(d), now, rest(2))
	case "at", "on", "tomorrow", "today":
		n := 1
		day := now.In(loc)
		dated := false
		switch lower(0) {
		case "tomorrow":
			day = day.AddDate(0, 0, 1)
			dated = true
		case "today":
			dated = true
		}
		if n > 0 && lower(0) != "at" && lower(1) == "at" {
			n++
		}
		if d, err := time.ParseInLocation("2006-01-02", lower(n), loc); err == nil && !dated {
			day, dated = d, true
			n++
			if lower(n) == "at" {
				n++
			}
		}
		h, m, err := parseClock(lower(n))
		if err != nil {
			return Spec{}, "", err
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
		if !dated && !at.After(now) {
			next := day.AddDate(0, 0, 1)
			at = time.Date(next.Year(), next.Month(), next.Day(), h, m, 0, 0, loc)
		}
		return once(at, now, rest(n+1))
	case "every", "daily":
		n := 1
		if lower(0) == "every" {
			if lower(1) != "day" {
				d, err := parseDuration(lower(1))
				if err != nil {
					return Spec{}, "", fmt.Errorf(`"every %s": %w`, truncate(lower(1), 20), err)
				}
				if d < MinInterval {
					return Spec{}, "", fmt.Errorf("an interval of %s is too short: the shortest is %s", d, MinInterval)
				}
				return Spec{Kind: Interval, Every: d}, rest(2), nil
			}
			n = 2
		}
		if lower(n) == "at" {
			n++
		}
		h, m, err := parseClock(lower(n))
		if err != nil {
			return Spec{}, "", err
		}
		return Spec{Kind: Cron, Cron: fmt.Sprintf("%d %d * * *", m, h)}, rest(n + 1), nil
	}
	if strings.HasPrefix(words[0], "@") {
		n := 1
		if lower(0) == "@every" {
			n = 2
		}
		expr := strings.Join(words[:min(n, len(words))], " ")
		if _, err := parseCron(expr); err != nil {
			return Spec{}, "", err
		}
		return Spec{Kind: Cron, Cron: expr}, rest(n), nil
	}
	if len(words) >= 5 && cronField(words[0]) {
		expr := strings.Join(words[:5], " ")
		if _, err := parseCron(expr); err != nil {
			return Spec{}, "", err
		}
		return Spec{Kind: Cron, Cron: expr}, rest(5), nil
	}
	return Spec{}, "", ErrNoSchedule
}

func once(at, now time.Time, prompt string) (Spec, string, error) {
	switch {
	case !at.After(now):
		return Spec{}, "", fmt.Errorf("%s is in the past", at.Format("2006-01-02 15:04 MST"))
	case at.Sub(now) > MaxAhead:
		return Spec{}, "", fmt.Errorf("%s is more than five years ahead", at.Format("2006-01-02 15:04 MST"))
	}
	// Whole seconds, never early: "in 2s" is not 1.4 s.
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return Spec{Kind: Once, At: at}, prompt, nil
}

// cronField reports whether w may be a cron expression's minute field.
func cronField(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) && !strings.ContainsRune("*/,-?", r) {
			return false
		}
	}
	return w != ""
}

// parseDuration reads "20m", "2h30m", "90s", "3d" (days of 24 h).
func parseDuration(w string) (time.Duration, error) {
	if w == "" {
		return 0, errors.New("needs a duration such as 20m, 2h or 3d")
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(w, "d"); ok {
		var n int
		n, err := strconv.Atoi(days)
		if err == nil && n > 5*366 {
			return 0, errors.New("is too long: at most five years")
		}
		d = time.Duration(n) * 24 * time.Hour
		if err != nil {
			d = 0
		}
	} else {
		d, err = time.ParseDuration(w)
	}
	if err != nil || d <= 0 {
		return 0, errors.New("needs a positive duration such as 20m, 2h or 3d")
	}
	return d, nil
}

// parseClock reads "9:00", "09:00", "9", "9am", "9:30pm", "21:30".
func parseClock(w string) (int, int, error) {
	bad := fmt.Errorf("%q is not a time of day (such as 09:00, 9:30 or 9pm)", truncate(w, 20))
	pm, am := strings.HasSuffix(w, "pm"), strings.HasSuffix(w, "am")
	if pm || am {
		w = w[:len(w)-2]
	}
	hs, ms, hasMin := strings.Cut(w, ":")
	h, err := strconv.Atoi(hs)
	if err != nil || len(hs) > 2 {
		return 0, 0, bad
	}
	m := 0
	if hasMin {
		if m, err = strconv.Atoi(ms); err != nil || len(ms) != 2 {
			return 0, 0, bad
		}
	}
	if pm || am {
		if h < 1 || h > 12 {
			return 0, 0, bad
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, 0, bad
	}
	return h, m, nil
}

// restAfter is text after its first n words, trimmed.
func restAfter(text string, n int) string {
	s := strings.TrimSpace(text)
	for range n {
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			return ""
		}
		s = strings.TrimSpace(s[i:])
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
