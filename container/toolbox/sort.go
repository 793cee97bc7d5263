package toolbox

import (
	"bufio"
	"cmp"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// sortCmd sorts the lines of files (or standard input): -r reverse, -n
// numeric, -u unique (by the sort key), -f fold case, -t SEP field
// separator, -k F[,G] sort on fields F through G (1-based; blank
// separated without -t), -o FILE write there. Lines whose keys compare
// equal are ordered by the whole line, as GNU's sort does without -s.
func sortCmd(c *call, args []string) int {
	o, files, err := getopt(args, "rnufsbt:k:o:", map[string]byte{
		"reverse": 'r', "numeric-sort": 'n', "unique": 'u', "ignore-case": 'f', "stable": 's',
		"ignore-leading-blanks": 'b', "field-separator": 't', "key": 'k', "output": 'o'})
	if err != nil {
		return c.usage(err)
	}
	sep := o.last('t', "")
	if len(sep) > 1 {
		return c.usage(strconv.ErrSyntax)
	}
	var keys []sortKey
	for _, k := range o.vals['k'] {
		key, err := parseSortKey(k)
		if err != nil {
			return c.usage(err)
		}
		keys = append(keys, key)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	var lines []string
	code := 0
	for _, name := range files {
		f, err := c.open(name)
		if err != nil {
			c.errorf("%v", err)
			return 2
		}
		br := bufio.NewReaderSize(f, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				lines = append(lines, strings.TrimSuffix(line, "\n"))
			}
			if err != nil {
				if err != io.EOF {
					c.errorf("%s: %v", name, err)
					code = 2
				}
				break
			}
		}
		f.Close()
	}
	keyOf := func(line string) []string {
		if len(keys) == 0 {
			return []string{line}
		}
		ks := make([]string, len(keys))
		for i, k := range keys {
			ks[i] = k.extract(line, sep)
		}
		return ks
	}
	compareKey := func(a, b string) int {
		if o.has('b') {
			a, b = strings.TrimLeft(a, " \t"), strings.TrimLeft(b, " \t")
		}
		switch {
		case o.has('n'):
			return cmp.Compare(leadingNumber(a), leadingNumber(b))
		case o.has('f'):
			return strings.Compare(strings.ToUpper(a), strings.ToUpper(b))
		}
		return strings.Compare(a, b)
	}
	compareKeys := func(a, b []string) int {
		for i := range a {
			if r := compareKey(a[i], b[i]); r != 0 {
				return r
			}
		}
		return 0
	}
	type item struct {
		line string
		key  []string
	}
	items := make([]item, len(lines))
	for i, l := range lines {
		items[i] = item{l, keyOf(l)}
	}
	order := func(a, b item) int {
		r := compareKeys(a.key, b.key)
		if r == 0 && !o.has('u') && !o.has('s') {
			r = strings.Compare(a.line, b.line)
		}
		if o.has('r') {
			r = -r
		}
		return r
	}
	slices.SortStableFunc(items, order)
	w := c.stdout
	var file *os.File
	if name := o.last('o', ""); name != "" {
		// Opened only now: the output may be one of the inputs.
		if file, err = createFile(c, name, false); err != nil {
			c.errorf("%v", err)
			return 2
		}
		w = file
	}
	out := output(w)
	for i, it := range items {
		if o.has('u') && i > 0 && compareKeys(items[i-1].key, it.key) == 0 {
			continue
		}
		out.WriteString(it.line + "\n")
	}
	code = c.finish(out, code)
	if file != nil {
		if err := file.Close(); err != nil {
			c.errorf("%v", err)
			code = 2
		}
	}
	return code
}

// sortKey is a -k field range, 1-based; endField 0 is the end of the line.
type sortKey struct {
	field, endField int
}

func parseSortKey(s string) (sortKey, error) {
	start, end, hasEnd := strings.Cut(s, ",")
	field := func(f string) (int, error) {
		// Character positions (F.C) and per-key options (n, r, b) are
		// not supported: the field's number is what counts.
		f = strings.TrimRight(f, "bdfgiMhnRrV")
		f, _, _ = strings.Cut(f, ".")
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return 0, strconv.ErrSyntax
		}
		return n, nil
	}
	var k sortKey
	var err error
	if k.field, err = field(start); err != nil {
		return k, err
	}
	if hasEnd {
		if k.endField, err = field(end); err != nil {
			return k, err
		}
	}
	return k, nil
}

// extract returns the key's fields of line, separated by sep (blank runs
// when sep is empty, leading blanks ignored).
func (k sortKey) extract(line, sep string) string {
	var fields []string
	if sep == "" {
		fields = strings.Fields(line)
	} else {
		fields = strings.Split(line, sep)
	}
	if k.field > len(fields) {
		return ""
	}
	end := len(fields)
	if k.endField > 0 {
		end = min(k.endField, len(fields))
	}
	if end < k.field {
		return ""
	}
	joiner := sep
	if sep == "" {
		joiner = " "
	}
	return strings.Join(fields[k.field-1:end], joiner)
}

// leadingNumber is the number a line starts with (after blanks), 0 when
// none, as sort -n reads it.
func leadingNumber(s string) float64 {
	s = strings.TrimLeft(s, " \t")
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	digits := false
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end, digits = end+1, true
	}
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end, digits = end+1, true
		}
	}
	if !digits {
		return 0
	}
	n, err := strconv.ParseFloat(strings.TrimSuffix(s[:end], "."), 64)
	if err != nil {
		return 0
	}
	return n
}
