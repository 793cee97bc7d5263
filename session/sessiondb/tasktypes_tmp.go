package sessiondb

// TEMPORARY: a copy of the task request/reply types the "tagent" branch
// defines (the contract of issue 16), so this branch compiles on its own.
// The lead deletes this file when merging that branch.

import "time"

// TaskOp is what an agent's task request asks for.
type TaskOp string

// Task request operations.
const (
	TaskOpSchedule TaskOp = "schedule"
	TaskOpList     TaskOp = "list"
	TaskOpCancel   TaskOp = "cancel"
)

// TaskRequest is an agent's request about scheduled tasks.
type TaskRequest struct {
	ID      string // the agent's request id, unique in the session
	Op      TaskOp
	Prompt  string // schedule
	When    string // schedule: exactly the grammar !schedule accepts
	TaskID  string // cancel
	Created time.Time
}

// TaskReply is berth's answer to a TaskRequest.
type TaskReply struct {
	RequestID string
	OK        bool
	Error     string     // a refusal, one sentence, for the model
	Text      string     // a one-line summary for the model
	Tasks     []TaskInfo // list (and the created/cancelled task)
}

// TaskInfo is one task as the agent sees it.
type TaskInfo struct {
	ID, Prompt, Schedule, Timezone, State, NextRun, LastRun, LastResult string
}
