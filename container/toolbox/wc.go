package toolbox

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wc counts lines (-l), words (-w) and bytes (-c) of files or standard
// input; all three without options, in that order. A single count of
// standard input prints the bare number ("3"); otherwise the counts are
// right-aligned in columns, each file's line ending in its name, and a
// "total" line follows more than one file.
func wc(c *call, args []string) int {
	o, files, err := getopt(args, "lwcm", map[string]byte{"lines": 'l', "words": 'w', "bytes": 'c', "chars": 'm'})
	if err != nil {
		return c.usage(err)
	}
	cols := ""
	for _, l := range "lwmc" {
		if o.has(byte(l)) {
			cols += string(l)
		}
	}
	if cols == "" {
		cols = "lwc"
	}
	named := len(files) > 0
	if !named {
		files = []string{"-"}
	}
	type row struct {
		counts map[rune]int64
		name   string
	}
	var rows []row
	total := map[rune]int64{}
	code := 0
	for _, name := range files {
		f, err := c.open(name)
		if err != nil {
			c.errorf("%v", err)
			code = 1
			continue
		}
		counts, err := wcCount(f)
		f.Close()
		if err != nil {
			c.errorf("%s: %v", name, err)
			code = 1
			continue
		}
		for k, v := range counts {
			total[k] += v
		}
		rows = append(rows, row{counts, name})
	}
	if len(files) > 1 {
		rows = append(rows, row{total, "total"})
	}
	width := 1
	if len(cols) > 1 || named {
		for _, r := range rows {
			for _, l := range cols {
				width = max(width, len(strconv.FormatInt(r.counts[l], 10)))
			}
		}
	}
	out := output(c.stdout)
	for _, r := range rows {
		var fields []string
		for _, l := range cols {
			fields = append(fields, fmt.Sprintf("%*d", width, r.counts[l]))
		}
		if named {
			fields = append(fields, r.name)
		}
		out.WriteString(strings.Join(fields, " ") + "\n")
	}
	return c.finish(out, code)
}

// wcCount counts r's lines, words, characters and bytes, by their
// letters.
func wcCount(r io.Reader) (map[rune]int64, error) {
	counts := map[rune]int64{}
	br := bufio.NewReaderSize(r, 64<<10)
	inWord := false
	for {
		ch, size, err := br.ReadRune()
		if err == io.EOF {
			return counts, nil
		}
		if err != nil {
			return counts, err
		}
		counts['c'] += int64(size)
		if ch != utf8.RuneError || size > 1 {
			counts['m']++
		}
		if ch == '\n' {
			counts['l']++
		}
		space := unicode.IsSpace(ch)
		if !space && !inWord {
			counts['w']++
		}
		inWord = !space
	}
}
