// Command mcpserver is a TEST-ONLY MCP server that a Docker test builds
// static into a group folder, where the agent's runner starts it over
// stdio. `mcpserver serve` serves the tools; `mcpserver probe <path>` is
// the agent trying to reach the credential proxy's socket on its own: it
// POSTs an MCP initialize to <path> and prints the status and answer.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type addIn struct {
	A int `json:"a" jsonschema:"a number"`
	B int `json:"b" jsonschema:"another"`
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "probe" {
		os.Exit(probe(os.Args[2]))
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "test-tools", Version: "v0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "add two numbers"}, func(_ context.Context, _ *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, any, error) {
		wd, _ := os.Getwd()
		// What the tool saw of its environment: its folder, and whether
		// any variable looks like a secret (none must reach it).
		var secretish []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if strings.Contains(k, "KEY") || strings.Contains(k, "TOKEN") || strings.Contains(k, "SECRET") {
				secretish = append(secretish, k)
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{
			Text: fmt.Sprintf("mcp-sum=%d wd=%s secret-vars=%d", in.A+in.B, wd, len(secretish))}}}, nil, nil
	})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "mcpserver:", err)
		os.Exit(1)
	}
}

func probe(path string) int {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/run/berth/proxy.sock")
	}}}
	req, err := http.NewRequest("POST", "http://berth-proxy"+path,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"probe","version":"0"}}}`))
	if err != nil {
		fmt.Println("probe:", err)
		return 1
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	res, err := c.Do(req)
	if err != nil {
		fmt.Println("probe:", err)
		return 1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	fmt.Printf("probe %s: status %d: %s\n", path, res.StatusCode, strings.TrimSpace(string(b)))
	return 0
}
