package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

const modelSecret = "sk-ant-test-SECRET-1234"

// fakeModel is a TEST-ONLY model API (Anthropic Messages or OpenAI chat
// completions shape) that answers from a script, streamed when asked, and
// records requests.
type fakeModel struct {
	mu       sync.Mutex // guards requests, keys and pace
	requests []map[string]any
	keys     []string
	pace     time.Duration // between two events of a streamed answer
	answer   func(n int, req map[string]any) (int, any)
	srv      *httptest.Server
	closed   chan struct{} // closed when the test ends: a paced stream stops
}

func newFakeModel(t *testing.T, answer func(n int, req map[string]any) (int, any)) *fakeModel {
	f := &fakeModel{answer: answer, closed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req map[string]any
		json.Unmarshal(b, &req)
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.keys = append(f.keys, r.Header.Get("x-api-key")+r.Header.Get("Authorization"))
		n := len(f.requests)
		pace := f.pace
		f.mu.Unlock()
		code, body := f.answer(n, req)
		if stream, _ := req["stream"].(bool); stream && code == http.StatusOK {
			writeStream(w, body, pace, f.closed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.closed) }) // first: Close waits for the handlers
	return f
}

// writeStream sends a scripted answer as the API streams it (server-sent
// events): an Anthropic message as message_start, a start, a delta and a
// stop per content block, message_delta and message_stop; an OpenAI
// completion as a chunk per choice, a finishing chunk, a usage chunk and
// [DONE].
func writeStream(w http.ResponseWriter, body any, pace time.Duration, closed <-chan struct{}) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	event := func(name string, data any) {
		select {
		case <-time.After(pace):
		case <-closed:
		}
		b, _ := json.Marshal(data)
		if name != "" {
			fmt.Fprintf(w, "event: %s\n", name)
		}
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	m, _ := body.(map[string]any)
	if choices, ok := m["choices"].([]any); ok {
		base := func(choices []any) map[string]any {
			return map[string]any{"id": m["id"], "object": "chat.completion.chunk", "model": m["model"], "created": m["created"], "choices": choices}
		}
		for _, c := range choices {
			c := c.(map[string]any)
			delta := maps.Clone(c["message"].(map[string]any))
			if calls, ok := delta["tool_calls"].([]any); ok {
				for i, call := range calls {
					call := maps.Clone(call.(map[string]any))
					call["index"] = i
					calls[i] = call
				}
			}
			event("", base([]any{map[string]any{"index": c["index"], "delta": delta}}))
			event("", base([]any{map[string]any{"index": c["index"], "delta": map[string]any{}, "finish_reason": c["finish_reason"]}}))
		}
		usage := base([]any{})
		usage["usage"] = m["usage"]
		event("", usage)
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	}
	content, _ := m["content"].([]any)
	usage, _ := m["usage"].(map[string]any)
	start := maps.Clone(m)
	start["content"], start["stop_reason"] = []any{}, nil
	start["usage"] = map[string]any{"input_tokens": usage["input_tokens"], "output_tokens": 0}
	event("message_start", map[string]any{"type": "message_start", "message": start})
	for i, b := range content {
		b := b.(map[string]any)
		var block, delta map[string]any
		switch b["type"] {
		case "text":
			block = map[string]any{"type": "text", "text": ""}
			delta = map[string]any{"type": "text_delta", "text": b["text"]}
		case "tool_use":
			in, _ := json.Marshal(b["input"])
			block = map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}
			delta = map[string]any{"type": "input_json_delta", "partial_json": string(in)}
		}
		event("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": block})
		event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": delta})
		event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	event("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": m["stop_reason"]},
		"usage": map[string]any{"output_tokens": usage["output_tokens"]}})
	event("message_stop", map[string]any{"type": "message_stop"})
}

func (f *fakeModel) request(i int) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[i]
}

func anthropicText(text string) map[string]any {
	return map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
		"content": []any{map[string]any{"type": "text", "text": text}}, "usage": map[string]any{"input_tokens": 10, "output_tokens": 5}}
}

