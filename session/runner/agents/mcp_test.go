package agents

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/session/sessiondb"
)

func TestMCPSendMessageWritesOutbound(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := sessiondb.Host{Dir: dir}
	if err := h.Create(ctx, sessiondb.InMessage{ChannelType: "slack", PlatformID: "C1", ThreadID: "1.2"}); err != nil {
		t.Fatal(err)
	}
	db := sessiondb.Container{InDir: filepath.Join(dir, sessiondb.InDir), OutDir: filepath.Join(dir, sessiondb.OutDir)}
	st, ct := mcp.NewInMemoryTransports()
	if _, err := MCPServer(db).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "claude"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "send_message", Arguments: map[string]any{"text": "working on it"}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	out, _ := h.Undelivered(ctx)
	if len(out) != 1 || out[0].Content.Text != "working on it" || out[0].PlatformID != "C1" || out[0].ThreadID != "1.2" {
		t.Fatalf("outbound = %+v", out)
	}
}

// send_file stages a file of the working folder in the outbox and writes
// a reply that lists it; a path outside the folder is refused.
func TestMCPSendFileStagesInOutbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := sessiondb.Host{Dir: dir}
	if err := h.Create(ctx, sessiondb.InMessage{ChannelType: "slack", PlatformID: "C1", ThreadID: "1.2"}); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "report.csv"), []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "decoy.txt")
	if err := os.WriteFile(outside, []byte("decoy"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := sessiondb.Container{InDir: filepath.Join(dir, sessiondb.InDir), OutDir: filepath.Join(dir, sessiondb.OutDir)}
	st, ct := mcp.NewInMemoryTransports()
	if _, err := mcpServer(db, work).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "claude"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "send_file", Arguments: map[string]any{"path": "report.csv", "comment": "here"}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "send_file", Arguments: map[string]any{"path": outside}})
	if err != nil || !res.IsError {
		t.Fatalf("a file outside the working folder: %v %+v", err, res)
	}
	out, _ := h.Undelivered(ctx)
	if len(out) != 1 || out[0].Content.Text != "here" || len(out[0].Content.Files) != 1 || out[0].Content.Files[0].Name != "report.csv" {
		t.Fatalf("outbound = %+v", out)
	}
	b, err := os.ReadFile(filepath.Join(db.OutDir, sessiondb.OutboxDir, out[0].ID, "report.csv"))
	if err != nil || string(b) != "a,b\n1,2\n" {
		t.Fatalf("staged file = %q, %v", b, err)
	}
}
