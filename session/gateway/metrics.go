package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/channels"
)

// connCollector exports what each channel with channels.Health says of its
// connection, read at scrape time: the adapters count, the registry does
// not keep a copy that could drift.
type connCollector struct {
	chans []channels.Channel
	deaf  *prometheus.Desc
	age   *prometheus.Desc
}

var _ prometheus.Collector = connCollector{}

func newConnCollector(chans []channels.Channel) connCollector {
	return connCollector{
		chans: chans,
		deaf: prometheus.NewDesc("berth_deaf_reconnects_total",
			"Connections a channel's watchdog found up but deaf (no events while the platform had new messages) and replaced, by channel.",
			[]string{"channel"}, nil),
		age: prometheus.NewDesc("berth_channel_last_event_age_seconds",
			"Seconds since a channel's connection last delivered an event of any kind, by channel (absent before the first).",
			[]string{"channel"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.deaf
	ch <- c.age
}

// Collect implements prometheus.Collector.
func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	for _, chn := range c.chans {
		h, ok := chn.(channels.Health)
		if !ok {
			continue
		}
		conn := h.Health()
		ch <- prometheus.MustNewConstMetric(c.deaf, prometheus.CounterValue, float64(conn.DeafReconnects), chn.Type())
		if !conn.LastEvent.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, time.Since(conn.LastEvent).Seconds(), chn.Type())
		}
	}
}