// startWithProvider runs a gateway whose group "main" uses provider, with
// the credential proxy pointed at the fake model API.
func startWithProvider(t *testing.T, provider string, f *fakeModel, key string) (*gatewaytest.Gateway, *fakeChannel) {
	t.Helper()
	proxy, err := credproxy.New([]credproxy.Upstream{
		{Name: "anthropic", BaseURL: f.srv.URL, Header: "x-api-key", Key: key, KeyVar: "ANTHROPIC_API_KEY"},
		{Name: "openai", BaseURL: f.srv.URL + "/v1", Header: "Authorization", Prefix: "Bearer ", Key: key, KeyVar: "OPENAI_API_KEY"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	ch := newFakeChannel()
	home := t.TempDir()
	// The gateway's log lines go to a file under BERTH_HOME, which the
	// secrets audit reads.
	logf, err := os.Create(filepath.Join(home, "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.Extras = proxy.Extras(paths.Home(home))
		c.Log = slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}})
	w := g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	if err := g.Store.UpdateGroupConfig(context.Background(), w.AgentGroupID, provider, "test-model", "{}"); err != nil {
		t.Fatal(err)
	}
	return g, ch
}

func TestAnthropicToolLoopThroughProxy(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
		if n == 1 {
			return 200, map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
				"content": []any{map[string]any{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": map[string]any{"command": "echo hi > f"}}},
				"usage":   map[string]any{"input_tokens": 10, "output_tokens": 5}}
		}
		return 200, anthropicText("done")
	})
	g, ch := startWithProvider(t, "anthropic", f, modelSecret)
	handle(t, g, msg("make a file"))
	got := ch.waitSent(t, 1, 90*time.Second)
	if got[0].Text != "done" {
		t.Fatalf("reply = %q", got[0].Text)
	}
	// The tool ran in the container, in the group folder.
	if b, err := os.ReadFile(filepath.Join(g.Layout.Dir("main"), "f")); err != nil || strings.TrimSpace(string(b)) != "hi" {
		t.Fatalf("file from the bash tool: %q %v", b, err)
	}
	// The model saw the tool's result, the speaker and the group's memory.
	second, _ := json.Marshal(f.request(1))
	if !strings.Contains(string(second), `"tool_result"`) || !strings.Contains(string(second), "exit 0") {
		t.Fatalf("second request lacks the tool result: %.400s", second)
	}
	first, _ := json.Marshal(f.request(0))
	if !strings.Contains(string(first), "Ann: make a file") || !strings.Contains(string(first), "Shared memory") {
		t.Fatalf("first request lacks speaker or memory: %.600s", first)
	}
	if stream, _ := f.request(0)["stream"].(bool); !stream {
		t.Error("the provider did not ask for a streamed answer: its events are the turn's progress")
	}
	for _, k := range f.keys {
		if k != modelSecret {
			t.Fatalf("upstream got key %q, want the host's", k)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(g.Home, "gateway.log")); !strings.Contains(string(b), `"msg":"routed"`) {
		t.Fatal("the gateway log the audit reads is empty")
	}
	assertNoSecret(t, g, modelSecret)
}

func TestOpenAIConversationSurvivesRestart(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
		msgs, _ := req["messages"].([]any)
		return 200, map[string]any{"id": "c1", "object": "chat.completion", "model": "m", "created": 1,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": "seen " + strconv.Itoa(len(msgs)) + " messages"}}},
			"usage": map[string]any{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
	})
	g, ch := startWithProvider(t, "openai", f, modelSecret)
	handle(t, g, msg("first question"))
	got := ch.waitSent(t, 1, 90*time.Second)
	if got[0].Text != "seen 2 messages" { // system + user
		t.Fatalf("reply = %q", got[0].Text)
	}
	sid := g.Sessions()[0].ID
	g.Manager.StopSession(context.Background(), sid)
	handle(t, g, msg("second question"))
	got = ch.waitSent(t, 2, 90*time.Second)
	if got[1].Text != "seen 4 messages" { // system, q1, a1, q2: the new container continued
		t.Fatalf("after a restart the model saw: %q", got[1].Text)
	}
	if k := f.keys[0]; k != "Bearer "+modelSecret {
		t.Fatalf("upstream auth = %q", k)
	}
}

// TestSlowStreamIsProgress: a model answer streamed slowly for longer
// than stuck_timeout is answered, not stopped: the provider reports each
// event as progress. A model that goes silent mid-answer is stopped at
// stuck_timeout and the sender told (before, the heartbeat was a timer,
// which a hung model call kept alive for good).
func TestSlowStreamIsProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		pace     time.Duration // between two streamed events
		want     string        // the reply starts with it
	}{
		// 4 events (openai) or 8 (anthropic), 700ms apart: 2.8s or more in
		// all, longer than stuck_timeout, each gap well inside it.
		{"anthropic", 700 * time.Millisecond, "slow answer"},
		{"openai", 700 * time.Millisecond, "slow answer"},
		{"anthropic", time.Hour, "⚠️ Sorry, I could not answer your message: the agent made no progress for 2s (stuck_timeout)"},
		{"openai", time.Hour, "⚠️ Sorry, I could not answer your message: the agent made no progress for 2s (stuck_timeout)"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.pace.String(), func(t *testing.T) {
			t.Parallel()
			f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
				if tt.provider == "openai" {
					return 200, map[string]any{"id": "c1", "object": "chat.completion", "model": "m", "created": 1,
						"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": "slow answer"}}},
						"usage":   map[string]any{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
				}
				return 200, anthropicText("slow answer")
			})
			f.mu.Lock()
			f.pace = tt.pace
			f.mu.Unlock()
			g, ch := startWithProvider(t, tt.provider, f, modelSecret)
			setGroupConfig(t, g, `{"stuck_timeout":"2s","turn_timeout":"60s"}`)
			handle(t, g, msg("take your time"))
			if got := ch.waitSent(t, 1, 90*time.Second); !strings.HasPrefix(got[0].Text, tt.want) {
				t.Fatalf("reply = %q, want %q…", got[0].Text, tt.want)
			}
		})
	}
}

