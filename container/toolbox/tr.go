package toolbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// tr translates, deletes (-d) or squeezes (-s) bytes of standard input.
// Sets are characters, ranges (a-z), escapes (\n \t \\ \NNN octal) and
// classes ([:alpha:] [:digit:] [:lower:] [:upper:] [:space:] [:alnum:]
// [:punct:] [:blank:]); -c complements the first set. When the second set
// is shorter its last byte repeats, as GNU's tr does.
func tr(c *call, args []string) int {
	o, sets, err := getopt(args, "cCds", map[string]byte{
		"complement": 'c', "delete": 'd', "squeeze-repeats": 's'})
	if err != nil {
		return c.usage(err)
	}
	del, squeeze := o.has('d'), o.has('s')
	want := 2
	if del && !squeeze || squeeze && !del && len(sets) == 1 {
		want = 1
	}
	if len(sets) != want {
		return c.usage(errors.New("usage: tr [-cds] SET1 [SET2]"))
	}
	set1, err := expandSet(sets[0])
	if err != nil {
		return c.usage(err)
	}
	var in1 [256]bool
	for _, b := range set1 {
		in1[b] = true
	}
	if o.has('c') || o.has('C') {
		set1 = set1[:0]
		for b := range 256 {
			in1[b] = !in1[b]
			if in1[b] {
				set1 = append(set1, byte(b))
			}
		}
	}
	var mapping [256]int // -1: keep
	for b := range mapping {
		mapping[b] = -1
	}
	var squeezeSet [256]bool
	if len(sets) == 2 {
		set2, err := expandSet(sets[1])
		if err != nil {
			return c.usage(err)
		}
		if del {
			for _, b := range set2 {
				squeezeSet[b] = true
			}
		} else {
			if len(set2) == 0 {
				return c.usage(errors.New("when translating, SET2 must not be empty"))
			}
			for i, b := range set1 {
				mapping[b] = int(set2[min(i, len(set2)-1)])
			}
			for _, b := range set2 {
				squeezeSet[b] = true
			}
		}
	} else if squeeze {
		squeezeSet = in1
	}
	out := output(c.stdout)
	br := bufio.NewReaderSize(c.stdin, 64<<10)
	last := -1
	for out.err == nil {
		b, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
		if del && in1[b] {
			continue
		}
		if m := mapping[b]; m >= 0 {
			b = byte(m)
		}
		if squeeze && squeezeSet[b] && int(b) == last {
			continue
		}
		last = int(b)
		if err := out.w.WriteByte(b); err != nil {
			out.err = err
		}
	}
	return c.finish(out, 0)
}

var trClasses = map[string]func(b byte) bool{
	"alpha": func(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' },
	"digit": func(b byte) bool { return '0' <= b && b <= '9' },
	"lower": func(b byte) bool { return 'a' <= b && b <= 'z' },
	"upper": func(b byte) bool { return 'A' <= b && b <= 'Z' },
	"space": func(b byte) bool { return strings.IndexByte(" \t\n\r\v\f", b) >= 0 },
	"blank": func(b byte) bool { return b == ' ' || b == '\t' },
	"alnum": func(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' },
	"punct": func(b byte) bool {
		return b > ' ' && b < 0x7f && strings.IndexByte("0123456789", b) < 0 && !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z')
	},
	"cntrl": func(b byte) bool { return b < ' ' || b == 0x7f },
	"print": func(b byte) bool { return b >= ' ' && b < 0x7f },
	"xdigit": func(b byte) bool {
		return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
	},
}

// expandSet lists a tr set's bytes in order.
func expandSet(s string) ([]byte, error) {
	// First the escapes and classes, to single bytes or runs.
	var atoms []byte
	var literal []bool // atoms[i] came from an escape: never a range dash
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "[:"):
			end := strings.Index(s[i:], ":]")
			if end < 0 {
				return nil, fmt.Errorf("unterminated class in %q", s)
			}
			name := s[i+2 : i+end]
			in, ok := trClasses[name]
			if !ok {
				return nil, fmt.Errorf("invalid character class %q", name)
			}
			for b := range 256 {
				if in(byte(b)) {
					atoms, literal = append(atoms, byte(b)), append(literal, true)
				}
			}
			i += end + 1
		case s[i] == '\\' && i+1 < len(s):
			i++
			b := s[i]
			switch b {
			case 'n':
				b = '\n'
			case 't':
				b = '\t'
			case 'r':
				b = '\r'
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v := 0
				j := i
				for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
					v = v*8 + int(s[j]-'0')
				}
				b, i = byte(v), j-1
			}
			atoms, literal = append(atoms, b), append(literal, true)
		default:
			atoms, literal = append(atoms, s[i]), append(literal, false)
		}
	}
	var set []byte
	for i := 0; i < len(atoms); i++ {
		if i+2 < len(atoms) && atoms[i+1] == '-' && !literal[i+1] {
			lo, hi := atoms[i], atoms[i+2]
			if lo > hi {
				return nil, fmt.Errorf("range %c-%c is in reverse order", lo, hi)
			}
			for b := int(lo); b <= int(hi); b++ {
				set = append(set, byte(b))
			}
			i += 2
			continue
		}
		set = append(set, atoms[i])
	}
	return set, nil
}
