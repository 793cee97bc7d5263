package agents

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"

	"github.com/berth-dev/berth/session/runner"
)

// ClaudeConfigDir is where the claude CLI keeps its state (settings,
// conversations): the group's .claude-shared folder, reached inside the
// group folder's one mount. It is not a mount of its own: the engine would
// resolve that on the host, through whatever symlink the agent put there.
const ClaudeConfigDir = GroupDir + "/.claude-shared"

// claudeProvider drives the Claude Code CLI headless, one process per
// turn, resuming the conversation by the id kept in session state. The
// CLI reaches the model API through a loopback forwarder to the
// credential proxy's socket, with a placeholder key.
type claudeProvider struct {
	model, permissionMode, sock string
	dir                         string             // working folder; default GroupDir
	mcpServers                  []runner.MCPServer // the group's own, beside berth's
	// command makes the process; tests replace it with a stand-in.
	command func(ctx context.Context, args []string) *exec.Cmd
}

// claudeResult is what one run of the CLI produced.
type claudeResult struct {
	SessionID string
	Text      string
	IsError   bool
	Subtype   string
	CostUSD   float64
	Usage     usage
}

// streamLine is the part of a stream-json line berth reads; unknown types
// and fields are ignored, as the CLI adds them over time.
type streamLine struct {
	Type      string  `json:"type"`
	Subtype   string  `json:"subtype"`
	SessionID string  `json:"session_id"`
	Result    string  `json:"result"`
	IsError   bool    `json:"is_error"`
	Cost      float64 `json:"total_cost_usd"`
	OldCost   float64 `json:"cost_usd"` // older CLIs
	Message   struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	} `json:"message"`
	Usage struct {
		Input  int64 `json:"input_tokens"`
		Output int64 `json:"output_tokens"`
	} `json:"usage"`
}

// errNoResult means the CLI ended without its result line (killed, or a
// crash mid-stream).
var errNoResult = errors.New("claude ended without a result")

// parseStream reads the CLI's stream-json output. Every line, whatever it
// holds, is progress: the CLI prints one per model event and tool step.
func parseStream(r io.Reader, progress func(string)) (claudeResult, error) {
	var res claudeResult
	var assistant []string
	sawResult := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		progress("claude output")
		var l streamLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // a truncated or foreign line
		}
		if l.SessionID != "" {
			res.SessionID = l.SessionID
		}
		switch l.Type {
		case "assistant":
			if l.Subtype != "" {
				continue
			}
			for _, c := range l.Message.Content {
				if c.Type == "text" && c.Text != "" {
					assistant = append(assistant, c.Text)
				}
			}
		case "result":
			sawResult = true
			res.IsError, res.Subtype, res.Text = l.IsError, l.Subtype, l.Result
			res.CostUSD = max(l.Cost, l.OldCost)
			res.Usage = usage{Input: l.Usage.Input, Output: l.Usage.Output}
		}
	}
	if !sawResult {
		return res, errNoResult
	}
	if res.Text == "" && !res.IsError {
		res.Text = strings.Join(assistant, "\n\n")
	}
	return res, sc.Err()
}

// Name implements Provider.
func (c *claudeProvider) Name() string { return "claude" }

// Turn implements Provider.
func (c *claudeProvider) Turn(ctx context.Context, t runner.Turn) ([]runner.Reply, error) {
	var prompt strings.Builder
	var last string
	for _, m := range t.Messages {
		if m.Trigger {
			last = m.ID
		}
		files, _ := describeFiles(t.InDir, m, false)
		fmt.Fprintf(&prompt, "%s%s%s\n", speaker(m), m.Content.Text, files)
	}
	base, stop, err := c.forward()
	if err != nil {
		return nil, err
	}
	defer stop()
	resume, _ := t.State.Get(ctx, "claude:session")
	res, stderr, err := c.run(ctx, t.Progressed, prompt.String(), systemPrompt(t.Messages), resume, base)
	if resume != "" && invalidResume(res, stderr, err) {
		// A stale conversation id must not fail every later message.
		if err := t.State.Set(ctx, "claude:session", ""); err != nil {
			slog.Warn("forget claude session", "err", err)
		}
		res, stderr, err = c.run(ctx, t.Progressed, prompt.String(), systemPrompt(t.Messages), "", base)
	}
	if res.SessionID != "" {
		if err := t.State.Set(ctx, "claude:session", res.SessionID); err != nil {
			slog.Warn("save claude session", "err", err)
		}
	}
	u := res.Usage
	u.CostUSD = res.CostUSD
	addUsage(ctx, t.State, u)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s", err, lastLine(stderr))
	case res.IsError:
		return nil, fmt.Errorf("claude: %s %s", res.Subtype, res.Text)
	case res.Text == "":
		return nil, nil
	}
	return []runner.Reply{{InReplyTo: last, Text: res.Text}}, nil
}

