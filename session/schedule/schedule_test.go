package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParse(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	// The injected clock: Tuesday 2026-12-01 14:10 in Paris (CET, +01:00).
	now := time.Date(2026, 12, 1, 14, 10, 0, 0, paris)
	at := func(y int, mo time.Month, d, h, m int) time.Time { return time.Date(y, mo, d, h, m, 0, 0, paris) }
	tests := []struct {
		text   string
		want   Spec
		prompt string
		err    string
	}{
		{text: "in 20m check the oven", want: Spec{Kind: Once, At: now.Add(20 * time.Minute)}, prompt: "check the oven"},
		{text: "in 2s say hi", want: Spec{Kind: Once, At: now.Add(2 * time.Second)}, prompt: "say hi"},
		{text: "IN 3d  water   the plants", want: Spec{Kind: Once, At: now.Add(72 * time.Hour)}, prompt: "water   the plants"},
		{text: "at 09:00 standup", want: Spec{Kind: Once, At: at(2026, 12, 2, 9, 0)}, prompt: "standup"}, // past today: tomorrow
		{text: "at 15:30 tea", want: Spec{Kind: Once, At: at(2026, 12, 1, 15, 30)}, prompt: "tea"},
		{text: "at 9pm call", want: Spec{Kind: Once, At: at(2026, 12, 1, 21, 0)}, prompt: "call"},
		{text: "tomorrow 9:00 digest", want: Spec{Kind: Once, At: at(2026, 12, 2, 9, 0)}, prompt: "digest"},
		{text: "tomorrow at 7:05 run", want: Spec{Kind: Once, At: at(2026, 12, 2, 7, 5)}, prompt: "run"},
		{text: "at 2026-12-24 18:00 gifts", want: Spec{Kind: Once, At: at(2026, 12, 24, 18, 0)}, prompt: "gifts"},
		{text: "on 2027-01-01 at 00:00 happy new year", want: Spec{Kind: Once, At: at(2027, 1, 1, 0, 0)}, prompt: "happy new year"},
		{text: "every 1h ping", want: Spec{Kind: Interval, Every: time.Hour}, prompt: "ping"},
		{text: "every 30m ping", want: Spec{Kind: Interval, Every: 30 * time.Minute}, prompt: "ping"},
		{text: "every day at 09:00 digest", want: Spec{Kind: Cron, Cron: "0 9 * * *"}, prompt: "digest"},
		{text: "daily 18:30 wrap up", want: Spec{Kind: Cron, Cron: "30 18 * * *"}, prompt: "wrap up"},
		{text: "0 9 * * 1-5 the weekday digest", want: Spec{Kind: Cron, Cron: "0 9 * * 1-5"}, prompt: "the weekday digest"},
		{text: "*/15 * * * * poll", want: Spec{Kind: Cron, Cron: "*/15 * * * *"}, prompt: "poll"},
		{text: "@daily summary", want: Spec{Kind: Cron, Cron: "@daily"}, prompt: "summary"},
		{text: "@every 2h check", want: Spec{Kind: Cron, Cron: "@every 2h"}, prompt: "check"},
		{text: "every 30s too fast", err: "too short"},
		{text: "every 59s too fast", err: "too short"},
		{text: "@every 10s too fast", err: "more often"},
		{text: "in -5m nope", err: "positive duration"},
		{text: "in soon nope", err: "positive duration"},
		{text: "at 25:00 nope", err: "not a time of day"},
		{text: "at 2020-01-01 09:00 nope", err: "in the past"},
		{text: "in 4000d nope", err: "too long"},
		{text: "today 08:00 nope", err: "in the past"},
		{text: "61 * * * * nope", err: "cron expression"},
		{text: "CRON_TZ=UTC 0 9 * * * nope", err: "a schedule is one of"},
		{text: "remind me to stretch", err: "a schedule is one of"},
		{text: "", err: "a schedule is one of"},
	}
	for _, tt := range tests {
		got, prompt, err := Parse(tt.text, now, paris)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.text, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.text, err)
			continue
		}
		if got.Kind != tt.want.Kind || !got.At.Equal(tt.want.At) || got.Every != tt.want.Every || got.Cron != tt.want.Cron {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.text, got, tt.want)
		}
		if prompt != tt.prompt {
			t.Errorf("Parse(%q) prompt = %q, want %q", tt.text, prompt, tt.prompt)
		}
		back, err := Load(got.Kind, got.Expr())
		if err != nil || back.Kind != got.Kind || !back.At.Equal(got.At) || back.Every != got.Every || back.Cron != got.Cron {
			t.Errorf("Load(%s, %q) = %+v, %v; want %+v", got.Kind, got.Expr(), back, err, got)
		}
	}
	if _, _, err := Parse("nothing here", now, paris); !errors.Is(err, ErrNoSchedule) {
		t.Errorf("Parse without a schedule: %v, want ErrNoSchedule", err)
	}
}

