package toolbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// sed edits a stream: `sed [-n] [-E|-r] [-i[SUFFIX]] (SCRIPT | -e SCRIPT…)
// [FILE…]`. Commands: s/RE/REPL/[g][p][N][i], d, p, q [CODE], =, a/i/c
// TEXT (GNU's one-line form), { … }; addresses N, $, /RE/, \cREc and
// ranges A,B, each optionally negated with !. Without -i the files are
// one stream; with -i each is edited in place on its own. Exit code 1 for
// a bad script, 2 when an input could not be read, q's code otherwise.
func sed(c *call, args []string) int {
	var suffix string
	inPlace := false
	// -i takes an optional attached suffix (-i.bak), which getopt cannot
	// express. Another cluster (-ie, -ni) is taken as plain options, not
	// as GNU's suffix "e": that is what its writer meant.
	args = dropArgs(args, func(a string) bool {
		switch {
		case strings.HasPrefix(a, "--in-place"):
			suffix = strings.TrimPrefix(strings.TrimPrefix(a, "--in-place"), "=")
		case strings.HasPrefix(a, "-i") && (len(a) == 2 || a[2] == '.' || strings.Contains(a, "*")):
			suffix = a[2:]
		default:
			return false
		}
		inPlace = true
		return true
	})
	o, operands, err := getopt(args, "inErsue:", map[string]byte{
		"quiet": 'n', "silent": 'n', "regexp-extended": 'E', "separate": 's', "expression": 'e',
	})
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	inPlace = inPlace || o.has('i')
	var script string
	if o.has('e') {
		script = strings.Join(o.vals['e'], "\n")
	} else {
		if len(operands) == 0 {
			c.errorf("usage: sed [-n] [-E] [-i] SCRIPT [FILE]...")
			return 1
		}
		script, operands = operands[0], operands[1:]
	}
	prog, err := parseSed(script, o.has('E') || o.has('r'))
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	quiet := o.has('n')
	if inPlace {
		if len(operands) == 0 {
			c.errorf("no input files")
			return 1
		}
		code := 0
		for _, name := range operands {
			q, err := prog.editInPlace(c, c.path(name), suffix, quiet)
			if err != nil {
				c.errorf("%v", err)
				code = 4
				continue
			}
			if q.quit {
				return q.code
			}
		}
		return code
	}
	if len(operands) == 0 {
		operands = []string{"-"}
	}
	in := &sedInput{c: c, names: operands}
	out := output(c.stdout)
	q := prog.run(in, out, quiet)
	code := q.code
	if in.trouble && code == 0 {
		code = 2
	}
	return c.finish(out, code)
}

// sedProg is a parsed script. Its commands keep range state, so a
// program runs one stream.
type sedProg struct {
	cmds []*sedCmd
}

type sedCmd struct {
	a1, a2  *sedAddr
	negate  bool
	inRange bool // a1 matched, a2 not yet
	name    byte // s d p q = a i c { }

	// s
	re     *regexp.Regexp
	repl   []sedRepl
	global bool
	nth    int
	print  bool

	text string // a i c
	code int    // q
	end  int    // {: the index of its }
}

// sedRepl is a piece of a replacement: literal text, or a group (0 for &).
type sedRepl struct {
	lit   string
	group int // -1 for a literal
}

type sedAddr struct {
	line int            // > 0: that line
	last bool           // $
	re   *regexp.Regexp // /RE/
}

func (a *sedAddr) match(line int, last bool, ps string) bool {
	switch {
	case a.last:
		return last
	case a.re != nil:
		return a.re.MatchString(ps)
	default:
		return line == a.line
	}
}

// selected reports whether cmd applies to this line, advancing its range.
func (cmd *sedCmd) selected(line int, last bool, ps string) bool {
	sel := true
	switch {
	case cmd.a1 == nil:
	case cmd.a2 == nil:
		sel = cmd.a1.match(line, last, ps)
	case cmd.inRange:
		// The range ends at a2's line, or at the first line past a1's
		// that a2 matches.
		if (cmd.a2.line > 0 && line >= cmd.a2.line) || (cmd.a2.line == 0 && cmd.a2.match(line, last, ps)) {
			cmd.inRange = false
		}
	case cmd.a1.match(line, last, ps):
		// A line-number end at or before the start makes a one-line range.
		cmd.inRange = !(cmd.a2.line > 0 && cmd.a2.line <= line) && !(cmd.a2.last && last)
	default:
		sel = false
	}
	return sel != cmd.negate
}

