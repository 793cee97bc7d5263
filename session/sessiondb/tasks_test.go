package sessiondb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTaskSession makes a session folder with an inbound.db, and the two sides of it.
func newTaskSession(t *testing.T) (Host, Container) {
	t.Helper()
	h := Host{Dir: t.TempDir()}
	if err := h.Create(context.Background(), InMessage{ChannelType: "fake", PlatformID: "room"}); err != nil {
		t.Fatal(err)
	}
	return h, Container{InDir: h.InDir(), OutDir: filepath.Join(h.Dir, OutDir)}
}

func TestTaskRequestRoundTrip(t *testing.T) {
	ctx := context.Background()
	h, c := newTaskSession(t)
	created := time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC)
	reqs := []TaskRequest{
		{Op: TaskSchedule, Prompt: "say hi to Ana", When: "tomorrow 9:00", Created: created},
		{ID: "r-list", Op: TaskList},
		{ID: "r-cancel", Op: TaskCancel, TaskID: "t42"},
	}
	var ids []string
	for _, r := range reqs {
		id, err := c.RequestTask(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] == "" || ids[1] != "r-list" {
		t.Fatalf("ids = %q", ids)
	}
	calls, err := h.TaskRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Fatalf("read %d requests, want 3: %+v", len(calls), calls)
	}
	got := calls[0]
	if got.ID != ids[0] || got.Op != TaskSchedule || got.Prompt != "say hi to Ana" || got.When != "tomorrow 9:00" ||
		!got.Created.Equal(created) || got.Refusal != "" {
		t.Fatalf("schedule read as %+v", got)
	}
	if calls[2].TaskID != "t42" || calls[2].Refusal != "" {
		t.Fatalf("cancel read as %+v", calls[2])
	}
	if _, found, err := c.TaskReply(ctx, ids[0]); err != nil || found {
		t.Fatalf("a reply before any answer: found %v, err %v", found, err)
	}
	want := TaskReply{OK: true, Text: "scheduled t1", Tasks: []TaskInfo{{ID: "t1", Prompt: "say hi to Ana", Timezone: "Europe/Paris"}}}
	if err := h.AnswerTask(ctx, calls[0], want); err != nil {
		t.Fatal(err)
	}
	r, found, err := c.TaskReply(ctx, ids[0])
	if err != nil || !found {
		t.Fatalf("reply: found %v, err %v", found, err)
	}
	if r.RequestID != ids[0] || !r.OK || r.Text != want.Text || len(r.Tasks) != 1 || r.Tasks[0].Timezone != "Europe/Paris" {
		t.Fatalf("reply = %+v", r)
	}
	// Answered requests are not read again; the others still are.
	calls2, err := h.TaskRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls2) != 2 || calls2[0].ID != "r-list" {
		t.Fatalf("after one answer read %+v", calls2)
	}
	// A second answer to the same request keeps the first.
	if err := h.AnswerTask(ctx, calls[0], TaskReply{Error: "second"}); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := c.TaskReply(ctx, ids[0]); r.Error != "" || !r.OK {
		t.Fatalf("a second answer replaced the first: %+v", r)
	}
}

// TestTaskRequestsOldOutbound: an outbound.db written by a runner from
// before task requests is still read, and asks for nothing; the new
// runner's next write adds the table to it.
func TestTaskRequestsOldOutbound(t *testing.T) {
	ctx := context.Background()
	h, c := newTaskSession(t)
	buildDB(t, h.OutboundPath(), outboundSchemaV1,
		`INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('old', 1, '', 'chat', '{"text":"from an old image"}')`)
	calls, err := h.TaskRequests(ctx)
	if err != nil || len(calls) != 0 {
		t.Fatalf("old file: %v, %v", calls, err)
	}
	out, err := h.Undelivered(ctx)
	if err != nil || len(out) != 1 || out[0].Content.Text != "from an old image" {
		t.Fatalf("old file's reply: %+v, %v", out, err)
	}
	if _, err := c.RequestTask(ctx, TaskRequest{ID: "r1", Op: TaskList}); err != nil {
		t.Fatal(err)
	}
	calls, err = h.TaskRequests(ctx)
	if err != nil || len(calls) != 1 || calls[0].ID != "r1" {
		t.Fatalf("after the upgrade: %+v, %v", calls, err)
	}
	if out, err := h.Undelivered(ctx); err != nil || len(out) != 1 {
		t.Fatalf("upgraded file's replies: %+v, %v", out, err)
	}
}

