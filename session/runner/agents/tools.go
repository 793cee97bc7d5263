package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/session/sessiondb"
)

// toolSpec describes a tool to a model.
type toolSpec struct {
	Name        string
	Description string
	Params      map[string]any // JSON Schema properties
	Required    []string
}

// toolbox runs the agent's tools inside the container.
type toolbox struct {
	db      sessiondb.Container
	workdir string
	send    func(ctx context.Context, text string) error
}

const maxToolOutput = 16 << 10

func (tb *toolbox) specs() []toolSpec {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	return []toolSpec{
		{"bash", "Run a shell command (sh) in your working folder; returns its output and exit code.",
			map[string]any{"command": str("the command line")}, []string{"command"}},
		{"read_file", "Read a file in your working folder (or the shared global folder).",
			map[string]any{"path": str("a path relative to your working folder")}, []string{"path"}},
		{"write_file", "Write a file in your working folder (CLAUDE.md there is your memory).",
			map[string]any{"path": str("a path relative to your working folder"), "content": str("the whole new content")}, []string{"path", "content"}},
		{"send_message", "Send a message to the conversation now, before your final answer.",
			map[string]any{"text": str("the message, Markdown")}, []string{"text"}},
	}
}

// run executes one call and returns its result and whether it failed.
func (tb *toolbox) run(ctx context.Context, c toolCall) (string, bool) {
	var in map[string]string
	if err := json.Unmarshal(c.Input, &in); err != nil {
		return "invalid input: " + err.Error(), true
	}
	switch c.Name {
	case "bash":
		return tb.bash(ctx, in["command"])
	case "read_file":
		p, err := tb.path(in["path"], true)
		if err != nil {
			return err.Error(), true
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err.Error(), true
		}
		if len(b) > 64<<10 {
			b = append(b[:64<<10], []byte("\n[cut at 64 KiB]")...)
		}
		return string(b), false
	case "write_file":
		p, err := tb.path(in["path"], false)
		if err != nil {
			return err.Error(), true
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err.Error(), true
		}
		if err := os.WriteFile(p, []byte(in["content"]), 0o644); err != nil {
			return err.Error(), true
		}
		return fmt.Sprintf("wrote %d bytes to %s", len(in["content"]), in["path"]), false
	case "send_message":
		if err := tb.send(ctx, in["text"]); err != nil {
			return err.Error(), true
		}
		return "sent", false
	}
	return "no such tool: " + c.Name, true
}

func (tb *toolbox) bash(ctx context.Context, command string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = tb.workdir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s := out.String()
	if len(s) > maxToolOutput {
		s = s[:maxToolOutput] + "\n[output cut]"
	}
	if err != nil {
		return fmt.Sprintf("%s\n[%v]", s, err), true
	}
	return s + "\n[exit 0]", false
}

// path confines a tool's path to the working folder (and, for reading,
// the global memory).
func (tb *toolbox) path(p string, read bool) (string, error) {
	if p == "" {
		return "", fmt.Errorf("path is empty")
	}
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(tb.workdir, p)
	}
	full = filepath.Clean(full)
	for _, root := range []string{tb.workdir, OutboxDir, GlobalDir} {
		if root == GlobalDir && !read {
			continue
		}
		if full == root || strings.HasPrefix(full, root+"/") {
			return full, nil
		}
	}
	return "", fmt.Errorf("%s is outside your working folder", p)
}
