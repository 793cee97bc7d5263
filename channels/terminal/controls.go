package terminal

import (
	"strings"
	"unicode/utf8"
)

// StripControls returns s as safe to print on a terminal: it drops every
// C0 control but newline and tab (ESC, which opens CSI, OSC and DCS
// sequences, CR, BEL, backspace…), DEL and every C1 control
// (U+0080–U+009F: 8-bit CSI, OSC…), and replaces each byte that is not
// UTF-8 with U+FFFD, since a terminal may read a lone 0x9b as CSI. Text
// from an agent or a container, printed as is, could retitle the window,
// clear the screen or write the clipboard; stripped, what is left of a
// sequence ("]0;title") is shown as plain text.
func StripControls(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case isControl(r):
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// isControl reports a rune a terminal may act on rather than show.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f)
}

// clean reports, quickly, that s is printable ASCII, newlines and tabs
// only, or valid UTF-8 with no control: the common case, left as is.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || isControl(rune(c)) {
			return utf8.ValidString(s[i:]) && strings.IndexFunc(s[i:], isControl) < 0
		}
	}
	return true
}
