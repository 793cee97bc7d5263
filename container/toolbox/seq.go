package toolbox

import (
	"errors"
	"strconv"
	"strings"
)

// seq prints numbers from FIRST (1) by INCREMENT (1) up to LAST: `seq
// [-s SEP] [-w] [FIRST [INCREMENT]] LAST`. Whole numbers print as such,
// others with as many decimals as the operands have; -w pads with zeros
// to equal width.
func seq(c *call, args []string) int {
	sep, width := "\n", false
	// Leading options only: a negative number (-1, -.5) is an operand.
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && (args[0][1] < '0' || args[0][1] > '9') && args[0][1] != '.' {
		a := args[0]
		args = args[1:]
		switch {
		case a == "--":
		case a == "-w":
			width = true
		case a == "-s":
			if len(args) == 0 {
				return c.usage(errors.New("option -s needs a value"))
			}
			sep, args = args[0], args[1:]
		case strings.HasPrefix(a, "-s"):
			sep = a[2:]
		default:
			return c.usage(errors.New("unknown option " + a))
		}
		if a == "--" {
			break
		}
	}
	if len(args) < 1 || len(args) > 3 {
		return c.usage(errors.New("usage: seq [-s SEP] [-w] [FIRST [INCREMENT]] LAST"))
	}
	nums := make([]float64, len(args))
	decimals := 0
	for i, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || f != f {
			return c.usage(errors.New("invalid number " + strconv.Quote(a)))
		}
		nums[i] = f
		// FIRST's and INCREMENT's decimals set the format, as in GNU's seq.
		if _, frac, ok := strings.Cut(a, "."); ok && i < len(args)-1 {
			decimals = max(decimals, len(frac))
		}
	}
	first, inc, last := 1.0, 1.0, nums[len(nums)-1]
	switch len(nums) {
	case 2:
		first = nums[0]
	case 3:
		first, inc = nums[0], nums[1]
	}
	if inc == 0 {
		return c.usage(errors.New("the increment must not be 0"))
	}
	format := func(f float64) string { return strconv.FormatFloat(f, 'f', decimals, 64) }
	w := 0
	if width {
		w = max(len(format(first)), len(format(last)))
	}
	out := output(c.stdout)
	printed := false
	// Counting steps, not adding, keeps fractions from drifting.
	for i := 0; out.err == nil && c.ctx.Err() == nil; i++ {
		v := first + float64(i)*inc
		if (inc > 0 && v > last+1e-9) || (inc < 0 && v < last-1e-9) {
			break
		}
		if i > 0 {
			out.WriteString(sep)
		}
		s := format(v)
		if len(s) < w {
			neg := strings.HasPrefix(s, "-")
			s = strings.TrimPrefix(s, "-")
			s = strings.Repeat("0", w-len(s)-boolInt(neg)) + s
			if neg {
				s = "-" + s
			}
		}
		out.WriteString(s)
		printed = true
	}
	if printed {
		out.WriteString("\n")
	}
	return c.finish(out, 0)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