// TestTaskRequestsHostile plants task requests a hostile agent could
// write: each is read bounded and refused with a reason, never acted on,
// and the reader moves on to the next.
func TestTaskRequestsHostile(t *testing.T) {
	big := strings.Repeat("x", MaxTaskPrompt+1)
	cases := []struct {
		name, insert string
		want         string // in the refusal; "" for none
	}{
		{"unknown op", `('a', 1, 'DROP TABLE messages_in', '', '', '', '')`, "not a task operation"},
		{"empty op", `('a', 1, '', '', '', '', '')`, "not a task operation"},
		{"oversized prompt", `('a', 1, 'schedule', '` + big + `', 'in 1m', '', '')`, "over the 8192-byte limit"},
		{"oversized when", `('a', 1, 'schedule', 'p', '` + strings.Repeat("9", MaxTaskWhen+1) + `', '', '')`, "over the 128-byte limit"},
		{"oversized id", `('` + strings.Repeat("i", MaxTaskID+1) + `', 1, 'list', '', '', '', '')`, "request id"},
		{"oversized task id", `('a', 1, 'cancel', '', '', '` + strings.Repeat("t", MaxTaskID+1) + `', '')`, "task id is 65 bytes"},
		{"control characters", `('a', 1, 'schedule', 'p', 'in 1m' || char(10) || 'rm -rf', '', '')`, "printable"},
		{"no prompt", `('a', 1, 'schedule', '  ', 'in 1m', '', '')`, "needs a prompt"},
		{"cancel without id", `('a', 1, 'cancel', '', '', '', '')`, "needs its id"},
		{"blob values", `('a', 1, 'list', '', x'fffe', '', x'00')`, "printable"},
		{"invalid prompt", `('a', 1, 'schedule', x'00ff', 'in 1m', '', '')`, "UTF-8"},
		{"fine", `('a', 1, 'schedule', 'p', 'every 1h', '', 'not a time')`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, _ := newTaskSession(t)
			buildDB(t, h.OutboundPath(), outboundSchema,
				`INSERT INTO task_requests (id, seq, op, prompt, task_when, task_id, created) VALUES `+tc.insert)
			calls, err := h.TaskRequests(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) != 1 {
				t.Fatalf("read %d requests", len(calls))
			}
			got := calls[0]
			if tc.want == "" {
				if got.Refusal != "" {
					t.Fatalf("refused: %s", got.Refusal)
				}
				return
			}
			if !strings.Contains(got.Refusal, tc.want) {
				t.Fatalf("refusal %q, want it to say %q", got.Refusal, tc.want)
			}
			if len(got.Prompt) > MaxTaskPrompt || len(got.When) > MaxTaskWhen || len(got.ID) > MaxTaskID || len(got.TaskID) > MaxTaskID {
				t.Fatalf("an oversized value was loaded: %d, %d, %d, %d bytes", len(got.Prompt), len(got.When), len(got.ID), len(got.TaskID))
			}
			if got.ID == "" {
				t.Fatal("no id to answer it under")
			}
			// Answering it settles it: it is not read again.
			if err := h.AnswerTask(ctx, got, TaskReply{Error: got.Refusal}); err != nil {
				t.Fatal(err)
			}
			if again, err := h.TaskRequests(ctx); err != nil || len(again) != 0 {
				t.Fatalf("read again after its answer: %+v, %v", again, err)
			}
		})
	}
}