func (c *claudeProvider) run(ctx context.Context, progress func(string), prompt, system, resume, base string) (claudeResult, string, error) {
	mcpConfig, _ := json.Marshal(map[string]any{"mcpServers": c.mcpConfig(base)})
	args := []string{"-p", prompt, "--output-format", "stream-json", "--verbose", "--append-system-prompt", system,
		"--mcp-config", string(mcpConfig), "--permission-mode", c.permissionMode}
	if resume != "" {
		args = append(args, "--resume", resume)
	}
	if c.model != "" {
		args = append(args, "--model", c.model)
	}
	cmd := c.command(ctx, args)
	cmd.Dir = c.dir
	if cmd.Dir == "" {
		cmd.Dir = GroupDir
	}
	api := base
	if api != "" {
		api += "/anthropic"
	}
	cmd.Env = append(cmd.Environ(), "ANTHROPIC_BASE_URL="+api, "ANTHROPIC_API_KEY=added-by-the-berth-proxy", "HOME=/home/agent",
		"CLAUDE_CONFIG_DIR="+ClaudeConfigDir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return claudeResult{}, "", err
	}
	if err := cmd.Start(); err != nil {
		return claudeResult{}, "", fmt.Errorf("start claude: %w", err)
	}
	res, perr := parseStream(out, progress)
	werr := cmd.Wait()
	if perr != nil {
		return res, stderr.String(), perr
	}
	if werr != nil && !res.IsError {
		return res, stderr.String(), fmt.Errorf("claude: %w", werr)
	}
	return res, stderr.String(), nil
}

func invalidResume(res claudeResult, stderr string, err error) bool {
	s := stderr + " " + res.Text
	return (err != nil || res.IsError) && strings.Contains(s, "No conversation found")
}

// forward serves a loopback port that pipes to the proxy socket, so a
// program that only speaks TCP (the CLI) can reach the model API.
func (c *claudeProvider) forward() (string, func(), error) {
	if c.sock == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("loopback forwarder: %w", err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A proxied connection's copy and close errors are the
				// client's to see (a short reply); nothing here can act on them.
				defer func() { _ = conn.Close() }()
				up, err := net.Dial("unix", c.sock)
				if err != nil {
					return
				}
				defer func() { _ = up.Close() }()
				go func() { _, _ = io.Copy(up, conn) }()
				_, _ = io.Copy(conn, up)
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func() { _ = ln.Close() }, nil
}

// mcpConfig is the CLI's MCP servers: berth's own, then the group's, a
// command as it is, an HTTP server at its path on the proxy, reached
// through the loopback forwarder at base (none without one).
func (c *claudeProvider) mcpConfig(base string) map[string]any {
	servers := map[string]any{"berth": map[string]any{
		"type": "stdio", "command": "/usr/local/bin/berth-runner", "args": []string{"mcp", "--in", "/workspace/in", "--out", "/workspace/out"}}}
	for _, s := range c.mcpServers {
		switch {
		case s.Name == "berth":
			continue // the host's configuration refuses it; berth's own stays
		case s.HTTP && base != "":
			servers[s.Name] = map[string]any{"type": "http", "url": base + runner.MCPProxyPrefix + s.Name}
		case !s.HTTP && strings.HasPrefix(s.Command, GroupDir+"/"):
			args := s.Args
			if args == nil {
				args = []string{}
			}
			servers[s.Name] = map[string]any{"type": "stdio", "command": s.Command, "args": args, "env": map[string]string{}}
		}
	}
	return servers
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
