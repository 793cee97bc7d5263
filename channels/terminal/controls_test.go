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

// On a terminal the status line takes the prompt's place, overwritten in
// place as the state changes and cleared when the reply prints; piped, or
// without ShowStatus, nothing but the reply is printed.
func TestStatusLine(t *testing.T) {
	for _, c := range []struct {
		name              string
		interactive, show bool
		want              string
	}{
		{"terminal", true, true, "\r\x1b[Kberth: queued, next in line…" + "\r\x1b[Kberth: starting the agent…" +
			"\r\x1b[Kberth: working…" + "\r\x1b[Kecho: hi\nyou> " +
			"\r\x1b[Kberth: retrying: a]0;t…" + "\r\x1b[Kyou> "},
		{"piped", false, true, "echo: hi\n"},
		{"terminal without ShowStatus", true, false, "\recho: hi\nyou> "},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			ch := New(strings.NewReader(""), &out, &out, c.interactive, "op")
			if c.show {
				ch.ShowStatus()
			}
			ctx := context.Background()
			a, b := channels.Target{PlatformID: PlatformID, MessageID: "a"}, channels.Target{PlatformID: PlatformID, MessageID: "b"}
			for _, s := range []channels.State{channels.StateQueued, channels.StateStarting, channels.StateWorking, channels.StateWorking} {
				ch.Status(ctx, a, channels.Status{State: s}) // the same state twice prints once
			}
			if _, err := ch.Send(ctx, channels.Outbound{PlatformID: PlatformID, Text: "echo: hi"}); err != nil {
				t.Fatal(err)
			}
			ch.Status(ctx, a, channels.Status{State: channels.StateDone}) // already cleared by the reply
			// Agent text in a reason is stripped of controls and cut short.
			ch.Status(ctx, b, channels.Status{State: channels.StateRetrying, Detail: "a\x1b]0;t" + strings.Repeat("x", 100)})
			ch.Status(ctx, b, channels.Status{State: channels.StateFailed})
			got := out.String()
			if c.name == "terminal" {
				// The retrying line is cut at maxStatus characters: compare its head.
				i := strings.Index(got, "berth: retrying")
				j := strings.LastIndex(got, "\r\x1b[Kyou> ")
				if i < 0 || j < i || utf8.RuneCountInString(got[i:j]) != maxStatus {
					t.Fatalf("printed %q: no retrying line of %d characters", got, maxStatus)
				}
				if strings.ContainsRune(got[i:j], 0x1b) {
					t.Fatalf("an escape from the reason reached the terminal: %q", got[i:j])
				}
				got = got[:i] + "berth: retrying: a]0;t…" + got[j:]
			}
			if got != c.want {
				t.Errorf("printed\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}