// sedParser reads a script.
type sedParser struct {
	s        string
	i        int
	extended bool
	lastRE   *regexp.Regexp
}

func parseSed(script string, extended bool) (*sedProg, error) {
	p := &sedParser{s: script, extended: extended}
	prog := &sedProg{}
	var open []int // indexes of unclosed {
	for {
		p.skip(" \t\n;")
		if p.i >= len(p.s) {
			break
		}
		cmd := &sedCmd{}
		var err error
		if cmd.a1, err = p.addr(); err != nil {
			return nil, err
		}
		if cmd.a1 != nil && p.peek() == ',' {
			p.i++
			p.skip(" \t")
			if cmd.a2, err = p.addr(); err != nil {
				return nil, err
			}
			if cmd.a2 == nil {
				return nil, errors.New("unexpected `,'")
			}
		}
		p.skip(" \t")
		if p.peek() == '!' {
			cmd.negate = true
			p.i++
			p.skip(" \t")
		}
		if p.i >= len(p.s) {
			return nil, errors.New("missing command")
		}
		cmd.name = p.s[p.i]
		p.i++
		switch cmd.name {
		case 'd', 'p', '=':
		case 'q':
			p.skip(" \t")
			start := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			if start < p.i {
				cmd.code, _ = strconv.Atoi(p.s[start:p.i])
			}
		case 's':
			if err := p.subst(cmd); err != nil {
				return nil, err
			}
		case 'a', 'i', 'c':
			p.skip(" \t")
			if p.peek() == '\\' {
				p.i++
				p.skip(" \t")
				if p.peek() == '\n' {
					p.i++
				}
			}
			end := strings.IndexByte(p.s[p.i:], '\n')
			if end < 0 {
				end = len(p.s) - p.i
			}
			cmd.text = p.s[p.i : p.i+end]
			p.i += end
		case '{':
			open = append(open, len(prog.cmds))
		case '}':
			if len(open) == 0 || cmd.a1 != nil {
				return nil, errors.New("unexpected `}'")
			}
			prog.cmds[open[len(open)-1]].end = len(prog.cmds)
			open = open[:len(open)-1]
		default:
			return nil, fmt.Errorf("unknown command: `%c'", cmd.name)
		}
		prog.cmds = append(prog.cmds, cmd)
		if cmd.name != '{' {
			p.skip(" \t")
			if p.i < len(p.s) && !strings.ContainsRune(";\n}", rune(p.s[p.i])) {
				return nil, fmt.Errorf("extra characters after command `%c'", cmd.name)
			}
		}
	}
	if len(open) > 0 {
		return nil, errors.New("unmatched `{'")
	}
	return prog, nil
}

func (p *sedParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sedParser) skip(chars string) {
	for p.i < len(p.s) && strings.IndexByte(chars, p.s[p.i]) >= 0 {
		p.i++
	}
}

// addr reads an address, or returns nil when there is none.
func (p *sedParser) addr() (*sedAddr, error) {
	switch ch := p.peek(); {
	case ch >= '0' && ch <= '9':
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, err := strconv.Atoi(p.s[start:p.i])
		if err != nil || n == 0 {
			return nil, fmt.Errorf("invalid line address %q", p.s[start:p.i])
		}
		return &sedAddr{line: n}, nil
	case ch == '$':
		p.i++
		return &sedAddr{last: true}, nil
	case ch == '/' || ch == '\\':
		if ch == '\\' {
			p.i++
		}
		delim := p.peek()
		p.i++
		pat, err := p.delimited(delim, true)
		if err != nil {
			return nil, err
		}
		icase := false
		if p.peek() == 'I' {
			icase = true
			p.i++
		}
		re, err := p.regexp(pat, icase)
		if err != nil {
			return nil, err
		}
		return &sedAddr{re: re}, nil
	}
	return nil, nil
}

// regexp compiles pat; an empty one is the last one used.
func (p *sedParser) regexp(pat string, icase bool) (*regexp.Regexp, error) {
	if pat == "" {
		if p.lastRE == nil {
			return nil, errors.New("no previous regular expression")
		}
		return p.lastRE, nil
	}
	re, err := compileRegexp(pat, p.extended, icase)
	if err != nil {
		return nil, err
	}
	p.lastRE = re
	return re, nil
}

