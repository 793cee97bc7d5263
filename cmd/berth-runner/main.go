// Command berth-runner is the agent runner that runs inside every berth
// agent container. It talks to berth only through the session's two
// SQLite files.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/session/runner"
)

func main() {
	in := flag.String("in", "/workspace/in", "folder holding inbound.db (read-only)")
	out := flag.String("out", "/workspace/out", "folder holding outbound.db")
	provider := flag.String("provider", envOr("BERTH_PROVIDER", "echo"), "provider: echo")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var p runner.Provider
	switch *provider {
	case "echo":
		p = runner.Echo{}
	default:
		fmt.Fprintf(os.Stderr, "berth-runner: unknown provider %q\n", *provider)
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
