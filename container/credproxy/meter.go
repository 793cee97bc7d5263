package credproxy

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/groups"
)

// StoreMeter counts usage in the central store and reads each group's
// daily budget ("daily_budget_tokens" in its container config).
type StoreMeter struct {
	Store *data.Store
	Log   *slog.Logger
}

var _ Meter = StoreMeter{}

// Add implements Meter.
func (m StoreMeter) Add(ctx context.Context, group string, input, output int64) {
	if input == 0 && output == 0 {
		return
	}
	if err := m.Store.AddUsage(ctx, group, time.Now(), input, output); err != nil {
		m.warn("record usage", group, err)
	}
}

// Left implements Meter. A group whose config is refused has no container
// to call from (its wakes fail); should one still call, the refusal is
// logged and no budget is applied, as for a group without one.
func (m StoreMeter) Left(ctx context.Context, group string) (int64, bool) {
	g, err := m.Store.Group(ctx, group)
	if err != nil {
		m.warn("read daily budget", group, err)
		return 0, false
	}
	cfg, err := groups.LoadConfig(g)
	if err != nil {
		m.warn("read daily budget", group, err)
		return 0, false
	}
	if cfg.DailyBudgetTokens == 0 {
		return 0, false
	}
	in, out, err := m.Store.Usage(ctx, group, time.Now())
	if err != nil {
		m.warn("read usage", group, err)
		return 0, false
	}
	return cfg.DailyBudgetTokens - in - out, true
}

func (m StoreMeter) warn(msg, group string, err error) {
	if m.Log != nil {
		m.Log.Warn(msg, "group", group, "err", err)
	}
}