func TestProviderKeyMissingIsExplained(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(int, map[string]any) (int, any) { return 200, anthropicText("never") })
	g, ch := startWithProvider(t, "anthropic", f, "")
	handle(t, g, msg("hello"))
	got := ch.waitSent(t, 1, 90*time.Second)
	if !strings.Contains(got[0].Text, "ANTHROPIC_API_KEY") {
		t.Fatalf("reply = %q", got[0].Text)
	}
}

func TestUpstreamOverloadRetriedThenReported(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
		text, _ := json.Marshal(req)
		if strings.Contains(string(text), "always busy") || n == 1 {
			return 529, map[string]any{"type": "error", "error": map[string]any{"type": "overloaded_error", "message": "Overloaded"}}
		}
		return 200, anthropicText("after a retry")
	})
	g, ch := startWithProvider(t, "anthropic", f, modelSecret)
	handle(t, g, msg("hello"))
	got := ch.waitSent(t, 1, 90*time.Second)
	if got[0].Text != "after a retry" {
		t.Fatalf("reply = %q", got[0].Text)
	}
	handle(t, g, msg("always busy"))
	got = ch.waitSent(t, 2, 120*time.Second)
	if !strings.Contains(got[1].Text, "could not answer") || !strings.Contains(got[1].Text, "529") {
		t.Fatalf("lasting overload reply = %q", got[1].Text)
	}
}

// assertNoSecret checks the running container's configuration, the
// session folder and the gateway's files for the secret.
func assertNoSecret(t *testing.T, g *gatewaytest.Gateway, secret string) {
	t.Helper()
	for _, s := range g.Sessions() {
		for _, c := range g.Containers(s.ID) {
			raw, err := g.Docker.InspectRaw(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), secret) {
				t.Fatal("the secret is in docker inspect of an agent container")
			}
		}
	}
	filepath.Walk(g.Home, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), secret) {
			t.Errorf("the secret is in %s", p)
		}
		return nil
	})
}

func TestDailyBudgetStopsNewTurns(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(int, map[string]any) (int, any) { return 200, anthropicText("answered") })
	proxy, err := credproxy.New([]credproxy.Upstream{{Name: "anthropic", BaseURL: f.srv.URL, Header: "x-api-key", Key: modelSecret, KeyVar: "ANTHROPIC_API_KEY"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	ch := newFakeChannel()
	home := t.TempDir()
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{ch}, Config: func(c *session.Config) {
		c.Extras = proxy.Extras(paths.Home(home))
	}})
	proxy.SetMeter(credproxy.StoreMeter{Store: g.Store})
	w := g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	g.Store.UpdateGroupConfig(context.Background(), w.AgentGroupID, "anthropic", "m", `{"daily_budget_tokens": 10}`)
	handle(t, g, msg("first")) // 15 tokens: the budget of 10 is spent
	if got := ch.waitSent(t, 1, 90*time.Second); got[0].Text != "answered" {
		t.Fatalf("first reply = %q", got[0].Text)
	}
	in, out, _ := g.Store.Usage(context.Background(), "main", time.Now())
	if in != 10 || out != 5 {
		t.Fatalf("usage = %d in, %d out", in, out)
	}
	handle(t, g, msg("second"))
	got := ch.waitSent(t, 2, 90*time.Second)
	if !strings.Contains(got[1].Text, "daily token budget") || !strings.Contains(got[1].Text, "resume at") {
		t.Fatalf("over budget reply = %q", got[1].Text)
	}
}

// The model asks for send_file in the tool loop: the file it wrote in its
// folder reaches the conversation with its comment and its bytes, and the
// model sees the tool's result.
func TestAnthropicSendFileTool(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
		if n == 1 {
			return 200, map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
				"content": []any{
					map[string]any{"type": "tool_use", "id": "toolu_1", "name": "write_file", "input": map[string]any{"path": "report.csv", "content": "a,b\n1,2\n"}},
					map[string]any{"type": "tool_use", "id": "toolu_2", "name": "send_file", "input": map[string]any{"path": "report.csv", "comment": "here it is"}},
				},
				"usage": map[string]any{"input_tokens": 10, "output_tokens": 5}}
		}
		return 200, anthropicText("done")
	})
	g, ch := startWithProvider(t, "anthropic", f, modelSecret)
	handle(t, g, msg("give me that as a CSV"))
	got := ch.waitSent(t, 2, 90*time.Second)
	if got[0].Text != "here it is" || got[1].Text != "done" {
		t.Fatalf("replies = %q, %q", got[0].Text, got[1].Text)
	}
	files := ch.Files(got[0].Key)
	if len(files) != 1 || files[0].Name != "report.csv" || string(files[0].Bytes) != "a,b\n1,2\n" {
		t.Fatalf("files = %+v", files)
	}
	second, _ := json.Marshal(f.request(1))
	if !strings.Contains(string(second), "sent report.csv (8 bytes)") {
		t.Fatalf("the model did not see send_file's result: %.600s", second)
	}
	first, _ := json.Marshal(f.request(0))
	if !strings.Contains(string(first), `"send_file"`) {
		t.Fatalf("send_file is not among the tools offered: %.600s", first)
	}
}