// TestDailyAcrossDST: a daily 09:00 task runs at 09:00 local time on both
// sides of each change, whatever the UTC offset.
func TestDailyAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		start time.Time // the day before a change, 10:00 local
	}{
		{"Europe/Paris", time.Date(2026, 3, 27, 10, 0, 0, 0, mustLoc(t, "Europe/Paris"))},          // spring forward on the 29th
		{"Europe/Paris", time.Date(2026, 10, 23, 10, 0, 0, 0, mustLoc(t, "Europe/Paris"))},         // fall back on the 25th
		{"America/New_York", time.Date(2026, 3, 6, 10, 0, 0, 0, mustLoc(t, "America/New_York"))},   // the 8th
		{"America/New_York", time.Date(2026, 10, 30, 10, 0, 0, 0, mustLoc(t, "America/New_York"))}, // November 1st
	} {
		loc := mustLoc(t, tc.zone)
		spec, _, err := Parse("every day at 09:00 digest", tc.start, loc)
		if err != nil {
			t.Fatal(err)
		}
		at := spec.First(tc.start, loc)
		offsets := map[int]bool{}
		for i := range 4 {
			local := at.In(loc)
			if local.Hour() != 9 || local.Minute() != 0 {
				t.Errorf("%s: run %d at %s, want 09:00 local", tc.zone, i, local)
			}
			if want := tc.start.AddDate(0, 0, i+1).Day(); local.Day() != want {
				t.Errorf("%s: run %d on day %d, want %d", tc.zone, i, local.Day(), want)
			}
			_, off := local.Zone()
			offsets[off] = true
			at = spec.Next(at, at, loc)
		}
		if len(offsets) != 2 {
			t.Errorf("%s from %s: the runs saw offsets %v, want both sides of a change", tc.zone, tc.start, offsets)
		}
	}
}

// TestNonexistentAndRepeatedTimes pins what the package doc promises for
// the hour a change skips or repeats.
func TestNonexistentAndRepeatedTimes(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	// 02:30 does not exist on 2026-03-29 in Paris.
	before := time.Date(2026, 3, 28, 12, 0, 0, 0, paris)
	spec, _, err := Parse("at 2026-03-29 02:30 x", before, paris)
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.At.In(paris); got.Hour() != 3 || got.Minute() != 30 || got.Day() != 29 {
		t.Errorf("once at a nonexistent 02:30 runs at %s, want 03:30 that day", got)
	}
	cron := Spec{Kind: Cron, Cron: "30 2 * * *"}
	next := cron.Next(before, before, paris).In(paris)
	if next.Day() != 30 || next.Hour() != 2 || next.Minute() != 30 {
		t.Errorf("cron 02:30 after %s runs at %s, want the 30th at 02:30 (the 29th has none)", before, next)
	}
	// 02:30 happens twice on 2026-10-25: a daily 02:30 runs once that day.
	before = time.Date(2026, 10, 24, 12, 0, 0, 0, paris)
	first := cron.Next(before, before, paris)
	second := cron.Next(first, first, paris)
	if first.In(paris).Day() != 25 || second.In(paris).Day() != 26 {
		t.Errorf("cron 02:30 around the fall-back runs at %s then %s, want once on the 25th then the 26th", first.In(paris), second.In(paris))
	}
}

func TestIntervalStepsFromBase(t *testing.T) {
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := Spec{Kind: Interval, Every: time.Hour}
	for _, tc := range []struct{ after, want time.Time }{
		{base.Add(-time.Minute), base},
		{base, base.Add(time.Hour)},
		{base.Add(3*time.Hour + 10*time.Minute), base.Add(4 * time.Hour)}, // late: the grid holds
	} {
		if got := s.Next(tc.after, base, time.UTC); !got.Equal(tc.want) {
			t.Errorf("Next(%s) = %s, want %s", tc.after, got, tc.want)
		}
	}
	if got := (Spec{Kind: Once, At: base}).Next(base, base, time.UTC); !got.IsZero() {
		t.Errorf("a once task past its time has a next run: %s", got)
	}
}

func TestDescribe(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		s    Spec
		want string
	}{
		{Spec{Kind: Once, At: at}, "once at 2026-12-02 09:00 CET"},
		{Spec{Kind: Interval, Every: time.Hour}, "every 1h"},
		{Spec{Kind: Interval, Every: 90 * time.Minute}, "every 1h30m"},
		{Spec{Kind: Cron, Cron: "0 9 * * *"}, "cron 0 9 * * *"},
	} {
		if got := tc.s.Describe(paris); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
