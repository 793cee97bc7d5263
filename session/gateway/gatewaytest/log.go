package gatewaytest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/data/paths"
)

// testLogger logs to the test's output when BERTH_TEST_LOG=1, else nowhere.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("BERTH_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// gatewayLogFile opens the home's gateway log for appending.
func gatewayLogFile(home paths.Home) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(home.GatewayLog()), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(home.GatewayLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// teeHandler sends each record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, x := range []slog.Handler{h.a, h.b} {
		if x.Enabled(ctx, r.Level) {
			errs = append(errs, x.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h.a.WithGroup(name), h.b.WithGroup(name)}
}
