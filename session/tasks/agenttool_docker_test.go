package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/tasks"
)

// taskRunMark is how the runner tells the model a message is a task's run
// (runner/agents taskMessage): no person is waiting for it.
const taskRunMark = "[scheduled task run: no person is waiting for this"

// TestAgentScheduleTaskRuns: a person asks the agent for a reminder; the
// model (a fake Anthropic API, through the credential proxy, from a real
// container) calls schedule_task "in 2s"; its result reaches the model's
// next request; about two seconds later the task's run reaches the model
// as a task message no person waits on, and the model's answer to it is
// posted in the same Slack thread. The task was created via the agent,
// by the person who wrote, and list_tasks then shows it done.
func TestAgentScheduleTaskRuns(t *testing.T) {
	t.Parallel()
	f := newScriptModel(t)
	fake, g := agentSlackGateway(t, f)
	root := fake.Mention("C1", "U1", "remind me in 2s to say hi")
	scheduled := waitFor(t, fake, root, "tool said: scheduled ", 90*time.Second)
	acked := time.Now()
	task := onlyTask(t, g)
	if task.CreatedVia != data.ViaAgent || task.CreatedBy != "slack:U1" || task.Prompt != "say hi" || task.Kind != "once" ||
		task.ThreadID != root || task.ChannelType != "slack" || task.PlatformID != "C1" {
		t.Fatalf("the task the agent created: %+v", task)
	}
	if !strings.Contains(scheduled.Text, task.ID) {
		t.Fatalf("the tool's result %q does not name task %s", scheduled.Text, task.ID)
	}
	if req := f.find(t, "tool_result", 0); !strings.Contains(req, "scheduled "+task.ID) {
		t.Fatalf("the model's next request lacks the tool's result: %.800s", req)
	}

	answer := waitFor(t, fake, root, "hi, as the task asked", 90*time.Second)
	t.Logf("the task's answer came %s after the tool's result", time.Since(acked).Round(10*time.Millisecond))
	if answer.Channel != "C1" {
		t.Fatalf("the task's answer: %+v", answer)
	}
	// The run's message, the last of its request, says no person waits
	// and carries the prompt; the person's message said neither.
	run := lastMessage(f.find(t, taskRunMark+"; your answer is posted to the conversation] say hi", 0))
	if !strings.Contains(run, "no person is waiting") || strings.Contains(run, "remind me") {
		t.Fatalf("the task's run, as the model saw it: %.800s", run)
	}
	if first := lastMessage(f.find(t, "remind me", 0)); strings.Contains(first, taskRunMark) || !strings.Contains(first, "remind me") {
		t.Fatalf("the person's message, as the model saw it: %.800s", first)
	}
	waitTask(t, g, task.ID, func(t data.Task) bool { return t.State == data.TaskDone && t.LastResult == "completed" })

	// The run is settled: list_tasks, asked in the thread, shows it done.
	fake.ThreadReply("C1", root, "U1", "which tasks are there?", true)
	listed := waitFor(t, fake, root, "tool said: 1 task(s)", 90*time.Second)
	if !strings.Contains(listed.Text, task.ID) || !strings.Contains(listed.Text, ", done") || strings.Count(listed.Text, "("+task.Timezone+")") != 1 {
		t.Fatalf("list_tasks after the run: %q", listed.Text)
	}
	if n := f.count(taskRunMark); n != 1 {
		t.Fatalf("the model was asked for the task's run %d times, want once", n)
	}
	// Nothing else was said in the thread: the three turns' answers.
	g.WaitIdle(30 * time.Second)
	var said []string
	for _, p := range fake.Posted() {
		if p.ThreadTS == root {
			said = append(said, p.Text)
		}
	}
	t.Logf("the thread: %q", said)
	if len(said) != 3 {
		t.Fatalf("the thread holds %q, want the three turns' answers", said)
	}
}

// TestAgentTaskWakesItsSession: the container that scheduled a task is
// gone when the task is due (stopped, as an idle one exits): the run wakes
// a new container for the session, and its answer comes in the thread.
func TestAgentTaskWakesItsSession(t *testing.T) {
	t.Parallel()
	f := newScriptModel(t)
	fake, g := agentSlackGateway(t, f)
	root := fake.Mention("C1", "U1", "remind me in 8s to say hi")
	waitFor(t, fake, root, "tool said: scheduled ", 90*time.Second)
	task := onlyTask(t, g)
	before := map[string]bool{}
	for _, c := range g.Containers(task.SessionID) {
		before[c.ID] = true
	}
	if len(before) == 0 {
		t.Fatal("no container ran the turn that scheduled the task")
	}
	if err := g.Manager.StopSession(context.Background(), task.SessionID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fake, root, "hi, as the task asked", 90*time.Second)
	woken := false
	for _, c := range g.Containers(task.SessionID) {
		woken = woken || !before[c.ID]
	}
	if !woken {
		t.Fatalf("the run was answered by the stopped container %v", before)
	}
	waitTask(t, g, task.ID, func(t data.Task) bool { return t.State == data.TaskDone && t.LastResult == "completed" })
}

