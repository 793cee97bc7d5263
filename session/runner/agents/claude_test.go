package agents

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Recorded stream-json sequences, as the Claude Code CLI prints them.
var streams = map[string]string{
	"success": `{"type":"system","subtype":"init","session_id":"sess-1","cwd":"/workspace/group","tools":["Bash","mcp__berth__send_message"],"mcp_servers":[{"name":"berth","status":"connected"}]}
{"type":"assistant","session_id":"sess-1","message":{"id":"m1","content":[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}
{"type":"user","session_id":"sess-1","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"f\n","is_error":false}]}}
{"type":"assistant","session_id":"sess-1","message":{"id":"m2","content":[{"type":"text","text":"There is one file."}]}}
{"type":"some_future_event","data":1}
{"type":"result","subtype":"success","is_error":false,"result":"There is one file, f.","session_id":"sess-1","total_cost_usd":0.0123,"usage":{"input_tokens":120,"output_tokens":30}}
`,
	"error": `{"type":"system","subtype":"init","session_id":"sess-2"}
{"type":"result","subtype":"error_max_turns","is_error":true,"session_id":"sess-2","cost_usd":0.5}
`,
	"truncated": `{"type":"system","subtype":"init","session_id":"sess-3"}
{"type":"assistant","session_id":"sess-3","message":{"content":[{"type":"text","text":"half`,
}

// TestHelperClaude is not a test: it is the stand-in claude executable.
func TestHelperClaude(t *testing.T) {
	scenario := os.Getenv("BERTH_FAKE_CLAUDE")
	if scenario == "" {
		return
	}
	args := strings.Join(os.Args, " ")
	if scenario == "stale" && strings.Contains(args, "--resume old-id") {
		fmt.Fprintln(os.Stderr, "No conversation found with session ID: old-id")
		os.Exit(1)
	}
	if scenario == "stale" {
		scenario = "success"
	}
	fmt.Print(streams[scenario])
	if scenario == "truncated" {
		os.Exit(137)
	}
	os.Exit(0)
}

type memState struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memState) Get(_ context.Context, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *memState) Set(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func fakeClaude(t *testing.T, scenario string) (*claudeProvider, *[]string) {
	var calls []string
	return &claudeProvider{permissionMode: "acceptEdits", dir: t.TempDir(), command: func(ctx context.Context, args []string) *exec.Cmd {
		calls = append(calls, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestHelperClaude$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), "BERTH_FAKE_CLAUDE="+scenario)
		return cmd
	}}, &calls
}

func claudeTurn(state *memState) runner.Turn {
	return runner.Turn{State: state, Messages: []sessiondb.InMessage{{ID: "in1", Trigger: true,
		Content: sessiondb.Content{Text: "what is here?", SenderName: "Ann", Platform: "slack"}}}}
}

func TestClaudeStream(t *testing.T) {
	tests := []struct {
		scenario, resume string
		reply, err       string
		calls            int
		progress         int // one per line of output: the turn's heartbeat
	}{
		{"success", "", "There is one file, f.", "", 1, 6},
		{"error", "", "", "error_max_turns", 1, 2},
		{"truncated", "", "", "without a result", 1, 2},
		{"stale", "old-id", "There is one file, f.", "", 2, 6}, // an invalid resume id starts afresh
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			p, calls := fakeClaude(t, tt.scenario)
			state := &memState{m: map[string]string{"claude:session": tt.resume}}
			turn := claudeTurn(state)
			var progress atomic.Int64
			turn.Progress = func(string) { progress.Add(1) }
			replies, err := p.Turn(context.Background(), turn)
			if n := progress.Load(); n != int64(tt.progress) {
				t.Errorf("progress reported %d times, want %d (once per output line)", n, tt.progress)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
			} else if err != nil || len(replies) != 1 || replies[0].Text != tt.reply || replies[0].InReplyTo != "in1" {
				t.Fatalf("replies %+v, err %v", replies, err)
			}
			if len(*calls) != tt.calls {
				t.Fatalf("%d runs, want %d: %q", len(*calls), tt.calls, *calls)
			}
			first := (*calls)[0]
			for _, want := range []string{"--output-format stream-json", "--verbose", "--mcp-config", "--permission-mode acceptEdits", "Ann: what is here?"} {
				if !strings.Contains(first, want) {
					t.Errorf("args lack %q: %s", want, first)
				}
			}
			if tt.scenario == "success" && (state.m["claude:session"] != "sess-1" || !strings.Contains(state.m["usage"], `"Input":120`) || !strings.Contains(state.m["usage"], `"CostUSD":0.0123`)) {
				t.Errorf("state = %v", state.m)
			}
			if tt.scenario == "stale" && strings.Contains((*calls)[1], "--resume") {
				t.Error("retried with the stale id")
			}
		})
	}
}

func TestParseStreamLenient(t *testing.T) {
	var lines int
	res, err := parseStream(strings.NewReader(`{"type":"assistant","message":{"content":[{"type":"text","text":"a"}]}}`+"\n"+
		`not json`+"\n"+`{"type":"result","subtype":"success","is_error":false,"cost_usd":0.2}`+"\n"), func(string) { lines++ })
	if err != nil || res.Text != "a" || res.CostUSD != 0.2 {
		t.Fatalf("%+v %v", res, err)
	}
	if lines != 3 {
		t.Errorf("progress reported %d times, want 3: a foreign line is progress too", lines)
	}
}
