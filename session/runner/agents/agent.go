// Package agents holds the model providers the runner can drive inside an
// agent container (anthropic, openai, the claude CLI) and the tool loop
// they share. It is its own package so that the host, which embeds the
// runner's source, never links the model SDKs.
package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Paths inside an agent container (see the mounts package).
const (
	GroupDir    = "/workspace/group"
	GlobalDir   = "/workspace/global"
	OutboxDir   = "/workspace/out/outbox"
	ProxySocket = "/run/berth/proxy.sock"
)

// histMsg is one entry of a conversation, kept in session_state so a new
// container continues it. It is berth's own shape, not a provider's, so
// history outlives SDK versions.
type histMsg struct {
	Role    string     `json:"role"` // "user", "assistant" or "tool"
	Text    string     `json:"text,omitempty"`
	Calls   []toolCall `json:"calls,omitempty"`   // the assistant's tool calls
	CallID  string     `json:"call_id,omitempty"` // which call a tool result answers
	IsError bool       `json:"is_error,omitempty"`
	// Images are the images a person attached to a user message.
	Images []histImage `json:"images,omitempty"`
}

type toolCall struct {
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// usage is what a model call cost: tokens, and dollars where the
// provider reports them.
type usage struct {
	Input, Output int64
	CostUSD       float64 `json:",omitempty"`
}

// model is one provider's API: given the conversation, the next
// assistant message (text and/or tool calls). It calls progress as the
// answer comes (a non-nil func).
type model interface {
	next(ctx context.Context, system string, hist []histMsg, tools []toolSpec, progress func(string)) (histMsg, usage, error)
}

// errCutShort is a model's streamed answer that ended before the model
// said it was done.
var errCutShort = errors.New("the model's answer ended before it was complete")

// maxHistory bounds what is kept and sent; older turns fall away.
const maxHistory = 80

// maxSteps bounds tool use within one turn.
const maxSteps = 12

// agent runs a tool loop over a model: the Provider for anthropic and openai.
type agent struct {
	name  string
	model model
	tools *toolbox
}

// Name implements Provider.
func (a *agent) Name() string { return a.name }

// Turn implements Provider.
func (a *agent) Turn(ctx context.Context, t runner.Turn) ([]runner.Reply, error) {
	key := "history:" + a.name
	var hist []histMsg
	if v, err := t.State.Get(ctx, key); err == nil && v != "" {
		if err := json.Unmarshal([]byte(v), &hist); err != nil {
			slog.Warn("history unreadable; starting afresh", "provider", a.name, "err", err)
			hist = nil
		}
	}
	var last string
	for _, m := range t.Messages {
		if m.Kind == sessiondb.KindSystem {
			hist = append(hist, histMsg{Role: "user", Text: "[berth] " + m.Content.Text})
			continue
		}
		files, images := describeFiles(t.InDir, m, true)
		hist = append(hist, histMsg{Role: "user", Text: speaker(m) + m.Content.Text + files, Images: images})
		if m.Trigger {
			last = m.ID
		}
	}
	note, stop := a.tools.openMCP(ctx) // the group's MCP servers, for this turn
	defer stop()
	system := systemPrompt(t.Messages) + note
	var total usage
	var text strings.Builder
	for step := 0; step < maxSteps; step++ {
		msg, u, err := a.model.next(ctx, system, trim(hist), a.tools.specs(), t.Progressed)
		total.Input, total.Output = total.Input+u.Input, total.Output+u.Output
		if err != nil {
			return nil, errors.New(explain(err))
		}
		hist = append(hist, msg)
		if msg.Text != "" {
			if text.Len() > 0 {
				text.WriteString("\n\n")
			}
			text.WriteString(msg.Text)
		}
		if len(msg.Calls) == 0 {
			break
		}
		for _, c := range msg.Calls {
			t.Progressed("tool " + c.Name + " started")
			out, isErr := a.tools.run(ctx, c, t.Progressed)
			t.Progressed("tool " + c.Name + " ended")
			hist = append(hist, histMsg{Role: "tool", CallID: c.ID, Text: out, IsError: isErr})
		}
	}
	if b, err := json.Marshal(trim(hist)); err == nil {
		if err := t.State.Set(ctx, key, string(b)); err != nil {
			slog.Warn("save history", "provider", a.name, "err", err)
		}
	}
	addUsage(ctx, t.State, total)
	if text.Len() == 0 {
		return nil, nil
	}
	return []runner.Reply{{InReplyTo: last, Text: text.String()}}, nil
}

// trim keeps the newest history, starting at a user message so tool
// results never lose the call they answer.
func trim(h []histMsg) []histMsg {
	if len(h) <= maxHistory {
		return h
	}
	h = h[len(h)-maxHistory:]
	for len(h) > 0 && h[0].Role != "user" {
		h = h[1:]
	}
	return h
}

// speaker is what a message starts with for the model: its speaker's
// name, or, for a scheduled task's run, that no one is waiting for it.
func speaker(m sessiondb.InMessage) string {
	if m.Kind == sessiondb.KindTask {
		return taskMessage
	}
	if m.Content.SenderName != "" {
		return m.Content.SenderName + ": "
	}
	return ""
}

// systemPrompt is where the talk happens and when (the local date and
// time), and the group's memory (its CLAUDE.md, with the global import
// line replaced by the global memory).
func systemPrompt(msgs []sessiondb.InMessage) string {
	return systemPromptAt(msgs, time.Now(), zoneName())
}

// systemPromptAt is systemPrompt at now, in zone.
func systemPromptAt(msgs []sessiondb.InMessage, now time.Time, zone string) string {
	var b strings.Builder
	platform := ""
	if len(msgs) > 0 {
		platform = msgs[0].Content.Platform
	}
	fmt.Fprintf(&b, "You are an assistant talking with people in a chat (platform: %s). Messages start with the speaker's name. "+
		"Your working folder is %s; you can run shell commands there, and read and write files. Keep replies concise; use Markdown.\n\n",
		platform, GroupDir)
	b.WriteString(nowLine(now, zone) + " A message that starts with " + strings.TrimSpace(taskMessage) +
		" is a scheduled task running (see schedule_task): do what its prompt asks; the answer goes to the conversation.\n\n")
	mem, err := os.ReadFile(filepath.Join(GroupDir, "CLAUDE.md"))
	if err != nil {
		return b.String()
	}
	for _, line := range strings.Split(string(mem), "\n") {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "@"); ok && strings.HasPrefix(path, GlobalDir+"/") {
			if g, err := os.ReadFile(filepath.Clean(path)); err == nil {
				b.Write(g)
				b.WriteString("\n")
			}
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func addUsage(ctx context.Context, st runner.StateStore, u usage) {
	var total usage
	if v, err := st.Get(ctx, "usage"); err == nil && v != "" {
		if err := json.Unmarshal([]byte(v), &total); err != nil {
			slog.Warn("usage unreadable; counting afresh", "err", err)
			total = usage{}
		}
	}
	total.Input += u.Input
	total.Output += u.Output
	total.CostUSD += u.CostUSD
	if b, err := json.Marshal(total); err == nil {
		if err := st.Set(ctx, "usage", string(b)); err != nil {
			slog.Warn("save usage", "err", err)
		}
	}
}

// explain shortens an SDK error to what a person can act on: the
// proxy's or the provider's own words.
func explain(err error) string {
	s := err.Error()
	if i := strings.Index(s, "berth credential proxy: "); i >= 0 {
		s = s[i+len("berth credential proxy: "):]
	}
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// proxyClient is an HTTP client whose every request goes to the
// credential proxy's unix socket, whatever host the URL names.
func proxyClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}
