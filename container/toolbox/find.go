package toolbox

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// find walks file trees and evaluates an expression on each file, the
// GNU way: `find [-H|-L|-P] [PATH…] [EXPRESSION]`, PATH "." by default.
// Tests: -name -iname -path -ipath -wholename -regex -iregex GLOB/RE,
// -type [fdlpscb][,…], -empty, -newer FILE, -mtime/-mmin [+-]N,
// -size [+-]N[cwbkMG], -true, -false. Actions: -print (the default),
// -print0, -delete, -exec CMD {} ; and -exec CMD {} +, -prune, -quit.
// Operators: ( ) ! -not -a -and -o -or. Options: -maxdepth N,
// -mindepth N, -depth. Names print as reached from PATH, as given.
// Lexical order within a folder. Exit code 1 if anything went wrong.
func find(c *call, args []string) int {
	f := &finder{c: c, out: output(c.stdout), maxDepth: -1, now: time.Now()}
	for len(args) > 0 && (args[0] == "-H" || args[0] == "-L" || args[0] == "-P") {
		f.follow = args[0] == "-L"
		f.followRoots = args[0] != "-P"
		args = args[1:]
	}
	var roots []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") && args[0] != "(" && args[0] != "!" {
		roots, args = append(roots, args[0]), args[1:]
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	p := &findParser{f: f, args: args}
	expr := findPred(func(*findEntry) bool { return true })
	if len(args) > 0 {
		var err error
		if expr, err = p.or(); err != nil {
			return c.usage(err)
		}
		if p.i < len(p.args) {
			return c.usage(fmt.Errorf("unexpected %q", p.args[p.i]))
		}
	}
	if !p.action {
		test := expr
		expr = func(e *findEntry) bool {
			if test(e) {
				f.print(e.path, "\n")
			}
			return true
		}
	}
	f.expr = expr
	for _, root := range roots {
		if f.quit {
			break
		}
		f.walk(root, c.path(root), 0)
	}
	for _, batch := range f.batches {
		f.runBatch(batch)
	}
	code := 0
	if f.trouble {
		code = 1
	}
	return c.finish(f.out, code)
}

// findPred is a compiled expression.
type findPred func(e *findEntry) bool

// findEntry is a file find reached.
type findEntry struct {
	path   string // as shown: reached from the root as given
	full   string // to open, resolved against the shell's folder
	info   fs.FileInfo
	pruned bool
}

// finder is one find run.
type finder struct {
	c                   *call
	out                 *outWriter
	expr                findPred
	maxDepth, minDepth  int
	depthFirst          bool
	follow, followRoots bool
	now                 time.Time
	quit                bool
	trouble             bool
	batches             []*findBatch
}

func (f *finder) fail(err error) {
	f.trouble = true
	f.c.errorf("%v", err)
}

func (f *finder) print(s, end string) {
	f.out.WriteString(s + end)
	if f.out.err != nil {
		f.quit = true
	}
}

func (f *finder) walk(path, full string, depth int) {
	if f.quit {
		return
	}
	if err := f.c.ctx.Err(); err != nil {
		f.quit = true
		return
	}
	stat := os.Lstat
	if f.follow || (depth == 0 && f.followRoots) {
		stat = os.Stat
	}
	info, err := stat(full)
	if err != nil {
		f.fail(err)
		return
	}
	e := &findEntry{path: path, full: full, info: info}
	if depth >= f.minDepth && !f.depthFirst {
		f.expr(e)
	}
	if info.IsDir() && !e.pruned && !f.quit && (f.maxDepth < 0 || depth < f.maxDepth) {
		entries, err := os.ReadDir(full)
		if err != nil {
			f.fail(err)
		}
		for _, d := range entries {
			// Not filepath.Join: names keep the root as given ("./a").
			shown := path + "/" + d.Name()
			if strings.HasSuffix(path, "/") {
				shown = path + d.Name()
			}
			f.walk(shown, filepath.Join(full, d.Name()), depth+1)
		}
	}
	if depth >= f.minDepth && f.depthFirst && !f.quit {
		f.expr(e)
	}
}

// findBatch collects the names an -exec … {} + runs with.
type findBatch struct {
	argv  []string // the command, {} left out
	at    int      // where the names go
	names []string
}

// run runs a command for -exec (flushing find's own output first, so the
// two stay in order) and reports whether it exited 0.
func (f *finder) run(argv []string) bool {
	if f.out.flush() != nil {
		f.quit = true
		return false
	}
	return runArgv(f.c, argv, nil) == 0
}

func (f *finder) runBatch(b *findBatch) {
	// Batches of a bounded size, so a big tree does not make one
	// command line too long to start.
	for start := 0; start < len(b.names); start += 1024 {
		names := b.names[start:min(start+1024, len(b.names))]
		argv := append(append(append([]string{}, b.argv[:b.at]...), names...), b.argv[b.at:]...)
		if !f.run(argv) {
			f.trouble = true
		}
	}
}

// findParser compiles an expression.
type findParser struct {
	f      *finder
	args   []string
	i      int
	action bool // an action was given: no implicit -print
}

func (p *findParser) peek() string {
	if p.i < len(p.args) {
		return p.args[p.i]
	}
	return ""
}

func (p *findParser) or() (findPred, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "-o" || p.peek() == "-or" {
		p.i++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(e *findEntry) bool { return l(e) || right(e) }
	}
	return left, nil
}

func (p *findParser) and() (findPred, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek() {
		case "", ")", "-o", "-or":
			return left, nil
		case "-a", "-and":
			p.i++
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(e *findEntry) bool { return l(e) && right(e) }
	}
}

func (p *findParser) unary() (findPred, error) {
	switch p.peek() {
	case "":
		return nil, errors.New("expression expected")
	case "!", "-not":
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(e *findEntry) bool { return !x(e) }, nil
	case "(":
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errors.New("missing )")
		}
		p.i++
		return x, nil
	}
	return p.primary()
}

