package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/session/runner"
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
	// mcpc knows the group's MCP servers; mcp is the running turn's
	// connections to them (nil between turns).
	mcpc *mcpClient
	mcp  *mcpSet
}

// openMCP connects to the group's MCP servers for one turn: their tools
// join specs() and run() until the returned func stops them. note names
// the servers that did not start, for the model.
func (tb *toolbox) openMCP(ctx context.Context) (note string, stop func()) {
	set := tb.mcpc.open(ctx)
	tb.mcp = set
	return set.note(), func() { tb.mcp = nil; set.close() }
}

const maxToolOutput = 16 << 10

func (tb *toolbox) specs() []toolSpec {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	return append([]toolSpec{
		{"bash", "Run a shell command (sh) in your working folder; returns its output and exit code.",
			map[string]any{"command": str("the command line")}, []string{"command"}},
		{"read_file", "Read a file in your working folder (or the shared global folder).",
			map[string]any{"path": str("a path relative to your working folder")}, []string{"path"}},
		{"write_file", "Write a file in your working folder (CLAUDE.md there is your memory).",
			map[string]any{"path": str("a path relative to your working folder"), "content": str("the whole new content")}, []string{"path", "content"}},
		{"send_message", "Send a message to the conversation now, before your final answer.",
			map[string]any{"text": str("the message, Markdown")}, []string{"text"}},
		{"send_file", sendFileDoc,
			map[string]any{"path": str("the file: a path relative to your working folder, or under " + OutboxDir), "comment": str("a message to go with it, Markdown")},
			[]string{"path"}},
	}, append(taskSpecs(), tb.mcp.specs()...)...)
}

// run executes one call and returns its result and whether it failed. A
// command's output is progress (a long build is not a hang).
func (tb *toolbox) run(ctx context.Context, c toolCall, progress func(string)) (string, bool) {
	if tb.mcp.has(c.Name) {
		return tb.mcp.call(ctx, c.Name, c.Input)
	}
	var in map[string]string
	if err := json.Unmarshal(c.Input, &in); err != nil {
		return "invalid input: " + err.Error(), true
	}
	if isTaskTool(c.Name) {
		return askTask(ctx, tb.db, taskRequest(c.Name, in))
	}
	switch c.Name {
	case "bash":
		return tb.bash(ctx, in["command"], progress)
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
	case "send_file":
		out, err := sendFile(ctx, tb.db, tb.workdir, in["path"], in["comment"])
		if err != nil {
			return err.Error(), true
		}
		return out, false
	}
	return "no such tool: " + c.Name, true
}

// sendFileDoc describes the send_file tool to a model.
const sendFileDoc = "Send a file to the conversation now (a person sees it as an attachment), with an optional comment. " +
	"Write it in your working folder or " + OutboxDir + " first."

// sendFile is the send_file tool: the file, confined to the working folder
// or the outbox, is copied into the outbox for a reply that carries it.
func sendFile(ctx context.Context, db sessiondb.Container, workdir, path, comment string) (string, error) {
	p, err := (&toolbox{workdir: workdir}).path(path, false)
	if err != nil {
		return "", err
	}
	f, err := runner.SendFile(ctx, db, p, comment)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("sent %s (%d bytes)", f.Name, f.Size), nil
}

func (tb *toolbox) bash(ctx context.Context, command string, progress func(string)) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = tb.workdir
	var out bytes.Buffer
	w := &progressWriter{w: &out, progress: progress}
	cmd.Stdout, cmd.Stderr = w, w
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

// progressWriter reports each write as progress; exec serialises the
// writes of a command's stdout and stderr when both are the same pointer.
type progressWriter struct {
	w        io.Writer
	progress func(string)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.progress("tool bash output")
	return p.w.Write(b)
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
