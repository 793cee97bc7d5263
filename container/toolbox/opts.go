package toolbox

import (
	"fmt"
	"strings"
)

// opts are a command's parsed options.
type opts struct {
	set  map[byte]bool     // letters given
	vals map[byte][]string // values of letters that take one, in order
}

func (o opts) has(l byte) bool { return o.set[l] }

// last returns the last value given for l, or def.
func (o opts) last(l byte, def string) string {
	if v := o.vals[l]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// getopt parses short options the POSIX way, with GNU's permutation:
// options may follow operands, until "--". spec lists the letters; a
// letter followed by ':' takes a value, attached ("-n5") or next ("-n 5").
// Clusters ("-in") work. long maps long names ("ignore-case") to letters;
// "--name=value" and "--name value" both give a value. A lone "-" is an
// operand (standard input).
func getopt(args []string, spec string, long map[string]byte) (opts, []string, error) {
	o := opts{set: map[byte]bool{}, vals: map[byte][]string{}}
	var operands []string
	takes := func(l byte) (known, value bool) {
		i := strings.IndexByte(spec, l)
		if i < 0 || l == ':' {
			return false, false
		}
		return true, i+1 < len(spec) && spec[i+1] == ':'
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return o, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			l, ok := long[name]
			if !ok {
				return o, nil, fmt.Errorf("unknown option --%s", name)
			}
			_, value := takes(l)
			o.set[l] = true
			switch {
			case value && !hasVal:
				if i+1 >= len(args) {
					return o, nil, fmt.Errorf("option --%s needs a value", name)
				}
				i++
				val = args[i]
				fallthrough
			case value:
				o.vals[l] = append(o.vals[l], val)
			case hasVal:
				return o, nil, fmt.Errorf("option --%s takes no value", name)
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				l := a[j]
				known, value := takes(l)
				if !known {
					return o, nil, fmt.Errorf("unknown option -%c", l)
				}
				o.set[l] = true
				if !value {
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return o, nil, fmt.Errorf("option -%c needs a value", l)
					}
					i++
					val = args[i]
				}
				o.vals[l] = append(o.vals[l], val)
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return o, operands, nil
}