// delimited reads up to an unescaped delim and steps past it. A \delim is
// delim itself; in a pattern \n is a newline and other escapes are kept
// for the regexp.
func (p *sedParser) delimited(delim byte, pattern bool) (string, error) {
	if delim == 0 || delim == '\n' || delim == '\\' {
		return "", errors.New("invalid delimiter")
	}
	var b strings.Builder
	for p.i < len(p.s) {
		ch := p.s[p.i]
		p.i++
		switch {
		case ch == delim:
			return b.String(), nil
		case ch == '\\' && p.i < len(p.s):
			n := p.s[p.i]
			p.i++
			switch {
			case n == delim:
				b.WriteByte(n)
			case n == 'n' && pattern:
				b.WriteByte('\n')
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case ch == '[' && pattern:
			// A delimiter inside a bracket expression is a member.
			j := bracketEnd(p.s, p.i-1)
			b.WriteString(p.s[p.i-1 : j])
			p.i = j
		default:
			b.WriteByte(ch)
		}
	}
	return "", fmt.Errorf("unterminated address or `s' command")
}

// subst reads the rest of an s command.
func (p *sedParser) subst(cmd *sedCmd) error {
	delim := p.peek()
	p.i++
	pat, err := p.delimited(delim, true)
	if err != nil {
		return err
	}
	repl, err := p.delimited(delim, false)
	if err != nil {
		return err
	}
	icase := false
	cmd.nth = 1
	nthGiven := false
flags:
	for p.i < len(p.s) {
		switch ch := p.s[p.i]; {
		case ch == 'g':
			cmd.global = true
		case ch == 'p':
			cmd.print = true
		case ch == 'i' || ch == 'I':
			icase = true
		case ch >= '0' && ch <= '9':
			start := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			n, err := strconv.Atoi(p.s[start:p.i])
			if err != nil || n == 0 || nthGiven {
				return errors.New("invalid number in `s' command")
			}
			cmd.nth, nthGiven = n, true
			continue
		default:
			break flags
		}
		p.i++
	}
	if cmd.re, err = p.regexp(pat, icase); err != nil {
		return err
	}
	cmd.repl = parseRepl(repl)
	for _, r := range cmd.repl {
		if r.group > cmd.re.NumSubexp() {
			return fmt.Errorf("invalid reference \\%d on `s' command's RHS", r.group)
		}
	}
	return nil
}

// parseRepl splits a replacement into literals, & and \1…\9.
func parseRepl(s string) []sedRepl {
	var parts []sedRepl
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, sedRepl{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '&':
			flush()
			parts = append(parts, sedRepl{group: 0})
		case ch == '\\' && i+1 < len(s):
			i++
			switch n := s[i]; {
			case n >= '0' && n <= '9':
				flush()
				parts = append(parts, sedRepl{group: int(n - '0')})
			case n == 'n':
				lit.WriteByte('\n')
			case n == 't':
				lit.WriteByte('\t')
			default:
				lit.WriteByte(n)
			}
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return parts
}

// substitute applies an s command to ps, reporting whether it replaced.
func (cmd *sedCmd) substitute(ps string) (string, bool) {
	matches := cmd.re.FindAllStringSubmatchIndex(ps, -1)
	var b strings.Builder
	prev, done := 0, false
	for k, m := range matches {
		if k+1 < cmd.nth || (done && !cmd.global) {
			continue
		}
		b.WriteString(ps[prev:m[0]])
		for _, r := range cmd.repl {
			if r.group < 0 {
				b.WriteString(r.lit)
			} else if m[2*r.group] >= 0 {
				b.WriteString(ps[m[2*r.group]:m[2*r.group+1]])
			}
		}
		prev, done = m[1], true
	}
	if !done {
		return ps, false
	}
	b.WriteString(ps[prev:])
	return b.String(), true
}

// sedQuit is how a run ended: by q (quit), with code.
type sedQuit struct {
	quit bool
	code int
}

// run edits in's lines to out.
func (prog *sedProg) run(in *sedInput, out *outWriter, quiet bool) sedQuit {
	for lineNo := 1; out.err == nil; lineNo++ {
		ps, nl, ok := in.next()
		if !ok {
			break
		}
		last := in.atEnd()
		var appended []string
		printPS := !quiet
		quit, quitCode := false, 0
		for i := 0; i < len(prog.cmds); i++ {
			cmd := prog.cmds[i]
			if !cmd.selected(lineNo, last, ps) {
				if cmd.name == '{' {
					i = cmd.end
				}
				continue
			}
			switch cmd.name {
			case 's':
				var did bool
				if ps, did = cmd.substitute(ps); did && cmd.print {
					out.WriteString(ps + "\n")
				}
			case 'p':
				out.WriteString(ps + "\n")
			case '=':
				out.WriteString(strconv.Itoa(lineNo) + "\n")
			case 'a':
				appended = append(appended, cmd.text)
			case 'i':
				out.WriteString(cmd.text + "\n")
			case 'c':
				// In a range, the text replaces the whole range, once.
				if cmd.a2 == nil || !cmd.inRange {
					out.WriteString(cmd.text + "\n")
				}
				printPS = false
				i = len(prog.cmds)
			case 'd':
				printPS = false
				i = len(prog.cmds)
			case 'q':
				quit, quitCode = true, cmd.code
				i = len(prog.cmds)
			}
		}
		if printPS {
			out.WriteString(ps)
			if nl {
				out.WriteString("\n")
			}
		}
		for _, a := range appended {
			out.WriteString(a + "\n")
		}
		if quit {
			return sedQuit{quit: true, code: quitCode}
		}
	}
	return sedQuit{}
}

// editInPlace runs prog over one file and replaces it with the result,
// keeping a copy with suffix when one is given.
func (prog *sedProg) editInPlace(c *call, path, suffix string, quiet bool) (sedQuit, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return sedQuit{}, err
	}
	if !fi.Mode().IsRegular() {
		return sedQuit{}, fmt.Errorf("couldn't edit %s: not a regular file", path)
	}
	for _, cmd := range prog.cmds {
		cmd.inRange = false
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sed-*")
	if err != nil {
		return sedQuit{}, err
	}
	defer os.Remove(tmp.Name())
	in := &sedInput{c: c, names: []string{path}}
	out := output(tmp)
	q := prog.run(in, out, quiet)
	if err := out.flush(); err != nil {
		tmp.Close()
		return q, err
	}
	if in.trouble {
		tmp.Close()
		return q, fmt.Errorf("read %s", path)
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return q, err
	}
	if err := tmp.Close(); err != nil {
		return q, err
	}
	if suffix != "" {
		backup := path + suffix
		if strings.Contains(suffix, "*") {
			backup = filepath.Join(filepath.Dir(path), strings.ReplaceAll(suffix, "*", filepath.Base(path)))
		}
		if err := os.Link(path, backup); err != nil {
			return q, fmt.Errorf("keep %s: %w", backup, err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return q, err
	}
	return q, nil
}

// sedInput reads the lines of a list of files as one stream, one line
// ahead, so the last line ($) is known.
type sedInput struct {
	c       *call
	names   []string
	cur     *bufio.Reader
	closer  io.Closer
	ahead   *string // the next line, read ahead
	aheadNL bool
	trouble bool // a file could not be opened or read
}

// fill reads the next line into ahead, if there is one.
func (in *sedInput) fill() {
	for in.ahead == nil {
		if in.cur == nil {
			if len(in.names) == 0 {
				return
			}
			name := in.names[0]
			in.names = in.names[1:]
			f, err := in.c.open(name)
			if err != nil {
				in.c.errorf("can't read %s: %v", name, err)
				in.trouble = true
				continue
			}
			in.cur, in.closer = bufio.NewReaderSize(f, 64<<10), f
		}
		line, err := in.cur.ReadString('\n')
		if line != "" {
			nl := strings.HasSuffix(line, "\n")
			s := strings.TrimSuffix(line, "\n")
			in.ahead, in.aheadNL = &s, nl
		}
		if err != nil {
			if err != io.EOF {
				in.c.errorf("read error: %v", err)
				in.trouble = true
			}
			in.closer.Close()
			in.cur, in.closer = nil, nil
		}
	}
}

// next returns the next line, whether it ended in a newline, and false at
// the end of the stream.
func (in *sedInput) next() (string, bool, bool) {
	in.fill()
	if in.ahead == nil {
		return "", false, false
	}
	s, nl := *in.ahead, in.aheadNL
	in.ahead = nil
	// A line that lacks its newline only keeps that at the very end.
	in.fill()
	if in.ahead != nil {
		nl = true
	}
	return s, nl, true
}

// atEnd reports whether the line next returned was the last.
func (in *sedInput) atEnd() bool {
	in.fill()
	return in.ahead == nil
}