// TestTaskRequestsFlood: a flood of requests is read a bounded batch at a
// time, in order, each once.
func TestTaskRequestsFlood(t *testing.T) {
	ctx := context.Background()
	h, _ := newTaskSession(t)
	buildDB(t, h.OutboundPath(), outboundSchema,
		`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5000)
		 INSERT INTO task_requests (id, seq, op, prompt, task_when, task_id, created) SELECT 'r' || n, n, 'schedule', 'p', 'in 1m', '', '' FROM r`,
		// Seqs a hostile agent could write that are not integers: never read.
		`INSERT INTO task_requests (id, seq, op, created) VALUES ('text-seq', 'zzz', 'list', ''), ('real-seq', 9999.5, 'list', '')`)
	seen := map[string]bool{}
	for pass := 0; pass < 3; pass++ {
		calls, err := h.TaskRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != TaskBatch {
			t.Fatalf("pass %d read %d requests, want the batch of %d", pass, len(calls), TaskBatch)
		}
		for _, c := range calls {
			if seen[c.ID] {
				t.Fatalf("%s read twice", c.ID)
			}
			seen[c.ID] = true
			if err := h.AnswerTask(ctx, c, TaskReply{Error: "too many"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !seen["r1"] || !seen[fmt.Sprintf("r%d", 3*TaskBatch)] {
		t.Fatalf("not read in order: %v", seen)
	}
}

// TestTaskRequestsRefusedFile: a symlinked or garbage outbound.db is
// refused for task requests as for replies, and nothing in it is read.
func TestTaskRequestsRefusedFile(t *testing.T) {
	for _, name := range []string{"symlink", "garbage", "trigger"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			h, _ := newTaskSession(t)
			switch name {
			case "symlink":
				decoy := filepath.Join(t.TempDir(), "decoy.db")
				buildDB(t, decoy, outboundSchema, `INSERT INTO task_requests (id, seq, op, created) VALUES ('leak', 1, 'list', '')`)
				if err := os.Symlink(decoy, h.OutboundPath()); err != nil {
					t.Fatal(err)
				}
			case "garbage":
				if err := os.WriteFile(h.OutboundPath(), []byte(strings.Repeat("garbage\x00", 100)), 0o644); err != nil {
					t.Fatal(err)
				}
			case "trigger":
				buildDB(t, h.OutboundPath(), outboundSchema,
					`CREATE TRIGGER t AFTER INSERT ON task_requests BEGIN DELETE FROM messages_out; END`,
					`INSERT INTO task_requests (id, seq, op, created) VALUES ('leak', 1, 'list', '')`)
			}
			calls, err := h.TaskRequests(ctx)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if len(calls) != 0 {
				t.Fatalf("read %+v from a refused file", calls)
			}
		})
	}
}

// TestRequestTaskAfterFreshOutbound: after the host set a refused
// outbound.db aside, the runner's fresh file numbers its requests after
// those already answered, so the host reads them.
func TestRequestTaskAfterFreshOutbound(t *testing.T) {
	ctx := context.Background()
	h, c := newTaskSession(t)
	for i := range 3 {
		if _, err := c.RequestTask(ctx, TaskRequest{ID: fmt.Sprint("old", i), Op: TaskList}); err != nil {
			t.Fatal(err)
		}
	}
	calls, err := h.TaskRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range calls {
		if err := h.AnswerTask(ctx, call, TaskReply{OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(h.OutboundPath(), h.OutboundPath()+".refused"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestTask(ctx, TaskRequest{ID: "new", Op: TaskList}); err != nil {
		t.Fatal(err)
	}
	calls, err = h.TaskRequests(ctx)
	if err != nil || len(calls) != 1 || calls[0].ID != "new" {
		t.Fatalf("fresh file's request: %+v, %v", calls, err)
	}
}
