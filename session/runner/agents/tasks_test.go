package agents

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the zones these tests name, whatever the machine has

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// taskHost is a TEST-ONLY stand-in for berth's side of task requests: it
// answers each request read from outbound.db with answer, and records them.
type taskHost struct {
	h      sessiondb.Host
	db     sessiondb.Container
	answer func(sessiondb.TaskRequest) sessiondb.TaskReply

	mu   sync.Mutex // guards seen
	seen []sessiondb.TaskRequest
}

func newTaskHost(t *testing.T, answer func(sessiondb.TaskRequest) sessiondb.TaskReply) *taskHost {
	t.Helper()
	dir := t.TempDir()
	h := sessiondb.Host{Dir: dir}
	if err := h.Create(context.Background(), sessiondb.InMessage{ChannelType: "fake", PlatformID: "room"}); err != nil {
		t.Fatal(err)
	}
	th := &taskHost{h: h, db: sessiondb.Container{InDir: h.InDir(), OutDir: filepath.Join(dir, sessiondb.OutDir)}, answer: answer}
	if answer == nil {
		return th
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			calls, err := h.TaskRequests(ctx)
			if err != nil && ctx.Err() == nil {
				t.Errorf("read task requests: %v", err)
				return
			}
			for _, c := range calls {
				th.mu.Lock()
				th.seen = append(th.seen, c.TaskRequest)
				th.mu.Unlock()
				if err := h.AnswerTask(ctx, c, answer(c.TaskRequest)); err != nil && ctx.Err() == nil {
					t.Errorf("answer: %v", err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return th
}

func (th *taskHost) Seen() []sessiondb.TaskRequest {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]sessiondb.TaskRequest(nil), th.seen...)
}

func scheduled(req sessiondb.TaskRequest) sessiondb.TaskReply {
	if req.Op == sessiondb.TaskCancel {
		return sessiondb.TaskReply{Error: "there is no task " + req.TaskID + " in this conversation"}
	}
	return sessiondb.TaskReply{OK: true, Text: "scheduled t1", Tasks: []sessiondb.TaskInfo{{ID: "t1", Prompt: req.Prompt,
		Schedule: req.When, Timezone: "Europe/Paris", State: "active", NextRun: "2026-12-02 09:00"}}}
}

// TestToolLoopTaskTools: the task tools are offered to the model, a call
// writes the request and returns berth's answer (or its refusal, as a
// failed call), and a call berth never answers fails with a clear error.
func TestToolLoopTaskTools(t *testing.T) {
	th := newTaskHost(t, scheduled)
	tb := &toolbox{db: th.db, workdir: t.TempDir()}
	var names []string
	for _, s := range tb.specs() {
		names = append(names, s.Name)
		if s.Name == "schedule_task" && !strings.Contains(s.Description, "timezone") {
			t.Errorf("schedule_task does not say times are in the group's timezone: %q", s.Description)
		}
	}
	for _, want := range []string{"bash", "schedule_task", "list_tasks", "cancel_task"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Fatalf("tools %q lack %s", names, want)
		}
	}
	ctx := context.Background()
	out, failed := tb.run(ctx, toolCall{ID: "c1", Name: "schedule_task", Input: json.RawMessage(`{"prompt":"say hi","when":"tomorrow 9:00"}`)}, func(string) {})
	if failed || !strings.Contains(out, "scheduled t1") || !strings.Contains(out, "t1: tomorrow 9:00 (Europe/Paris), active, next 2026-12-02 09:00") {
		t.Fatalf("schedule_task = %q (failed %v)", out, failed)
	}
	out, failed = tb.run(ctx, toolCall{ID: "c2", Name: "cancel_task", Input: json.RawMessage(`{"id":"t9"}`)}, func(string) {})
	if !failed || out != "refused: there is no task t9 in this conversation" {
		t.Fatalf("cancel_task = %q (failed %v)", out, failed)
	}
	out, failed = tb.run(ctx, toolCall{ID: "c3", Name: "schedule_task", Input: json.RawMessage(`{"when":"in 1m"}`)}, func(string) {})
	if !failed || !strings.Contains(out, "needs a prompt") {
		t.Fatalf("schedule_task without a prompt = %q (failed %v)", out, failed)
	}
	seen := th.Seen()
	if len(seen) != 2 || seen[0].Op != sessiondb.TaskSchedule || seen[0].Prompt != "say hi" || seen[0].When != "tomorrow 9:00" ||
		seen[1].Op != sessiondb.TaskCancel || seen[1].TaskID != "t9" {
		t.Fatalf("berth saw %+v", seen)
	}

	// No one answers: the call ends with the timeout's explanation.
	quiet := newTaskHost(t, nil)
	defer func(w time.Duration) { taskWait = w }(taskWait)
	taskWait = 300 * time.Millisecond
	out, failed = (&toolbox{db: quiet.db}).run(ctx, toolCall{ID: "c4", Name: "list_tasks", Input: json.RawMessage(`{}`)}, func(string) {})
	if !failed || out != runner.ErrTaskTimeout.Error() {
		t.Fatalf("unanswered list_tasks = %q (failed %v)", out, failed)
	}
}

// TestMCPTaskTools: the claude CLI's MCP server offers the task tools and
// returns berth's answer; a refusal is a tool error.
func TestMCPTaskTools(t *testing.T) {
	ctx := context.Background()
	th := newTaskHost(t, scheduled)
	st, ct := mcp.NewInMemoryTransports()
	if _, err := MCPServer(th.db).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "claude"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "schedule_task") || !strings.Contains(got, "list_tasks") || !strings.Contains(got, "cancel_task") {
		t.Fatalf("MCP tools = %q", names)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "schedule_task", Arguments: map[string]any{"prompt": "digest", "when": "0 9 * * 1-5"}})
	if err != nil || res.IsError {
		t.Fatalf("schedule_task: %v %+v", err, res)
	}
	if text := toolText(res); !strings.Contains(text, "scheduled t1") || !strings.Contains(text, "0 9 * * 1-5 (Europe/Paris)") {
		t.Fatalf("schedule_task's result = %q", text)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "cancel_task", Arguments: map[string]any{"id": "t9"}})
	if err != nil || !res.IsError || !strings.Contains(toolText(res), "there is no task t9") {
		t.Fatalf("cancel_task of an unknown task: %v %+v", err, res)
	}
	if seen := th.Seen(); len(seen) != 2 || seen[0].When != "0 9 * * 1-5" || seen[0].Prompt != "digest" {
		t.Fatalf("berth saw %+v", seen)
	}
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestPromptCarriesLocalTime: the system prompt states the local date,
// time, weekday and zone, on both sides of a DST change, and says what a
// task's run is; a task's run reads as one, not as a person.
func TestPromptCarriesLocalTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 3, 7, 9, 5, 0, 0, ny), "It is now Saturday 7 March 2026, 09:05 (timezone America/New_York, UTC-05:00)"},
		{time.Date(2026, 3, 9, 9, 5, 0, 0, ny), "It is now Monday 9 March 2026, 09:05 (timezone America/New_York, UTC-04:00)"},
	}
	for _, tt := range tests {
		p := systemPromptAt(nil, tt.now, "America/New_York")
		if !strings.Contains(p, tt.want) {
			t.Errorf("prompt lacks %q:\n%s", tt.want, p)
		}
		if !strings.Contains(p, "scheduled task run") {
			t.Errorf("prompt does not say what a task's run is:\n%s", p)
		}
	}
	task := sessiondb.InMessage{Kind: sessiondb.KindTask, Content: sessiondb.Content{Text: "say hi", SenderName: "Ann"}}
	if got := speaker(task); !strings.Contains(got, "no person is waiting") || strings.Contains(got, "Ann") {
		t.Errorf("a task's run starts %q", got)
	}
}

// TestZoneFromTZ: in a process started with TZ set (as berth starts the
// container), the prompt names that zone and gives its local time.
func TestZoneFromTZ(t *testing.T) {
	if os.Getenv("BERTH_TEST_TZ_CHILD") == "1" {
		os.Stdout.WriteString(systemPrompt(nil))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestZoneFromTZ$")
	cmd.Env = append(os.Environ(), "BERTH_TEST_TZ_CHILD=1", "TZ=Asia/Kolkata")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	day := time.Now().In(kolkata).Format("Monday 2 January 2006")
	before := time.Now().Add(-time.Minute).In(kolkata).Format("Monday 2 January 2006") // the child may have run before midnight there
	if !strings.Contains(string(out), "timezone Asia/Kolkata, UTC+05:30") || !strings.Contains(string(out), day) && !strings.Contains(string(out), before) {
		t.Fatalf("prompt under TZ=Asia/Kolkata (today there is %s):\n%s", day, out)
	}
}
