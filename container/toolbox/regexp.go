package toolbox

import (
	"fmt"
	"regexp"
	"strings"
)

// compileRegexp compiles a POSIX regular expression, basic (grep, sed) or
// extended (-E), as Go's RE2 syntax. Back-references (\1 in a pattern) are
// not supported by RE2 and are an error.
func compileRegexp(pat string, extended, icase bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if icase {
		b.WriteString("(?i)")
	}
	// Multi-line off, so ^ and $ anchor the line the pattern is matched
	// against; a newline is matched literally (sed's N-less pattern space
	// never holds one anyway).
	var err error
	if extended {
		err = translateERE(&b, pat)
	} else {
		err = translateBRE(&b, pat)
	}
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("bad regular expression %q: %w", pat, err)
	}
	return re, nil
}

// translateBRE writes pat, a basic regular expression, in RE2 syntax: \( \)
// \{ \} \| \+ \? are the operators and ( ) { } | + ? are literals; * at
// the start of the expression or of a group is literal; \< and \> are
// word boundaries.
func translateBRE(b *strings.Builder, pat string) error {
	atStart := true // where a * is literal
	for i := 0; i < len(pat); i++ {
		ch := pat[i]
		switch {
		case ch == '[':
			j := bracketEnd(pat, i)
			// A backslash in a POSIX bracket expression is a member.
			b.WriteString(strings.ReplaceAll(pat[i:j], `\`, `\\`))
			i = j - 1
			atStart = false
			continue
		case ch == '\\' && i+1 < len(pat):
			i++
			switch n := pat[i]; n {
			case '(':
				b.WriteByte('(')
				atStart = true
				continue
			case ')', '{', '}', '|', '+', '?':
				b.WriteByte(n)
				atStart = n == '|'
				continue
			case '<', '>':
				b.WriteString(`\b`)
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				return fmt.Errorf("back-references (\\%c) are not supported", n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case ch == '*' && atStart:
			b.WriteString(`\*`)
		case ch == '^' && atStart:
			b.WriteByte('^')
			continue // a * after a leading ^ is still literal
		case strings.IndexByte("(){}|+?", ch) >= 0:
			b.WriteByte('\\')
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
		atStart = false
	}
	return nil
}

// translateERE writes pat, an extended regular expression, in RE2 syntax:
// the same but for \< and \> (word boundaries).
func translateERE(b *strings.Builder, pat string) error {
	for i := 0; i < len(pat); i++ {
		ch := pat[i]
		switch {
		case ch == '[':
			j := bracketEnd(pat, i)
			// A backslash in a POSIX bracket expression is a member.
			b.WriteString(strings.ReplaceAll(pat[i:j], `\`, `\\`))
			i = j - 1
		case ch == '\\' && i+1 < len(pat):
			i++
			switch n := pat[i]; n {
			case '<', '>':
				b.WriteString(`\b`)
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				return fmt.Errorf("back-references (\\%c) are not supported", n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		default:
			b.WriteByte(ch)
		}
	}
	return nil
}

// bracketEnd returns the index just past the bracket expression that
// starts at pat[i] == '[' (a ']' first, or after '^', is a member; [:…:]
// classes are skipped whole), or len(pat) when it is not closed, which
// leaves the error to the compiler.
func bracketEnd(pat string, i int) int {
	j := i + 1
	if j < len(pat) && pat[j] == '^' {
		j++
	}
	if j < len(pat) && pat[j] == ']' {
		j++
	}
	for j < len(pat) {
		switch {
		case pat[j] == '[' && j+1 < len(pat) && (pat[j+1] == ':' || pat[j+1] == '.' || pat[j+1] == '='):
			end := strings.Index(pat[j+2:], string(pat[j+1])+"]")
			if end < 0 {
				return len(pat)
			}
			j += 2 + end + 2
		case pat[j] == ']':
			return j + 1
		default:
			j++
		}
	}
	return len(pat)
}
