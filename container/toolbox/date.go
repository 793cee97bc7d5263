package toolbox

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// date prints the time: now, or -d TIME (@SECONDS, RFC 3339,
// "2006-01-02", "2006-01-02 15:04:05"), in the local zone or UTC (-u), as
// `Tue Dec  1 11:15:26 UTC 2026` or +FORMAT with strftime's common
// conversions (%Y %m %d %H %M %S %s %N %j %a %A %b %B %e %y %I %p %Z %z
// %T %D %F %R %u %w %n %t %%). -I prints RFC 3339 (ISO 8601) seconds.
func date(c *call, args []string) int {
	o, operands, err := getopt(args, "ud:I", map[string]byte{"utc": 'u', "universal": 'u', "date": 'd', "iso-8601": 'I'})
	if err != nil {
		return c.usage(err)
	}
	t := time.Now()
	if s := o.last('d', ""); o.has('d') {
		if t, err = parseDate(s); err != nil {
			return c.usage(err)
		}
	}
	if o.has('u') {
		t = t.UTC()
	}
	format := "%a %b %e %H:%M:%S %Z %Y"
	if o.has('I') {
		format = "%Y-%m-%dT%H:%M:%S%:z"
	}
	for _, a := range operands {
		if !strings.HasPrefix(a, "+") {
			return c.usage(errors.New("setting the time is not supported"))
		}
		format = a[1:]
	}
	out := output(c.stdout)
	out.WriteString(strftime(t, format) + "\n")
	return c.finish(out, 0)
}

func parseDate(s string) (time.Time, error) {
	if secs, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid date %q", s)
		}
		return time.Unix(n, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", s)
}

// layouts are the verbs that are a Go time layout as they stand.
var layouts = map[byte]string{
	'a': "Mon",
	'A': "Monday",
	'b': "Jan",
	'h': "Jan",
	'B': "January",
	'p': "PM",
	'Z': "MST",
	'z': "-0700",
	'T': "15:04:05",
	'R': "15:04",
	'D': "01/02/06",
	'F': "2006-01-02",
}

// strftime formats t; an unknown conversion is printed as it is.
func strftime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		if layout, ok := layouts[f[i]]; ok {
			b.WriteString(t.Format(layout))
			continue
		}
		switch f[i] {
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'C':
			fmt.Fprintf(&b, "%02d", t.Year()/100)
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'N':
			fmt.Fprintf(&b, "%09d", t.Nanosecond())
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case ':':
			if i+1 < len(f) && f[i+1] == 'z' {
				i++
				b.WriteString(t.Format("-07:00"))
			} else {
				b.WriteString("%:")
			}
		case 'u':
			b.WriteString(strconv.Itoa((int(t.Weekday())+6)%7 + 1))
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
