package agents

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// scriptedModel is a TEST-ONLY model: it answers from a list, reporting
// two stream events per answer.
type scriptedModel struct{ answers []histMsg }

var _ model = (*scriptedModel)(nil)

func (m *scriptedModel) next(_ context.Context, _ string, _ []histMsg, _ []toolSpec, progress func(string)) (histMsg, usage, error) {
	progress("model event")
	progress("model event")
	a := m.answers[0]
	m.answers = m.answers[1:]
	return a, usage{}, nil
}

// TestAgentReportsProgress: the tool loop passes the model's stream events
// up, and reports each tool call starting and ending and its output.
func TestAgentReportsProgress(t *testing.T) {
	dir := t.TempDir()
	call := toolCall{ID: "t1", Name: "bash", Input: json.RawMessage(`{"command":"echo hi"}`)}
	a := &agent{name: "test", tools: &toolbox{workdir: dir}, model: &scriptedModel{answers: []histMsg{
		{Role: "assistant", Calls: []toolCall{call}},
		{Role: "assistant", Text: "done"},
	}}}
	var mu sync.Mutex
	var got []string
	turn := runner.Turn{State: &memState{m: map[string]string{}}, Messages: []sessiondb.InMessage{{ID: "in1", Trigger: true,
		Content: sessiondb.Content{Text: "go"}}}, Progress: func(what string) {
		mu.Lock()
		got = append(got, what)
		mu.Unlock()
	}}
	replies, err := a.Turn(context.Background(), turn)
	if err != nil || len(replies) != 1 || replies[0].Text != "done" {
		t.Fatalf("replies %+v, err %v", replies, err)
	}
	want := []string{"model event", "model event", "tool bash started", "tool bash output", "tool bash ended", "model event", "model event"}
	if !slices.Equal(got, want) {
		t.Fatalf("progress = %q, want %q", got, want)
	}
}

// TestBashOutputIsProgress: each write of a command's output is progress;
// a silent command reports none of its own.
func TestBashOutputIsProgress(t *testing.T) {
	tests := []struct {
		command string
		want    int
	}{
		{"true", 0},
		{"echo a; sleep 0.05; echo b >&2", 2},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			tb := &toolbox{workdir: t.TempDir()}
			var n int
			var mu sync.Mutex
			out, failed := tb.bash(context.Background(), tt.command, func(string) { mu.Lock(); n++; mu.Unlock() })
			if failed {
				t.Fatalf("bash failed: %s", out)
			}
			if n != tt.want {
				t.Errorf("progress reported %d times, want %d", n, tt.want)
			}
		})
	}
}
