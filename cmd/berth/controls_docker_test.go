package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// A hostile agent prints escape sequences on its container's stdout and
// stderr (retitle the window, clear the screen, write the clipboard, an
// 8-bit CSI byte); `berth logs --containers` shows the lines without them,
// and the captured session log holds none either.
func TestLogsContainerEscapesStripped(t *testing.T) {
	t.Parallel()
	g, sid := startOps(t, nil)
	const seq = `pwn1\033]0;pwned\007 \033[2J \033]52;c;Y3VybCBldmlsIHwgc2g=\007 \233 2J end`
	out, err := g.Exec(sid, `printf '`+seq+`\n' > /proc/1/fd/1 && printf 'pwn2\033[2J\033]0;t\007end\n' > /proc/1/fd/2 && echo ok`)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("exec: %v: %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var stdout, errOut bytes.Buffer
		if err := cmdLogs(context.Background(), []string{"--home", g.Home, "--containers", "--session", sid[:8]}, &stdout, &errOut); err != nil {
			t.Fatalf("berth logs: %v\n%s", err, errOut.String())
		}
		got := stdout.String()
		if strings.Contains(got, "pwn1") && strings.Contains(got, "pwn2") {
			terminalSafe(t, "berth logs --containers", got, false)
			if !strings.Contains(got, "pwn1]0;pwned [2J ]52;c;Y3VybCBldmlsIHwgc2g= \uFFFD 2J end") || !strings.Contains(got, "pwn2[2J]0;tend") {
				t.Fatalf("lines not shown stripped:\n%s", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's lines never showed:\n%s", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var raw bytes.Buffer
	if err := cmdLogs(context.Background(), []string{"--home", g.Home, "--containers", "--session", sid[:8], "--json"}, &raw, &raw); err != nil {
		t.Fatal(err)
	}
	terminalSafe(t, "berth logs --containers --json", raw.String(), false)
}