func (p *findParser) arg(name string) (string, error) {
	if p.i >= len(p.args) {
		return "", fmt.Errorf("missing argument to %s", name)
	}
	p.i++
	return p.args[p.i-1], nil
}

func (p *findParser) primary() (findPred, error) {
	f := p.f
	name := p.args[p.i]
	p.i++
	always := func(*findEntry) bool { return true }
	switch name {
	case "-true":
		return always, nil
	case "-false":
		return func(*findEntry) bool { return false }, nil
	case "-maxdepth", "-mindepth":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid argument %q to %s", v, name)
		}
		if name == "-maxdepth" {
			f.maxDepth = n
		} else {
			f.minDepth = n
		}
		return always, nil
	case "-depth":
		f.depthFirst = true
		return always, nil
	case "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		icase := strings.HasPrefix(name, "-i")
		var re *regexp.Regexp
		if strings.HasSuffix(name, "regex") {
			re, err = compileRegexp(v, true, icase)
			if err == nil {
				re, err = regexp.Compile(`^(?:` + re.String() + `)$`)
			}
		} else {
			re, err = globRegexp(v, icase)
		}
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(name, "name") && !strings.HasSuffix(name, "wholename") {
			return func(e *findEntry) bool { return re.MatchString(filepath.Base(e.path)) }, nil
		}
		return func(e *findEntry) bool { return re.MatchString(e.path) }, nil
	case "-type":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		var types []fs.FileMode
		for t := range strings.SplitSeq(v, ",") {
			m, ok := map[string]fs.FileMode{"f": 0, "d": fs.ModeDir, "l": fs.ModeSymlink, "p": fs.ModeNamedPipe,
				"s": fs.ModeSocket, "c": fs.ModeDevice | fs.ModeCharDevice, "b": fs.ModeDevice}[t]
			if !ok {
				return nil, fmt.Errorf("unknown argument to -type: %s", t)
			}
			types = append(types, m)
		}
		return func(e *findEntry) bool {
			for _, m := range types {
				if e.info.Mode().Type() == m {
					return true
				}
			}
			return false
		}, nil
	case "-empty":
		return func(e *findEntry) bool {
			switch {
			case e.info.Mode().IsRegular():
				return e.info.Size() == 0
			case e.info.IsDir():
				d, err := os.Open(e.full)
				if err != nil {
					return false
				}
				defer d.Close()
				names, _ := d.Readdirnames(1)
				return len(names) == 0
			}
			return false
		}, nil
	case "-newer":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		ref, err := os.Stat(f.c.path(v))
		if err != nil {
			return nil, err
		}
		return func(e *findEntry) bool { return e.info.ModTime().After(ref.ModTime()) }, nil
	case "-mtime", "-mmin":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		unit := 24 * time.Hour
		if name == "-mmin" {
			unit = time.Minute
		}
		cmp, n, err := findNumber(v)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q to %s", v, name)
		}
		return func(e *findEntry) bool {
			age := int64(f.now.Sub(e.info.ModTime()) / unit)
			return cmp(age, n)
		}, nil
	case "-size":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		unit := int64(512)
		if k := strings.IndexByte("cwbkMG", v[len(v)-1]); k >= 0 {
			unit = []int64{1, 2, 512, 1 << 10, 1 << 20, 1 << 30}[k]
			v = v[:len(v)-1]
		}
		cmp, n, err := findNumber(v)
		if err != nil {
			return nil, fmt.Errorf("invalid argument to -size")
		}
		return func(e *findEntry) bool {
			// Sizes round up to whole units, as in GNU's find.
			return cmp(int64(math.Ceil(float64(e.info.Size())/float64(unit))), n)
		}, nil
	case "-print", "-print0":
		p.action = true
		end := "\n"
		if name == "-print0" {
			end = "\x00"
		}
		return func(e *findEntry) bool { f.print(e.path, end); return true }, nil
	case "-prune":
		return func(e *findEntry) bool { e.pruned = true; return true }, nil
	case "-quit":
		return func(*findEntry) bool { f.quit = true; return true }, nil
	case "-delete":
		p.action = true
		f.depthFirst = true
		return func(e *findEntry) bool {
			if e.path == "." {
				return true
			}
			if err := os.Remove(e.full); err != nil {
				f.fail(err)
				return false
			}
			return true
		}, nil
	case "-exec":
		p.action = true
		var argv []string
		for {
			a, err := p.arg(name)
			if err != nil {
				return nil, errors.New("missing argument to -exec: end it with ; or +")
			}
			if a == ";" {
				break
			}
			if a == "+" && len(argv) > 0 && argv[len(argv)-1] == "{}" {
				b := &findBatch{argv: argv[:len(argv)-1], at: len(argv) - 1}
				f.batches = append(f.batches, b)
				return func(e *findEntry) bool { b.names = append(b.names, e.path); return true }, nil
			}
			argv = append(argv, a)
		}
		if len(argv) == 0 {
			return nil, errors.New("missing argument to -exec")
		}
		return func(e *findEntry) bool {
			run := make([]string, len(argv))
			for i, a := range argv {
				run[i] = strings.ReplaceAll(a, "{}", e.path)
			}
			return f.run(run)
		}, nil
	}
	return nil, fmt.Errorf("unknown predicate %q", name)
}

