package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/session/sessiondb"
)

// TaskWait is how long a task tool waits for berth's reply before it
// tells the model the call failed.
const TaskWait = 30 * time.Second

// ErrTaskTimeout is a task request berth did not answer in time.
var ErrTaskTimeout = errors.New("berth did not answer the task request in time; it may still be acted on, so list the tasks before asking again")

// AskTask writes a task request to outbound.db and waits, at most wait,
// for the host's reply in inbound.db: woken by the in/ folder's events,
// and polling as a fallback (the MCP server runs in a process of its own,
// without the runner's watcher).
func AskTask(ctx context.Context, db sessiondb.Container, req sessiondb.TaskRequest, wait time.Duration) (sessiondb.TaskReply, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	changed := make(chan struct{}, 1)
	if w, err := fsnotify.NewWatcher(); err == nil {
		defer func() { _ = w.Close() }() // events only: nothing to lose
		if w.Add(db.InDir) == nil {
			go func() {
				for ev := range w.Events {
					if strings.HasPrefix(filepath.Base(ev.Name), sessiondb.InboundFile) {
						select {
						case changed <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}
	id, err := db.RequestTask(ctx, req)
	if err != nil {
		return sessiondb.TaskReply{}, err
	}
	for {
		r, found, err := db.TaskReply(ctx, id)
		if err != nil && ctx.Err() == nil {
			return sessiondb.TaskReply{}, err
		}
		if found {
			return r, nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return sessiondb.TaskReply{}, ErrTaskTimeout
			}
			return sessiondb.TaskReply{}, ctx.Err()
		case <-changed:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// echoTask is the echo provider's task directive, for tests:
//
//	task schedule <when> | <prompt>
//	task list
//	task cancel <task id>
func echoTask(ctx context.Context, t Turn, rest string) string {
	op, arg, _ := strings.Cut(strings.TrimSpace(rest), " ")
	req := sessiondb.TaskRequest{Op: sessiondb.TaskOp(op)}
	switch req.Op {
	case sessiondb.TaskSchedule:
		when, prompt, _ := strings.Cut(arg, "|")
		req.When, req.Prompt = strings.TrimSpace(when), strings.TrimSpace(prompt)
	case sessiondb.TaskCancel:
		req.TaskID = strings.TrimSpace(arg)
	}
	db := sessiondb.Container{InDir: t.InDir, OutDir: t.OutDir}
	r, err := AskTask(ctx, db, req, TaskWait)
	switch {
	case err != nil:
		return "echo: task failed: " + err.Error()
	case !r.OK:
		return "echo: task refused: " + r.Error
	}
	return fmt.Sprintf("echo: task ok: %s (%d tasks)", r.Text, len(r.Tasks))
}
