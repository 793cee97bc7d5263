package toolbox

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// sleep waits for the sum of its durations: numbers of seconds, with an
// optional fraction and unit (s, m, h, d). Cancelling the shell (its
// time limit) ends the wait, exit code 1.
func sleep(c *call, args []string) int {
	if len(args) == 0 {
		return c.usage(errors.New("missing operand"))
	}
	var total time.Duration
	for _, a := range args {
		d, err := parseSleep(a)
		if err != nil {
			return c.usage(err)
		}
		total += d
	}
	t := time.NewTimer(total)
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-c.ctx.Done():
		return 1
	}
}

func parseSleep(s string) (time.Duration, error) {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s, unit = s[:len(s)-1], time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = s[:len(s)-1], time.Hour
	case strings.HasSuffix(s, "d"):
		s, unit = s[:len(s)-1], 24*time.Hour
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != f {
		return 0, errors.New("invalid time interval " + strconv.Quote(s))
	}
	d := f * float64(unit)
	if d > float64(1<<63-1) {
		return 1<<63 - 1, nil
	}
	return time.Duration(d), nil
}