// findNumber parses find's [+-]N: more than, less than, exactly N.
func findNumber(s string) (func(v, n int64) bool, int64, error) {
	cmp := func(v, n int64) bool { return v == n }
	switch {
	case strings.HasPrefix(s, "+"):
		cmp, s = func(v, n int64) bool { return v > n }, s[1:]
	case strings.HasPrefix(s, "-"):
		cmp, s = func(v, n int64) bool { return v < n }, s[1:]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return cmp, n, err
}

// globRegexp compiles a shell pattern as find matches it: * and ? match
// any character, / included; [!…] is a negated set.
func globRegexp(glob string, icase bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if icase {
		b.WriteString("(?i)")
	}
	b.WriteString("^(?s:")
	for i := 0; i < len(glob); i++ {
		switch ch := glob[i]; ch {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
			} else {
				b.WriteString(`\\`)
			}
		case '[':
			j := bracketEnd(glob, i)
			if j > len(glob) || glob[j-1] != ']' || j-i < 3 {
				b.WriteString(`\[`)
				continue
			}
			set := glob[i+1 : j-1]
			if strings.HasPrefix(set, "!") {
				set = "^" + set[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(set, `\`, `\\`) + "]")
			i = j - 1
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteString(")$")
	return regexp.Compile(b.String())
}
