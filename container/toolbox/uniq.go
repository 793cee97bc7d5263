package toolbox

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// uniq writes its input with adjacent equal lines folded into one: -c
// prefixes each with its count, -d prints only repeated lines, -u only
// unrepeated ones, -i compares ignoring case. `uniq [IN [OUT]]`.
func uniq(c *call, args []string) int {
	o, files, err := getopt(args, "cdui", map[string]byte{
		"count": 'c', "repeated": 'd', "unique": 'u', "ignore-case": 'i'})
	if err != nil {
		return c.usage(err)
	}
	if len(files) > 2 {
		return c.usage(fmt.Errorf("extra operand %q", files[2]))
	}
	in, w := c.stdin, c.stdout
	if len(files) > 0 && files[0] != "-" {
		f, err := c.open(files[0])
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	if len(files) == 2 {
		f, err := createFile(c, files[1], false)
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	out := output(w)
	br := bufio.NewReaderSize(in, 64<<10)
	var prev string
	n := 0
	emit := func() {
		if n == 0 || (o.has('d') && n < 2) || (o.has('u') && n > 1) {
			return
		}
		if o.has('c') {
			fmt.Fprintf(out, "%7d ", n)
		}
		out.WriteString(prev + "\n")
	}
	same := func(a, b string) bool {
		if o.has('i') {
			return strings.EqualFold(a, b)
		}
		return a == b
	}
	code := 0
	for out.err == nil {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimSuffix(line, "\n")
			if n > 0 && same(line, prev) {
				n++
			} else {
				emit()
				prev, n = line, 1
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			c.errorf("%v", err)
			code = 1
			break
		}
	}
	emit()
	return c.finish(out, code)
}
