package toolbox

import (
	"testing"
	"time"
)

func TestDate(t *testing.T) {
	runCases(t, []shCase{
		{name: "epoch", script: "date -u -d @0", want: "Thu Jan  1 00:00:00 UTC 1970\n"},
		{name: "format", script: "date -u -d @86399 '+%Y-%m-%d %H:%M:%S %j %a %b %s'", want: "1970-01-01 23:59:59 001 Thu Jan 86399\n"},
		{name: "shorthands", script: "date -u -d @1700000000 +%F_%T_%D_%R_%e_%y_%I%p_%u%w_%%", want: "2023-11-14_22:13:20_11/14/23_22:13_14_23_10PM_22_%\n"},
		{name: "iso", script: "date -u -d 2024-02-29 -I", want: "2024-02-29T00:00:00+00:00\n"},
		{name: "RFC 3339 in", script: "date -u -d 2024-02-29T12:00:00Z +%s", want: "1709208000\n"},
		{name: "unknown conversion kept", script: "date -u -d @0 +%Q", want: "%Q\n"},
		{name: "bad date", script: "date -d yesterday", code: 2},
		{name: "setting refused", script: "date 0101", code: 2},
	})
}

// Now is now: the year date prints is this year (read around the run, so
// a new year's midnight cannot fail it).
func TestDateNow(t *testing.T) {
	before := time.Now().UTC().Format("2006")
	out, _, code := runIn(t, t.TempDir(), "", "date -u +%Y")
	after := time.Now().UTC().Format("2006")
	if code != 0 || (out != before+"\n" && out != after+"\n") {
		t.Fatalf("date -u +%%Y = %q (exit %d), want %s", out, code, before)
	}
}
