package session

import (
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/mounts"
)

// Observer is told what the manager does, for metrics. Methods must not block.
type Observer interface {
	Routed(channel string)
	Dropped(channel, reason string)
	Woke(cold bool, took time.Duration)
	Delivered(channel string, roundTrip time.Duration)
	DeliveryFailed(channel string)
	Retried()
	Failed()
	Running(n int)
	// StateChanged is told each time a message enters a state a person is shown.
	StateChanged(state channels.State)
}

// nopObserver is used when none is configured.
type nopObserver struct{}

func (nopObserver) Routed(string)                   {}
func (nopObserver) Dropped(string, string)          {}
func (nopObserver) Woke(bool, time.Duration)        {}
func (nopObserver) Delivered(string, time.Duration) {}
func (nopObserver) DeliveryFailed(string)           {}
func (nopObserver) Retried()                        {}
func (nopObserver) Failed()                         {}
func (nopObserver) Running(int)                     {}
func (nopObserver) StateChanged(channels.State)     {}

// Extras adds per-group mounts and environment to a session's container
// (the credential proxy's socket folder, allowlisted extra mounts). It must
// never return secrets in env.
type Extras func(g data.AgentGroup) ([]mounts.Mount, []string, error)
