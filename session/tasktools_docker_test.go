package session_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestTaskToolsThroughContainer: the model (a fake API, through the
// credential proxy) calls a task tool in a real container; the desk is
// asked with the session and the sender of the message, and its answer
// is the tool result the model's next request carries. The task tools
// were offered, and the prompt gave the local time.
func TestTaskToolsThroughContainer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		call     map[string]any // the model's first answer: a tool call
		want     sessiondb.TaskRequest
		result   string // in the model's second request
	}{
		{"anthropic", map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
			"content": []any{map[string]any{"type": "tool_use", "id": "toolu_1", "name": "schedule_task",
				"input": map[string]any{"prompt": "remind Ann to stretch", "when": "every 1h"}}},
			"usage": map[string]any{"input_tokens": 10, "output_tokens": 5}},
			sessiondb.TaskRequest{Op: sessiondb.TaskSchedule, Prompt: "remind Ann to stretch", When: "every 1h"}, "scheduled t1 for every 1h"},
		{"openai", map[string]any{"id": "c1", "object": "chat.completion", "model": "m", "created": 1,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls",
				"message": map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{"id": "call_1", "type": "function",
					"function": map[string]any{"name": "list_tasks", "arguments": "{}"}}}}}},
			"usage": map[string]any{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
			sessiondb.TaskRequest{Op: sessiondb.TaskList}, "1 task in this conversation"},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			t.Parallel()
			f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
				if n == 1 {
					return 200, tt.call
				}
				if tt.provider == "openai" {
					return 200, map[string]any{"id": "c2", "object": "chat.completion", "model": "m", "created": 1,
						"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": "done"}}},
						"usage":   map[string]any{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
				}
				return 200, anthropicText("done")
			})
			g, ch := startWithProvider(t, tt.provider, f, modelSecret)
			desk := &fakeDesk{}
			g.Manager.SetTasks(desk)
			handle(t, g, msg("remind me to stretch every hour"))
			got := ch.waitSent(t, 1, 90*time.Second)
			if got[0].Text != "done" {
				t.Fatalf("reply = %q", got[0].Text)
			}
			calls := desk.Calls()
			if len(calls) != 1 {
				t.Fatalf("desk asked %d times, want once: %+v", len(calls), calls)
			}
			s := onlySession(t, g)
			if c := calls[0]; c.session != s.ID || c.behalf != channels.UserKey("fake", "u1") || c.req.Op != tt.want.Op ||
				c.req.When != tt.want.When || c.req.Prompt != tt.want.Prompt {
				t.Fatalf("desk asked %+v, want %+v in session %s on behalf of fake:u1", c, tt.want, s.ID)
			}
			second, _ := json.Marshal(f.request(1))
			if !strings.Contains(string(second), tt.result) {
				t.Fatalf("the model did not see the desk's answer %q: %.800s", tt.result, second)
			}
			first, _ := json.Marshal(f.request(0))
			for _, want := range []string{`"schedule_task"`, `"list_tasks"`, `"cancel_task"`, "It is now "} {
				if !strings.Contains(string(first), want) {
					t.Fatalf("first request lacks %s: %.800s", want, first)
				}
			}
			assertNoSecret(t, g, modelSecret)
		})
	}
}
