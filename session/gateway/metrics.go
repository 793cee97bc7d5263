package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/channels"
)

// metricsShutdown bounds how long stopping the metrics endpoint waits for
// a scrape in flight.
const metricsShutdown = 2 * time.Second

// ServeMetrics serves h at http://addr/metrics until stop is called. It
// returns the address it listens on (useful with port 0). Open calls it
// for Config.MetricsAddr.
func ServeMetrics(addr string, h http.Handler, log *slog.Logger) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint", "err", err)
		}
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), metricsShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("stop metrics endpoint", "err", err)
		}
		<-done
	}, nil
}

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
