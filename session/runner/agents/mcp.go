package agents

import (
	"context"
	"errors"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/berth-dev/berth/session/sessiondb"
)

// SendIn is the send_message tool's input.
type SendIn struct {
	Text string `json:"text" jsonschema:"the message to send to the conversation, Markdown"`
}

// SendOut is the send_message tool's result.
type SendOut struct {
	Sent bool `json:"sent"`
}

// MCPServer returns the MCP server that gives the Claude Code CLI berth's
// tools (send_message); it writes to outbound.db like every provider.
func MCPServer(db sessiondb.Container) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "berth", Version: "v1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "send_message", Description: "Send a message to the conversation now, before your final answer."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in SendIn) (*mcp.CallToolResult, SendOut, error) {
			if in.Text == "" {
				return nil, SendOut{}, errors.New("text is empty")
			}
			ct, pid, thread, err := db.Routing(ctx)
			if err != nil {
				return nil, SendOut{}, err
			}
			err = db.Send(ctx, sessiondb.OutMessage{ChannelType: ct, PlatformID: pid, ThreadID: thread, Content: sessiondb.OutContent{Text: in.Text}})
			return nil, SendOut{Sent: err == nil}, err
		})
	return s
}

// ServeMCP serves the MCP server on stdin/stdout (logs must go to stderr).
func ServeMCP(ctx context.Context, db sessiondb.Container) error {
	return MCPServer(db).Run(ctx, &mcp.StdioTransport{})
}
