package session

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/groups"
)

// TestCountFailure: a slow engine (the name held by a container still
// being created or removed) delays the next try and fails nothing until
// maxSlowWakes; a broken one fails the messages after maxWakeFailures
// wakes; a refused configuration at once.
func TestCountFailure(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	slow := fmt.Errorf("create container berth-main-x: %w (waited %v)", container.ErrNameTaken, container.NameWait)
	broken := errors.New("create container berth-main-x: no such image")
	refused := fmt.Errorf("wrapped: %w", &groups.ConfigError{Field: "image", Reason: "not allowed"})
	type wake struct {
		err   error
		at    time.Duration // after t0
		fail  bool          // the waiting messages fail
		retry time.Duration // retryAt after t0; 0: none
	}
	tests := []struct {
		name  string
		wakes []wake
	}{
		{"slow engine backs off, fails nothing", []wake{
			{slow, 0, false, minWakeBackoff},
			{slow, 2 * time.Second, false, 2*time.Second + 2*minWakeBackoff},
			{slow, 6 * time.Second, false, 6*time.Second + 4*minWakeBackoff},
			{slow, 14 * time.Second, false, 14*time.Second + 8*minWakeBackoff},
			{slow, 30 * time.Second, false, 30*time.Second + maxWakeBackoff},
			{slow, time.Minute, false, time.Minute + maxWakeBackoff},
		}},
		{"slow engine for maxSlowWakes fails them", []wake{
			{slow, 0, false, minWakeBackoff},
			{slow, maxSlowWakes - time.Second, false, maxSlowWakes - time.Second + 2*minWakeBackoff},
			{slow, maxSlowWakes, true, 0},
			{slow, maxSlowWakes + time.Second, false, maxSlowWakes + time.Second + minWakeBackoff},
		}},
		{"broken engine fails them after maxWakeFailures", []wake{
			{broken, 0, false, 0}, {broken, 1, false, 0}, {broken, 2, false, 0}, {broken, 3, false, 0},
			{broken, 4, true, 0},
			{broken, 5, false, 0},
		}},
		{"slow wakes do not count as broken ones", []wake{
			{broken, 0, false, 0}, {broken, 1, false, 0}, {broken, 2, false, 0}, {broken, 3, false, 0},
			{slow, 4, false, 4 + minWakeBackoff}, {slow, 5, false, 5 + 2*minWakeBackoff},
			{broken, 6, true, 0},
		}},
		{"refused configuration fails them at once", []wake{
			{refused, 0, true, 0},
			{refused, 1, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &handle{}
			for i, w := range tt.wakes {
				if got := l.countFailure(w.err, t0.Add(w.at)); got != w.fail {
					t.Errorf("wake %d (%v at %v): fail = %v, want %v", i, w.err, w.at, got, w.fail)
				}
				var want time.Time
				if w.retry != 0 {
					want = t0.Add(w.retry)
				}
				if !l.retryAt.Equal(want) {
					t.Errorf("wake %d (%v at %v): retryAt = %v, want %v", i, w.err, w.at, l.retryAt, want)
				}
			}
		})
	}
}
