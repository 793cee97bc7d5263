package agents

import (
	"context"
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
