package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/data/logs"
	"github.com/berth-dev/berth/data/paths"
)

// hostileOutput is what an agent could print to drive the operator's
// terminal: retitle it, clear it, write the clipboard (OSC 52), an 8-bit
// CSI as a character and as a raw byte, and a carriage return that hides
// what came before.
const hostileOutput = "title\x1b]0;pwned\x07 clear\x1b[2J clip\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07 csi\u009b2J raw\x9b2J cr\rEVIL"

// strippedOutput is hostileOutput as it may reach a terminal.
const strippedOutput = "title]0;pwned clear[2J clip]52;c;Y3VybCBldmlsIHwgc2g= csi2J raw\uFFFD2J crEVIL"

// terminalSafe fails if s holds a control a terminal acts on (other than
// newline and tab, and the colour codes berth writes itself when allowed)
// or a byte that is not UTF-8.
func terminalSafe(t *testing.T, what, s string, colour bool) {
	t.Helper()
	if colour {
		for _, c := range []string{ansiReset, ansiDim, ansiBold, ansiRed, ansiGreen, ansiYellow, ansiBlue, ansiCyan, ansiGrey} {
			s = strings.ReplaceAll(s, c, "")
		}
	}
	if !utf8.ValidString(s) {
		t.Errorf("%s: a byte that is not UTF-8 reached the terminal: %q", what, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) }); i >= 0 {
		t.Errorf("%s: a control character reached the terminal at %q", what, s[i:])
	}
}

// Container output is captured with its controls stripped, so the session
// log is safe to cat or tail.
func TestCaptureStripsControls(t *testing.T) {
	home := t.TempDir()
	src := &fakeOutput{stdout: []string{hostileOutput + "\n"}, stderr: []string{"\x1b]0;err\x07x\n"}, created: time.Now()}
	c := newContainerLogs(home, src, nil, newRedactor(nil))
	c.Capture(sessA, "c1")
	c.close(time.Second)
	b, err := os.ReadFile(paths.Home(home).SessionLog(sessA))
	if err != nil {
		t.Fatal(err)
	}
	terminalSafe(t, "session log", string(b), false)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%q", len(lines), b)
	}
	for i, want := range []string{strippedOutput, "]0;errx"} {
		if e, ok := logs.ParseContainerLine(lines[i]); !ok || e.Msg != want {
			t.Errorf("line %d = %q, want text %q", i, lines[i], want)
		}
	}
}

// `berth logs` strips controls from every line it prints, readable (plain
// and coloured) or JSON: container lines written before capture stripped
// them, container JSON lines, gateway messages and fields (which slog
// stores as \u001b and the reader decodes), and lines that are no JSON.
func TestLogsStripsControls(t *testing.T) {
	home := t.TempDir()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	writeGatewayLog(t, paths.Home(home).GatewayLog(),
		logLine{base, slog.LevelWarn, "delivery failed \x1b]0;pwned\x07", []any{"session", sessA, "err", hostileOutput, "\x1b[2Jkey", "v"}})
	f, err := os.OpenFile(paths.Home(home).GatewayLog(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json \x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07 \x9b2J\n")
	f.Close()
	dir := paths.Home(home).SessionLogs()
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, sessA+".log"), []byte(
		base.Add(time.Second).Format(time.RFC3339Nano)+" stdout "+hostileOutput+"\n"+
			base.Add(2*time.Second).Format(time.RFC3339Nano)+` stderr {"time":"x","level":"INFO\u001b[2J","msg":"runner \u001b]0;t\u0007","k":"\u009b2J"}`+"\n"), 0o600)

	for _, mode := range []struct {
		name   string
		json   bool
		colour bool
	}{{"plain", false, false}, {"colour", false, true}, {"json", true, false}} {
		var out bytes.Buffer
		o := logsOptions{home: home, containers: true, json: mode.json, colour: mode.colour, poll: logsPoll}
		if err := runLogs(context.Background(), o, &out); err != nil {
			t.Fatal(err)
		}
		terminalSafe(t, mode.name, out.String(), mode.colour)
		if n := strings.Count(out.String(), "\n"); n != 4 {
			t.Errorf("%s: %d lines, want 4:\n%s", mode.name, n, out.String())
		}
		if !mode.json && !strings.Contains(out.String(), strippedOutput) {
			t.Errorf("%s: container line not shown as %q:\n%s", mode.name, strippedOutput, out.String())
		}
	}
}

// The gateway's own readable log (stderr of `berth run` and `berth chat`)
// shows a message or value quoting agent text without its controls:
// values are quoted (\x1b, \x9b shown as escapes), messages stripped.
func TestTextHandlerStripsControls(t *testing.T) {
	for _, colour := range []bool{false, true} {
		var out bytes.Buffer
		log := slog.New(newTextHandler(&out, slog.LevelInfo, colour))
		log.Warn("reply failed \x1b]0;pwned\x07", "err", hostileOutput, "raw", "a\x9b2J")
		terminalSafe(t, "text handler", out.String(), colour)
		if !strings.Contains(out.String(), `\x9b2J`) || !strings.Contains(out.String(), `\x1b]0;pwned`) {
			t.Errorf("values not quoted visibly: %q", out.String())
		}
	}
}

// Admin tables show names and texts people chose (a display name, a
// dropped message): a cell holds no control.
func TestAdminCellStripsControls(t *testing.T) {
	for _, in := range []string{hostileOutput, "Ann\x1b]0;pwned\x07", "a\x9b2Jb"} {
		terminalSafe(t, "admin cell", adminCell(in), false)
	}
	if got := adminCell("Ann\x1b[2J\tB"); got != "Ann[2J B" {
		t.Fatalf("adminCell = %q", got)
	}
}
