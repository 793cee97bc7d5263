package session_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
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
// completions shape) that answers from a script and records requests.
type fakeModel struct {
	mu       sync.Mutex
	requests []map[string]any
	keys     []string
	answer   func(n int, req map[string]any) (int, any)
	srv      *httptest.Server
}

func newFakeModel(t *testing.T, answer func(n int, req map[string]any) (int, any)) *fakeModel {
	f := &fakeModel{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req map[string]any
		json.Unmarshal(b, &req)
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.keys = append(f.keys, r.Header.Get("x-api-key")+r.Header.Get("Authorization"))
		n := len(f.requests)
		f.mu.Unlock()
		code, body := f.answer(n, req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
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
