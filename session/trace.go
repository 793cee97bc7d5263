package session

import (
	"context"
	"log/slog"
)

// TraceMsg is the message of the debug records that mark a step of a
// message's way through the gateway; the key "step" names the step (see
// docs/performance.md). A benchmark or an operator with debug logs on
// breaks a round trip down from them, not from guesses.
const TraceMsg = "trace"

// traceStep records that step was reached now, for session. It costs a
// level check when debug logging is off.
func traceStep(ctx context.Context, log *slog.Logger, step, session string) {
	if log.Enabled(ctx, slog.LevelDebug) {
		log.DebugContext(ctx, TraceMsg, "step", step, "session", session)
	}
}
