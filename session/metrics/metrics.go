// Package metrics exposes what the session manager does as Prometheus
// metrics: it implements session.Observer and serves /metrics from its
// own registry (no global state).
package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session"
)

// Metrics counts messages, wakes, deliveries and failures. It is safe for
// concurrent use, and its methods never block.
type Metrics struct {
	reg *prometheus.Registry

	messagesIn     *prometheus.CounterVec
	messagesOut    *prometheus.CounterVec
	roundTrip      *prometheus.HistogramVec
	wakes          prometheus.Counter
	coldStarts     prometheus.Counter
	wakeSeconds    *prometheus.HistogramVec
	running        prometheus.Gauge
	deliveryFailed *prometheus.CounterVec
	retries        prometheus.Counter
	failures       prometheus.Counter
	dropped        *prometheus.CounterVec
	states         *prometheus.CounterVec
}

var _ session.Observer = (*Metrics)(nil)

// New returns metrics registered in a new registry, together with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_messages_in_total",
			Help: "Messages routed to an agent session, by channel."}, []string{"channel"}),
		messagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_messages_out_total",
			Help: "Agent replies delivered to a platform, by channel."}, []string{"channel"}),
		roundTrip: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "berth_round_trip_seconds",
			Help:    "Time from accepting a message to delivering its reply, by channel.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}}, []string{"channel"}),
		wakes: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_wakes_total",
			Help: "Sessions woken: a container started or adopted."}),
		coldStarts: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_cold_starts_total",
			Help: "Wakes that had to create a new container."}),
		wakeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "berth_wake_seconds",
			Help:    "Time to make a session's container run, by whether it was a cold start.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30}}, []string{"cold"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_containers_running",
			Help: "Agent containers running now."}),
		deliveryFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_delivery_failures_total",
			Help: "Replies that could not be delivered after every try, by channel."}, []string{"channel"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_retries_total",
			Help: "Messages re-queued after their container died while working on them."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_failures_total",
			Help: "Messages that failed for good; their senders are told."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_dropped_total",
			Help: "Messages dropped before reaching a session, by channel and reason."}, []string{"channel", "reason"}),
		states: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_message_states_total",
			Help: "Messages entering a state shown to people (queued, starting, working, retrying, failed, done), by state."}, []string{"state"}),
	}
	m.reg.MustRegister(m.messagesIn, m.messagesOut, m.roundTrip, m.wakes, m.coldStarts, m.wakeSeconds, m.running,
		m.deliveryFailed, m.retries, m.failures, m.dropped, m.states,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Routed implements session.Observer.
func (m *Metrics) Routed(channel string) { m.messagesIn.WithLabelValues(channel).Inc() }

// Dropped implements session.Observer. The reason is reduced to its stable
// head so the label's values stay few.
func (m *Metrics) Dropped(channel, reason string) {
	m.dropped.WithLabelValues(channel, Reason(reason)).Inc()
}

// Woke implements session.Observer.
func (m *Metrics) Woke(cold bool, took time.Duration) {
	m.wakes.Inc()
	label := "false"
	if cold {
		m.coldStarts.Inc()
		label = "true"
	}
	m.wakeSeconds.WithLabelValues(label).Observe(took.Seconds())
}

// Delivered implements session.Observer. A zero round trip (the message
// was accepted by an earlier process) is counted but not timed.
func (m *Metrics) Delivered(channel string, roundTrip time.Duration) {
	m.messagesOut.WithLabelValues(channel).Inc()
	if roundTrip > 0 {
		m.roundTrip.WithLabelValues(channel).Observe(roundTrip.Seconds())
	}
}

// DeliveryFailed implements session.Observer.
func (m *Metrics) DeliveryFailed(channel string) { m.deliveryFailed.WithLabelValues(channel).Inc() }

// Retried implements session.Observer.
func (m *Metrics) Retried() { m.retries.Inc() }

// Failed implements session.Observer.
func (m *Metrics) Failed() { m.failures.Inc() }

// Running implements session.Observer.
func (m *Metrics) Running(n int) { m.running.Set(float64(n)) }

// StateChanged implements session.Observer.
func (m *Metrics) StateChanged(state channels.State) { m.states.WithLabelValues(string(state)).Inc() }

// Reason turns a drop reason into a label value: the text before any
// detail in parentheses or after a colon, lower case, at most 40 bytes.
// "message is too long (70000 bytes; …)" becomes "message is too long".
func Reason(reason string) string {
	if i := strings.IndexAny(reason, "(:"); i >= 0 {
		reason = reason[:i]
	}
	reason = strings.ToLower(strings.TrimSpace(reason))
	if len(reason) > 40 {
		reason = strings.TrimSpace(reason[:40])
	}
	if reason == "" {
		return "other"
	}
	return reason
}
