package session_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// TestAnthropicScheduleTaskTool: the model (a fake API, through the
// credential proxy) calls schedule_task in a real container; the desk is
// asked with the session and the sender of the message, and its answer is
// the tool result the model's next request carries. The tools were
// offered, and the prompt gave the local time.
func TestAnthropicScheduleTaskTool(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(n int, req map[string]any) (int, any) {
		if n == 1 {
			return 200, map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
				"content": []any{map[string]any{"type": "tool_use", "id": "toolu_1", "name": "schedule_task",
					"input": map[string]any{"prompt": "remind Ann to stretch", "when": "every 1h"}}},
				"usage": map[string]any{"input_tokens": 10, "output_tokens": 5}}
		}
		return 200, anthropicText("done")
	})
	g, ch := startWithProvider(t, "anthropic", f, modelSecret)
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
	if c := calls[0]; c.session != s.ID || c.behalf != channels.UserKey("fake", "u1") || c.req.Op != sessiondb.TaskSchedule ||
		c.req.When != "every 1h" || c.req.Prompt != "remind Ann to stretch" {
		t.Fatalf("desk asked %+v, want session %s on behalf of fake:u1", c, s.ID)
	}
	second, _ := json.Marshal(f.request(1))
	if !strings.Contains(string(second), `"tool_result"`) || !strings.Contains(string(second), "scheduled t1 for every 1h") {
		t.Fatalf("the model did not see the desk's answer: %.800s", second)
	}
	first, _ := json.Marshal(f.request(0))
	for _, want := range []string{`"schedule_task"`, `"list_tasks"`, `"cancel_task"`, "It is now "} {
		if !strings.Contains(string(first), want) {
			t.Fatalf("first request lacks %s: %.800s", want, first)
		}
	}
	assertNoSecret(t, g, modelSecret)
}
