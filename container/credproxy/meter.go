package credproxy

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/data"
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
	if err := m.Store.AddUsage(ctx, group, time.Now(), input, output); err != nil && m.Log != nil {
		m.Log.Warn("record usage", "group", group, "err", err)
	}
}

// Left implements Meter.
func (m StoreMeter) Left(ctx context.Context, group string) (int64, bool) {
	g, err := m.Store.Group(ctx, group)
	if err != nil {
		return 0, false
	}
	var cfg struct {
		Budget int64 `json:"daily_budget_tokens"`
	}
	if err := json.Unmarshal([]byte(g.ContainerConfig), &cfg); err != nil || cfg.Budget <= 0 {
		return 0, false
	}
	in, out, err := m.Store.Usage(ctx, group, time.Now())
	if err != nil {
		return 0, false
	}
	return cfg.Budget - in - out, true
}
