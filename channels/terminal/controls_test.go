package terminal

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
)

// attacks are what hostile text would make a terminal do: set its title,
// clear the screen, write the clipboard (OSC 52), move the cursor with an
// 8-bit CSI, hide text behind a carriage return.
var attacks = []struct{ name, in, want string }{
	{"title", "a\x1b]0;pwned\x07b", "a]0;pwnedb"},
	{"clear", "\x1b[2Jcleared", "[2Jcleared"},
	{"clipboard", "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07done", "]52;c;Y3VybCBldmlsIHwgc2g=done"},
	{"8-bit CSI", "\u009b2Jx", "2Jx"},
	{"8-bit OSC", "\u009d0;t\u009cx", "0;tx"},
	{"raw 0x9b byte", "\x9b2Jx", "\uFFFD2Jx"},
	{"raw 0x9d byte", "a\x9d0;t\x07b", "a\uFFFD0;tb"},
	{"carriage return", "ok\rEVIL", "okEVIL"},
	{"bell backspace nul del", "a\a\b\x00\x7fb", "ab"},
	{"string terminator", "a\x1b\\b", "a\\b"},
}

func TestStripControls(t *testing.T) {
	cases := append(attacks[:len(attacks):len(attacks)], []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "hello, world", "hello, world"},
		{"newline and tab kept", "a\tb\nc\n", "a\tb\nc\n"},
		{"unicode kept", "héllo ě 世界 🚢 \uFFFD", "héllo ě 世界 🚢 \uFFFD"},
		{"every C0", "x\x01\x02\x03\x04\x05\x06\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1fy", "xy"},
		{"every C1", "x\u0080\u0085\u008d\u009b\u009fy", "xy"},
		{"next to C1 range", "\u007e\u00a0", "\u007e\u00a0"},
		{"truncated UTF-8", "ab\xe4\xb8", "ab\uFFFD\uFFFD"},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := StripControls(c.in); got != c.want {
				t.Errorf("StripControls(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// A reply with escape sequences reaches the terminal without them, in the
// interactive and the piped form.
func TestSendStripsControls(t *testing.T) {
	for _, interactive := range []bool{false, true} {
		var out bytes.Buffer
		c := New(strings.NewReader(""), &out, &out, interactive, "op")
		for _, a := range attacks {
			if _, err := c.Send(context.Background(), channels.Outbound{PlatformID: PlatformID, Text: a.in}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), a.want) {
				t.Errorf("%s: printed %q, want %q in it", a.name, out.String(), a.want)
			}
		}
		s := out.String()
		if interactive {
			s = strings.ReplaceAll(s, "\ryou> ", "") // berth's own prompt redraw
			s = strings.ReplaceAll(s, "\r", "")
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) }); i >= 0 {
			t.Errorf("interactive=%v: a control character reached the terminal at %q", interactive, s[i:])
		}
		if !utf8.ValidString(s) {
			t.Errorf("interactive=%v: a byte that is no UTF-8 (a terminal may read 0x9b as CSI) reached the terminal", interactive)
		}
	}
}