// TestAgentCancelsRecurringTask: the agent schedules a task every minute
// and, asked to, cancels it with cancel_task: the task is cancelled with
// no next run, and a scheduler whose clock is past its due time (a second
// gateway process on the same home, minutes later) runs nothing.
func TestAgentCancelsRecurringTask(t *testing.T) {
	t.Parallel()
	f := newScriptModel(t)
	fake, g := agentSlackGateway(t, f)
	root := fake.Mention("C1", "U1", "check every minute for the weather")
	waitFor(t, fake, root, "tool said: scheduled ", 90*time.Second)
	task := onlyTask(t, g)
	if task.Kind != "interval" || task.State != data.TaskActive || task.NextRun.IsZero() || task.CreatedVia != data.ViaAgent {
		t.Fatalf("the recurring task: %+v", task)
	}
	due := task.NextRun

	fake.ThreadReply("C1", root, "U1", "cancel task "+task.ID, true)
	cancelled := waitFor(t, fake, root, "tool said: cancelled "+task.ID, 90*time.Second)
	if !strings.Contains(cancelled.Text, "cancelled") {
		t.Fatalf("cancel_task's result: %q", cancelled.Text)
	}
	got := onlyTask(t, g)
	if got.State != data.TaskCancelled || !got.NextRun.IsZero() || !strings.Contains(got.LastResult, "slack:U1") {
		t.Fatalf("after cancel_task: %s, next %v, %q", got.State, got.NextRun, got.LastResult)
	}

	later := tasks.New(g.Store, g.Manager, tasks.Config{Now: func() time.Time { return due.Add(3 * time.Minute) }})
	if err := later.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.WaitIdle(30 * time.Second)
	runs, err := g.Store.TaskRuns(context.Background(), task.ID, 10)
	if err != nil || len(runs) != 0 {
		t.Fatalf("runs of the cancelled task: %+v, %v", runs, err)
	}
	if got := onlyTask(t, g); got.State != data.TaskCancelled {
		t.Fatalf("the cancelled task is now %s", got.State)
	}
	if n := f.count(taskRunMark); n != 0 {
		t.Fatalf("the model was asked for %d runs of the cancelled task", n)
	}
}

