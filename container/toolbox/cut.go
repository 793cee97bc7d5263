package toolbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// cut prints selected fields (-f LIST, split at -d DELIM, a tab by
// default), characters (-c LIST) or bytes (-b LIST) of each line. A LIST
// is N, N-M, N- and -M, comma separated. With -f, a line without the
// delimiter is printed whole, unless -s. --output-delimiter sets what
// joins the fields.
func cut(c *call, args []string) int {
	o, files, err := getopt(args, "b:c:f:d:s\x01:", map[string]byte{
		"bytes": 'b', "characters": 'c', "fields": 'f', "delimiter": 'd',
		"only-delimited": 's', "output-delimiter": '\x01'})
	if err != nil {
		return c.usage(err)
	}
	mode := byte(0)
	for _, l := range []byte("bcf") {
		if o.has(l) {
			if mode != 0 {
				return c.usage(errors.New("only one list may be specified"))
			}
			mode = l
		}
	}
	if mode == 0 {
		return c.usage(errors.New("you must specify a list of bytes, characters, or fields"))
	}
	ranges, err := parseCutList(o.last(mode, ""))
	if err != nil {
		return c.usage(err)
	}
	delim := o.last('d', "\t")
	if len(delim) != 1 {
		return c.usage(errors.New("the delimiter must be a single character"))
	}
	outDelim := o.last('\x01', delim)
	return eachFile(c, files, false, func(out *outWriter, r io.Reader) error {
		br := bufio.NewReaderSize(r, 64<<10)
		for out.err == nil {
			line, err := br.ReadString('\n')
			if line != "" {
				line = strings.TrimSuffix(line, "\n")
				switch mode {
				case 'f':
					if !strings.Contains(line, delim) {
						if !o.has('s') {
							out.WriteString(line + "\n")
						}
						break
					}
					fields := strings.Split(line, delim)
					var picked []string
					for i, f := range fields {
						if ranges.has(i + 1) {
							picked = append(picked, f)
						}
					}
					out.WriteString(strings.Join(picked, outDelim) + "\n")
				case 'c':
					var b strings.Builder
					for i, r := range []rune(line) {
						if ranges.has(i + 1) {
							b.WriteRune(r)
						}
					}
					out.WriteString(b.String() + "\n")
				case 'b':
					var b []byte
					for i := 0; i < len(line); i++ {
						if ranges.has(i + 1) {
							b = append(b, line[i])
						}
					}
					out.WriteString(string(b) + "\n")
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// cutList is a list of 1-based inclusive ranges; hi 0 is open-ended.
type cutList [][2]int

func (l cutList) has(n int) bool {
	for _, r := range l {
		if n >= r[0] && (r[1] == 0 || n <= r[1]) {
			return true
		}
	}
	return false
}

func parseCutList(s string) (cutList, error) {
	var l cutList
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		num := func(s string, def int) (int, error) {
			if s == "" {
				return def, nil
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("invalid list %q: fields and positions are numbered from 1", part)
			}
			return n, nil
		}
		a, err := num(lo, 1)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = num(hi, 0); err != nil {
				return nil, err
			}
			if lo == "" && hi == "" {
				return nil, fmt.Errorf("invalid range %q", part)
			}
		}
		if b != 0 && b < a {
			return nil, fmt.Errorf("invalid decreasing range %q", part)
		}
		l = append(l, [2]int{a, b})
	}
	return l, nil
}
