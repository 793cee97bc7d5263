package agents

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

// NewProvider returns the named provider. The model APIs are reached only
// through the credential proxy's socket; no key is ever in the container.
func NewProvider(name, model, sock string, db sessiondb.Container) (runner.Provider, error) {
	if sock == "" {
		sock = ProxySocket
	}
	tb := &toolbox{db: db, workdir: GroupDir, mcpc: &mcpClient{servers: mcpServersFromEnv(), sock: sock}}
	tb.send = func(ctx context.Context, text string) error {
		ct, pid, thread, _ := db.Routing(ctx)
		return db.Send(ctx, sessiondb.OutMessage{ChannelType: ct, PlatformID: pid, ThreadID: thread, Content: sessiondb.OutContent{Text: text}})
	}
	switch name {
	case "echo":
		return runner.Echo{}, nil
	case "anthropic":
		return &agent{name: name, model: newAnthropic(sock, model), tools: tb}, nil
	case "openai":
		return &agent{name: name, model: newOpenAI(sock, model), tools: tb}, nil
	case "claude":
		mode := os.Getenv("BERTH_PERMISSION_MODE")
		if mode == "" {
			mode = "acceptEdits"
		}
		return &claudeProvider{model: model, permissionMode: mode, sock: sock, mcpServers: tb.mcpc.servers,
			command: func(ctx context.Context, args []string) *exec.Cmd { return exec.CommandContext(ctx, "claude", args...) }}, nil
	}
	return nil, fmt.Errorf("unknown provider %q (known: echo, anthropic, openai, claude)", name)
}
