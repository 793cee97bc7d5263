package toolbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// xargs runs a command (echo by default) with arguments read from
// standard input: `xargs [-0] [-d DELIM] [-n N] [-L N] [-I REPL] [-r] [-t]
// [-P N] [COMMAND [ARG]…]`. Input is split at blanks and newlines, with
// '…', "…" and \ quoting (-0: at NUL bytes, -d: at DELIM). -I runs
// COMMAND once per input line, REPL in its arguments replaced by the
// line. -r runs nothing for empty input; -t prints each command line to
// standard error; -P is accepted, and the commands run one at a time.
// Exit code 123 if a command failed, 124 if one exited 255, 127 if it was
// not found.
func xargs(c *call, args []string) int {
	// Options come first only: the rest is the command's.
	var (
		maxArgs, maxLines int
		replace, delim    string
		nul, noEmpty      bool
		trace             bool
	)
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		flag, val := a[:2], a[2:]
		needs := strings.Contains("ndLIPsE", flag[1:])
		if needs && val == "" {
			if len(args) == 0 {
				return c.usage(fmt.Errorf("option %s needs a value", flag))
			}
			val, args = args[0], args[1:]
		}
		var err error
		switch flag {
		case "-0":
			nul = true
		case "-r":
			noEmpty = true
		case "-t":
			trace = true
		case "-x", "-p":
		case "-n":
			maxArgs, err = strconv.Atoi(val)
		case "-L":
			maxLines, err = strconv.Atoi(val)
		case "-I":
			replace = val
		case "-d":
			delim, err = unescapeDelim(val)
		case "-P", "-s":
			_, err = strconv.Atoi(val)
		case "-E":
		default:
			err = errors.New("unknown option " + a)
		}
		if err != nil || maxArgs < 0 || maxLines < 0 {
			return c.usage(fmt.Errorf("invalid %s: %v", a, err))
		}
		if !needs && val != "" {
			args = append([]string{"-" + val}, args...) // a cluster: -0r
		}
	}
	if len(args) == 0 {
		args = []string{"echo"}
	}
	br := bufio.NewReaderSize(c.stdin, 64<<10)
	var items []string // arguments, or with -I / -L whole lines
	var err error
	switch {
	case nul:
		items, err = splitAt(br, 0)
	case delim != "":
		items, err = splitAt(br, delim[0])
	case replace != "" || maxLines > 0:
		items, err = xargsLines(br, replace != "")
	default:
		items, err = xargsWords(br)
	}
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	if len(items) == 0 && (noEmpty || replace != "") {
		return 0
	}
	code := 0
	run := func(argv []string) bool {
		if trace {
			fmt.Fprintln(c.stderr, strings.Join(argv, " "))
		}
		switch rc := runArgv(c, argv, nil); {
		case rc == 0:
		case rc == 255:
			c.errorf("%s: exited with status 255; aborting", argv[0])
			code = 124
			return false
		case rc == 126 || rc == 127:
			code = rc
			return false
		default:
			code = 123
		}
		return true
	}
	switch {
	case replace != "":
		for _, line := range items {
			argv := make([]string, len(args))
			for i, a := range args {
				argv[i] = strings.ReplaceAll(a, replace, line)
			}
			if !run(argv) {
				break
			}
		}
	case maxLines > 0:
		for start := 0; start < len(items) || start == 0; start += maxLines {
			var argv []string
			for _, line := range items[start:min(start+maxLines, len(items))] {
				argv = append(argv, strings.Fields(line)...)
			}
			if !run(append(append([]string{}, args...), argv...)) || len(items) == 0 {
				break
			}
		}
	default:
		// Without -n, batches of a bounded size, so that a program
		// started with them is not refused for too long a command line.
		n := maxArgs
		if n == 0 {
			n = 4096
		}
		for start := 0; start < len(items) || start == 0; start += n {
			batch := items[start:min(start+n, len(items))]
			if !run(append(append([]string{}, args...), batch...)) || len(items) == 0 {
				break
			}
		}
	}
	return code
}

// unescapeDelim reads -d's delimiter: one byte, or \n \t \0 \\.
func unescapeDelim(s string) (string, error) {
	switch s {
	case `\n`:
		return "\n", nil
	case `\t`:
		return "\t", nil
	case `\0`:
		return "\x00", nil
	case `\\`:
		return `\`, nil
	}
	if len(s) != 1 {
		return "", errors.New("the delimiter must be one character")
	}
	return s, nil
}

// splitAt splits the input at every sep; a final empty item is dropped.
func splitAt(r *bufio.Reader, sep byte) ([]string, error) {
	var items []string
	for {
		s, err := r.ReadString(sep)
		if s != "" {
			items = append(items, strings.TrimSuffix(s, string(sep)))
		}
		if err == io.EOF {
			return items, nil
		}
		if err != nil {
			return items, err
		}
	}
}

// xargsLines reads lines, blank ones skipped; for -I leading blanks go.
func xargsLines(r *bufio.Reader, trimLeft bool) ([]string, error) {
	lines, err := splitAt(r, '\n')
	var items []string
	for _, l := range lines {
		if trimLeft {
			l = strings.TrimLeft(l, " \t")
		}
		if strings.TrimSpace(l) != "" {
			items = append(items, l)
		}
	}
	return items, err
}

// xargsWords splits the input at blanks and newlines, honouring quotes
// and backslashes, as POSIX xargs does.
func xargsWords(r *bufio.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\n' {
				return nil, fmt.Errorf("unmatched %c quote", quote)
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote, inWord = ch, true
		case ch == '\\' && i+1 < len(b):
			i++
			cur.WriteByte(b[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unmatched %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
