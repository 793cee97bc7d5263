package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// The scheduled-task tools: the agent asks berth, which owns the tasks,
// through the session databases (runner.AskTask), and is told the result.

// whenDoc is the grammar of a schedule, as !schedule accepts it.
const whenDoc = `when the task runs: "in 20m" (or 2h, 1h30m), "at 09:00" (the next 09:00), "tomorrow 9:00", ` +
	`"every 1h" (an interval, at least 1m), or a 5-field cron expression such as "0 9 * * 1-5" (09:00 on weekdays)`

// taskDocs describe the task tools; zone is the group's timezone.
func taskDocs(zone string) (schedule, list, cancel string) {
	return "Schedule a task: at the time given, berth sends you its prompt as a message (no person is waiting then), and your answer is posted " +
			"to this conversation. Use it for reminders, digests and recurring checks. Times are in the group's timezone, " + zone + ".",
		"List this conversation's scheduled tasks: id, schedule, state, next and last run, last result.",
		"Cancel a scheduled task of this conversation by its id (see list_tasks)."
}

// taskSpecs are the task tools for the anthropic/openai tool loop.
func taskSpecs() []toolSpec {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	sched, list, cancel := taskDocs(zoneName())
	return []toolSpec{
		{"schedule_task", sched, map[string]any{"prompt": str("what you will be asked to do when it runs, written to yourself"), "when": str(whenDoc)},
			[]string{"prompt", "when"}},
		{"list_tasks", list, map[string]any{}, []string{}}, // [], not null: OpenAI-compatible servers may refuse a null
		{"cancel_task", cancel, map[string]any{"id": str("the task's id")}, []string{"id"}},
	}
}

// isTaskTool reports whether name is one of taskSpecs.
func isTaskTool(name string) bool {
	return name == "schedule_task" || name == "list_tasks" || name == "cancel_task"
}

// taskRequest is the request a task tool call makes.
func taskRequest(name string, in map[string]string) sessiondb.TaskRequest {
	switch name {
	case "schedule_task":
		return sessiondb.TaskRequest{Op: sessiondb.TaskSchedule, Prompt: in["prompt"], When: in["when"]}
	case "cancel_task":
		return sessiondb.TaskRequest{Op: sessiondb.TaskCancel, TaskID: in["id"]}
	}
	return sessiondb.TaskRequest{Op: sessiondb.TaskList}
}

// taskWait is how long a tool waits for berth's answer; tests shorten it.
var taskWait = runner.TaskWait

// askTask makes the request and returns berth's answer as the model sees
// it, and whether the call failed (berth refused it or did not answer).
func askTask(ctx context.Context, db sessiondb.Container, req sessiondb.TaskRequest) (string, bool) {
	if req.Op == sessiondb.TaskSchedule && (strings.TrimSpace(req.Prompt) == "" || strings.TrimSpace(req.When) == "") {
		return "schedule_task needs a prompt and a when", true
	}
	if req.Op == sessiondb.TaskCancel && strings.TrimSpace(req.TaskID) == "" {
		return "cancel_task needs the task's id", true
	}
	r, err := runner.AskTask(ctx, db, req, taskWait)
	if err != nil {
		return err.Error(), true
	}
	if !r.OK {
		return "refused: " + r.Error, true
	}
	return taskText(r), false
}

// taskText is a reply's summary and its tasks, one line each.
func taskText(r sessiondb.TaskReply) string {
	var b strings.Builder
	b.WriteString(r.Text)
	for _, t := range r.Tasks {
		fmt.Fprintf(&b, "\n- %s: %s", t.ID, t.Schedule)
		if t.Timezone != "" {
			fmt.Fprintf(&b, " (%s)", t.Timezone)
		}
		fmt.Fprintf(&b, ", %s", t.State)
		if t.NextRun != "" {
			fmt.Fprintf(&b, ", next %s", t.NextRun)
		}
		if t.LastRun != "" {
			fmt.Fprintf(&b, ", last %s", t.LastRun)
		}
		if t.LastResult != "" {
			fmt.Fprintf(&b, " (%s)", t.LastResult)
		}
		fmt.Fprintf(&b, ": %q", t.Prompt)
	}
	return b.String()
}

// ScheduleTaskIn is the schedule_task tool's input.
type ScheduleTaskIn struct {
	Prompt string `json:"prompt" jsonschema:"what you will be asked to do when it runs, written to yourself"`
	When   string `json:"when" jsonschema:"when the task runs: in 20m, at 09:00, tomorrow 9:00, every 1h (at least 1m), or a 5-field cron expression"`
}

// ListTasksIn is the list_tasks tool's (empty) input.
type ListTasksIn struct{}

// CancelTaskIn is the cancel_task tool's input.
type CancelTaskIn struct {
	ID string `json:"id" jsonschema:"the task's id (see list_tasks)"`
}

// TasksOut is a task tool's result: berth's summary and the tasks it names.
type TasksOut struct {
	Result string `json:"result"`
}

// addTaskTools adds the task tools to the MCP server of the claude CLI.
func addTaskTools(s *mcp.Server, db sessiondb.Container) {
	sched, list, cancel := taskDocs(zoneName())
	call := func(ctx context.Context, req sessiondb.TaskRequest) (*mcp.CallToolResult, TasksOut, error) {
		text, failed := askTask(ctx, db, req)
		if failed {
			return nil, TasksOut{}, errors.New(text)
		}
		return nil, TasksOut{Result: text}, nil
	}
	mcp.AddTool(s, &mcp.Tool{Name: "schedule_task", Description: sched + " When: " + whenDoc + "."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in ScheduleTaskIn) (*mcp.CallToolResult, TasksOut, error) {
			return call(ctx, taskRequest("schedule_task", map[string]string{"prompt": in.Prompt, "when": in.When}))
		})
	mcp.AddTool(s, &mcp.Tool{Name: "list_tasks", Description: list},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ ListTasksIn) (*mcp.CallToolResult, TasksOut, error) {
			return call(ctx, taskRequest("list_tasks", nil))
		})
	mcp.AddTool(s, &mcp.Tool{Name: "cancel_task", Description: cancel},
		func(ctx context.Context, _ *mcp.CallToolRequest, in CancelTaskIn) (*mcp.CallToolResult, TasksOut, error) {
			return call(ctx, taskRequest("cancel_task", map[string]string{"id": in.ID}))
		})
}

// zoneName names the container's timezone, the one time.Local is: TZ as
// berth set it (the group's) when Go could load it, else what Go fell
// back to (UTC), so the name never disagrees with the times given.
func zoneName() string {
	if name := time.Local.String(); name != "Local" {
		return name
	}
	name, _ := time.Now().Zone()
	return name
}

// nowLine tells the model the current local date and time, so "tomorrow"
// means to it what it means to berth's scheduler.
func nowLine(now time.Time, zone string) string {
	return fmt.Sprintf("It is now %s, %s (timezone %s, UTC%s). Times people mention, and the schedules of tasks, are in this timezone.",
		now.Format("Monday 2 January 2006"), now.Format("15:04"), zone, now.Format("-07:00"))
}

// taskMessage is what a message of kind task (a scheduled task's run)
// starts with, for the model.
const taskMessage = "[scheduled task run: no person is waiting for this; your answer is posted to the conversation] "
