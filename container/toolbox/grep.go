package toolbox

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The letters of grep's long-only options.
const (
	grepInclude    = '\x01'
	grepExclude    = '\x02'
	grepExcludeDir = '\x03'
)

var grepLong = map[string]byte{
	"ignore-case": 'i', "invert-match": 'v', "line-number": 'n', "count": 'c',
	"files-with-matches": 'l', "files-without-match": 'L', "quiet": 'q', "silent": 'q',
	"extended-regexp": 'E', "fixed-strings": 'F', "basic-regexp": 'G', "recursive": 'r',
	"dereference-recursive": 'R', "only-matching": 'o', "no-filename": 'h', "with-filename": 'H',
	"word-regexp": 'w', "line-regexp": 'x', "no-messages": 's', "regexp": 'e', "file": 'f',
	"max-count": 'm', "include": grepInclude, "exclude": grepExclude, "exclude-dir": grepExcludeDir,
}

func egrep(c *call, args []string) int { return grep(c, append([]string{"-E"}, args...)) }
func fgrep(c *call, args []string) int { return grep(c, append([]string{"-F"}, args...)) }

// grep prints the lines of files (or standard input) that match a
// pattern: -i -v -n -c -l -L -q -E -F -r/-R -o -h -H -w -x -s -m N -e PAT
// -f FILE, --include/--exclude/--exclude-dir GLOB. Exit code 0 when a line
// was selected, 1 when none was, 2 on trouble.
func grep(c *call, args []string) int {
	// --color takes an optional value, which getopt cannot express; the
	// output never has colour anyway.
	args = dropArgs(args, func(a string) bool {
		return a == "--color" || a == "--colour" ||
			strings.HasPrefix(a, "--color=") || strings.HasPrefix(a, "--colour=")
	})
	o, operands, err := getopt(args, "ivnclLqEFGrRohHwxsm:e:f:\x01:\x02:\x03:", grepLong)
	if err != nil {
		return c.usage(err)
	}
	var patterns []string
	for _, e := range o.vals['e'] {
		patterns = append(patterns, strings.Split(e, "\n")...)
	}
	for _, f := range o.vals['f'] {
		b, err := os.ReadFile(c.path(f))
		if err != nil {
			return c.usage(err)
		}
		patterns = append(patterns, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	if !o.has('e') && !o.has('f') {
		if len(operands) == 0 {
			return c.usage(errors.New("usage: grep [OPTION]... PATTERN [FILE]..."))
		}
		patterns = strings.Split(operands[0], "\n")
		operands = operands[1:]
	}
	re, err := grepRegexp(patterns, o)
	if err != nil {
		return c.usage(err)
	}
	g := &grepper{c: c, re: re, o: o, out: output(c.stdout), maxCount: -1}
	if m := o.last('m', ""); m != "" {
		if g.maxCount, err = strconv.Atoi(m); err != nil {
			return c.usage(errors.New("invalid max count " + strconv.Quote(m)))
		}
	}
	recursive := o.has('r') || o.has('R')
	implicitDot := false
	if len(operands) == 0 {
		if recursive {
			operands, implicitDot = []string{"."}, true
		} else {
			operands = []string{"-"}
		}
	}
	g.names = o.has('H') || (!o.has('h') && (len(operands) > 1 || recursive))
	for _, name := range operands {
		if g.done {
			break
		}
		if name == "-" {
			g.file("(standard input)", c.stdin)
			continue
		}
		fi, err := os.Stat(c.path(name))
		switch {
		case err != nil:
			g.fail(err)
		case fi.IsDir() && recursive:
			g.walk(name, implicitDot)
		case fi.IsDir():
			g.fail(&fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")})
		case !g.included(name):
		default:
			g.open(name, name)
		}
	}
	code := 1
	switch {
	case g.matched && o.has('q'):
		code = 0
	case g.trouble:
		code = 2
	case g.matched:
		code = 0
	}
	return c.finish(g.out, code)
}

// grepRegexp compiles grep's patterns into one expression.
func grepRegexp(patterns []string, o opts) (*regexp.Regexp, error) {
	alts := make([]string, 0, len(patterns))
	for _, p := range patterns {
		var expr string
		if o.has('F') {
			expr = regexp.QuoteMeta(p)
		} else {
			re, err := compileRegexp(p, o.has('E'), false)
			if err != nil {
				return nil, err
			}
			expr = re.String()
		}
		switch {
		case o.has('x'):
			expr = `^(?:` + expr + `)$`
		case o.has('w'):
			expr = `\b(?:` + expr + `)\b`
		}
		alts = append(alts, `(?:`+expr+`)`)
	}
	expr := strings.Join(alts, "|")
	if o.has('i') {
		expr = "(?i)" + expr
	}
	return regexp.Compile(expr)
}

// grepper is one grep run's state.
type grepper struct {
	c        *call
	re       *regexp.Regexp
	o        opts
	out      *outWriter
	names    bool // prefix lines with the file's name
	maxCount int  // stop a file after this many selected lines; -1: no limit
	matched  bool // some line was selected
	trouble  bool // some file could not be read
	done     bool // -q matched, or the output is gone: stop
}

func (g *grepper) fail(err error) {
	g.trouble = true
	if !g.o.has('s') {
		g.c.errorf("%v", err)
	}
}

// included reports whether a file's name passes --include and --exclude.
func (g *grepper) included(name string) bool {
	base := filepath.Base(name)
	if inc := g.o.vals[grepInclude]; len(inc) > 0 && !matchAny(inc, base) {
		return false
	}
	return !matchAny(g.o.vals[grepExclude], base)
}

func matchAny(globs []string, name string) bool {
	for _, p := range globs {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// walk greps every regular file below dir, in lexical order, without
// following symbolic links below it. implicitDot drops the "./" of names
// under an implied ".".
func (g *grepper) walk(dir string, implicitDot bool) {
	root := g.c.path(dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if g.done {
			return fs.SkipAll
		}
		if cerr := g.c.ctx.Err(); cerr != nil {
			return cerr
		}
		rel, _ := filepath.Rel(root, p)
		shown := filepath.Join(dir, rel)
		if implicitDot {
			shown = rel
		} else if dir == "." && rel != "." {
			shown = "./" + rel
		}
		if err != nil {
			g.fail(err)
			return nil
		}
		if d.IsDir() {
			if p != root && matchAny(g.o.vals[grepExcludeDir], d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !g.included(shown) {
			return nil
		}
		g.open(p, shown)
		return nil
	})
	if err != nil {
		g.fail(err)
	}
}

func (g *grepper) open(path, shown string) {
	f, err := os.Open(g.c.path(path))
	if err != nil {
		g.fail(err)
		return
	}
	defer f.Close()
	g.file(shown, f)
}

// file greps one file's lines.
func (g *grepper) file(name string, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(32 << 10)
	binary := bytes.IndexByte(head, 0) >= 0
	o := g.o
	invert := o.has('v')
	count := 0
lines:
	for lineNo := 1; g.out.err == nil; lineNo++ {
		if g.maxCount >= 0 && count >= g.maxCount {
			break
		}
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				g.fail(err)
			}
			break
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if g.re.Match(line) == invert {
			continue
		}
		count++
		g.matched = true
		switch {
		case o.has('q'):
			g.done = true
			return
		case o.has('l') || o.has('L'):
			break lines // the name is all that is printed
		case o.has('c'):
		case binary:
			g.out.WriteString("Binary file " + name + " matches\n")
			break lines
		case o.has('o'):
			if invert {
				continue
			}
			for _, m := range g.re.FindAll(line, -1) {
				if len(m) > 0 {
					g.prefix(name, lineNo)
					g.out.Write(m)
					g.out.WriteString("\n")
				}
			}
		default:
			g.prefix(name, lineNo)
			g.out.Write(line)
			g.out.WriteString("\n")
		}
	}
	switch {
	case o.has('l') && count > 0, o.has('L') && count == 0:
		g.out.WriteString(name + "\n")
	case o.has('c') && !o.has('l') && !o.has('L'):
		if g.names {
			g.out.WriteString(name + ":")
		}
		g.out.WriteString(strconv.Itoa(count) + "\n")
	}
	if g.out.err != nil {
		g.done = true
	}
}

func (g *grepper) prefix(name string, lineNo int) {
	if g.names {
		g.out.WriteString(name + ":")
	}
	if g.o.has('n') {
		g.out.WriteString(strconv.Itoa(lineNo) + ":")
	}
}

// dropArgs returns args without those before "--" that drop reports.
func dropArgs(args []string, drop func(string) bool) []string {
	var kept []string
	for i, a := range args {
		if a == "--" {
			return append(kept, args[i:]...)
		}
		if !drop(a) {
			kept = append(kept, a)
		}
	}
	return kept
}
