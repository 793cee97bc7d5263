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

// SendFileIn is the send_file tool's input.
type SendFileIn struct {
	Path    string `json:"path" jsonschema:"the file: a path relative to /workspace/group, or under /workspace/out/outbox"`
	Comment string `json:"comment,omitempty" jsonschema:"a message to go with it, Markdown"`
}

// SendFileOut is the send_file tool's result.
type SendFileOut struct {
	Sent string `json:"sent"`
}

// MCPServer returns the MCP server that gives the Claude Code CLI berth's
// tools (send_message, send_file, and the task tools); it writes to outbound.db like every provider.
func MCPServer(db sessiondb.Container) *mcp.Server { return mcpServer(db, GroupDir) }

// mcpServer is MCPServer with the working folder send_file reads from.
func mcpServer(db sessiondb.Container, workdir string) *mcp.Server {
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
	mcp.AddTool(s, &mcp.Tool{Name: "send_file", Description: sendFileDoc},
		func(ctx context.Context, _ *mcp.CallToolRequest, in SendFileIn) (*mcp.CallToolResult, SendFileOut, error) {
			out, err := sendFile(ctx, db, workdir, in.Path, in.Comment)
			return nil, SendFileOut{Sent: out}, err
		})
	addTaskTools(s, db)
	return s
}

// ServeMCP serves the MCP server on stdin/stdout (logs must go to stderr).
func ServeMCP(ctx context.Context, db sessiondb.Container) error {
	return MCPServer(db).Run(ctx, &mcp.StdioTransport{})
}
