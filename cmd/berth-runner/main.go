// Command berth-runner is the agent runner that runs inside every berth
// agent container. It talks to berth only through the session's two
// SQLite files. Started as sh, grep, ls, … (the image's /bin links to
// it), it is the agent's shell and commands instead (container/toolbox).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the container's TZ (the group's timezone) resolves without zone files in the image

	"github.com/berth-dev/berth/cmd/internal/buildinfo"
	"github.com/berth-dev/berth/container/toolbox"
	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/runner/agents"
	"github.com/berth-dev/berth/session/sessiondb"
)

func main() {
	if code, ok := toolbox.Main(os.Args); ok {
		os.Exit(code)
	}
	// `berth-runner mcp` is the MCP server the claude provider's CLI starts.
	if len(os.Args) > 1 && os.Args[1] == "mcp" {
		os.Args = append(os.Args[:1], os.Args[2:]...)
		mcpMain()
		return
	}
	in := flag.String("in", "/workspace/in", "folder holding inbound.db (read-only)")
	out := flag.String("out", "/workspace/out", "folder holding outbound.db")
	provider := flag.String("provider", envOr("BERTH_PROVIDER", "echo"), "provider: anthropic, openai, or echo (test and demo)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		// The same line `berth version` prints, so an image's runner can
		// be matched to the gateway that built it; also the floor the
		// cold-start benchmark measures a bare `docker run` against.
		fmt.Println(buildinfo.Current().Line("berth-runner"))
		return
	}

	// BERTH_TRACE=1 (session.Config.Env; the performance benchmark sets
	// it) adds the debug records that time each step of a turn.
	opts := &slog.HandlerOptions{}
	if os.Getenv("BERTH_TRACE") == "1" {
		opts.Level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, opts))
	p, err := agents.NewProvider(*provider, os.Getenv("BERTH_MODEL"), os.Getenv("BERTH_PROXY_SOCKET"),
		sessiondb.Container{InDir: *in, OutDir: *out})
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-runner:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := runner.Run(ctx, runner.Config{InDir: *in, OutDir: *out, Provider: p, Log: log}); err != nil {
		log.Error("runner failed", "err", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func mcpMain() {
	in := flag.String("in", "/workspace/in", "folder holding inbound.db (read-only)")
	out := flag.String("out", "/workspace/out", "folder holding outbound.db")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := agents.ServeMCP(ctx, sessiondb.Container{InDir: *in, OutDir: *out}); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "berth-runner mcp:", err)
		os.Exit(1)
	}
}