// agentSlackGateway is slackGateway with group "main" on the anthropic
// provider, whose API is f, through the credential proxy.
func agentSlackGateway(t *testing.T, f *scriptModel) (*slacktest.Server, *gatewaytest.Gateway) {
	t.Helper()
	proxy, err := credproxy.New([]credproxy.Upstream{
		{Name: "anthropic", BaseURL: f.srv.URL, Header: "x-api-key", Key: "sk-ant-test-tasks", KeyVar: "ANTHROPIC_API_KEY"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	fake := slacktest.New(t)
	a, err := slack.New(slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL(), PingTimeout: 3 * time.Second},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{a},
		Config: func(c *session.Config) { c.Extras = proxy.Extras(paths.Home(home)) },
		Commands: func(g *gatewaytest.Gateway) session.Commands {
			return groups.NewCommands(g.Store, g.Layout, g.Manager, nil)
		}})
	w := g.Wire("slack", "C1", gatewaytest.Wire{Engage: data.EngageMentionSticky, SessionMode: data.SessionPerThread, Access: data.AccessMembers})
	ctx := context.Background()
	if err := g.Store.Grant(ctx, data.Role{UserID: "slack:U1", Role: data.RoleMember, GroupID: w.AgentGroupID}); err != nil {
		t.Fatal(err)
	}
	if err := g.Store.UpdateGroupConfig(ctx, w.AgentGroupID, "anthropic", "test-model", "{}"); err != nil {
		t.Fatal(err)
	}
	return fake, g
}

// waitTask waits, with a generous deadline, until task id satisfies ok.
func waitTask(t *testing.T, g *gatewaytest.Gateway, id string, ok func(data.Task) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := g.Store.Task(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is still %s (%q)", id, got.State, got.LastResult)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scriptModel is a TEST-ONLY Anthropic Messages API that answers by the
// last message of each request: a person's words ask for a task tool, a
// tool's result is repeated as text ("tool said: …", so it reaches the
// thread), a task's run is answered. It records every request.
type scriptModel struct {
	mu       sync.Mutex // guards requests
	requests []string   // each request's JSON
	srv      *httptest.Server
}

var (
	cancelID = regexp.MustCompile(`cancel task ([a-z0-9]+)`)
	remindIn = regexp.MustCompile(`remind me in ([0-9]+s) to say hi`)
)

func newScriptModel(t *testing.T) *scriptModel {
	f := &scriptModel{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var req struct {
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		if err == nil {
			err = json.Unmarshal(b, &req)
		}
		if err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, string(b))
		f.mu.Unlock()
		last := req.Messages[len(req.Messages)-1].Content
		streamAnthropic(w, scriptAnswer(last))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// scriptAnswer is the content block the model answers a request whose
// last message is last with.
func scriptAnswer(last json.RawMessage) map[string]any {
	text := string(last)
	tool := func(name string, in map[string]any) map[string]any {
		return map[string]any{"type": "tool_use", "id": "toolu_" + name, "name": name, "input": in}
	}
	var blocks []struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(last, &blocks) == nil && len(blocks) > 0 && blocks[0].Type == "tool_result" {
		return map[string]any{"type": "text", "text": "tool said: " + toolText(blocks[0].Content)}
	}
	switch {
	case strings.Contains(text, taskRunMark):
		return map[string]any{"type": "text", "text": "hi, as the task asked"}
	case remindIn.MatchString(text):
		return tool("schedule_task", map[string]any{"when": "in " + remindIn.FindStringSubmatch(text)[1], "prompt": "say hi"})
	case strings.Contains(text, "check every minute"):
		return tool("schedule_task", map[string]any{"when": "every 1m", "prompt": "check the weather"})
	case strings.Contains(text, "which tasks"):
		return tool("list_tasks", map[string]any{})
	case cancelID.MatchString(text):
		return tool("cancel_task", map[string]any{"id": cancelID.FindStringSubmatch(text)[1]})
	}
	return map[string]any{"type": "text", "text": "the script has no answer to this"}
}

// toolText is a tool_result's content, a string or text blocks.
func toolText(c json.RawMessage) string {
	var s string
	if json.Unmarshal(c, &s) == nil {
		return s
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(c, &blocks) // unparsed: empty, and the test's wait fails saying so
	var b strings.Builder
	for _, bl := range blocks {
		b.WriteString(bl.Text)
	}
	return b.String()
}

// find returns the first request, from the i-th on, holding want.
func (f *scriptModel) find(t *testing.T, want string, i int) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests[i:] {
		if strings.Contains(r, want) {
			return r
		}
	}
	t.Fatalf("no request to the model holds %q (%d requests)", want, len(f.requests))
	return ""
}

// count is how many requests' last message holds want.
func (f *scriptModel) count(want string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.Contains(lastMessage(r), want) {
			n++
		}
	}
	return n
}

// lastMessage is the JSON of a request's last message ("" if none).
func lastMessage(request string) string {
	var req struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if json.Unmarshal([]byte(request), &req) != nil || len(req.Messages) == 0 {
		return ""
	}
	return string(req.Messages[len(req.Messages)-1])
}

// streamAnthropic sends one content block as the Messages API streams it.
func streamAnthropic(w http.ResponseWriter, block map[string]any) {
	w.Header().Set("Content-Type", "text/event-stream")
	event := func(name string, data map[string]any) {
		data["type"] = name
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	}
	stop, start, delta := "end_turn", map[string]any{"type": "text", "text": ""}, map[string]any{"type": "text_delta", "text": block["text"]}
	if block["type"] == "tool_use" {
		in, _ := json.Marshal(block["input"])
		stop = "tool_use"
		start = map[string]any{"type": "tool_use", "id": block["id"], "name": block["name"], "input": map[string]any{}}
		delta = map[string]any{"type": "input_json_delta", "partial_json": string(in)}
	}
	event("message_start", map[string]any{"message": map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
		"content": []any{}, "stop_reason": nil, "usage": map[string]any{"input_tokens": 10, "output_tokens": 0}}})
	event("content_block_start", map[string]any{"index": 0, "content_block": start})
	event("content_block_delta", map[string]any{"index": 0, "delta": delta})
	event("content_block_stop", map[string]any{"index": 0})
	event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop}, "usage": map[string]any{"output_tokens": 5}})
	event("message_stop", map[string]any{})
}
