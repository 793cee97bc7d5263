package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/logs"
)

// Server-Sent Events pacing.
const (
	streamPoll      = 250 * time.Millisecond // how often a followed file is read again
	streamKeepalive = 15 * time.Second       // a comment that keeps proxies from closing an idle stream
	streamRetry     = 2000                   // ms before the browser reconnects a stream that ended
	outputBacklog   = 15 * time.Minute       // a container's output a stream starts with
	maxOutputLine   = 8 << 10                // a longer output line is cut
)

// sse writes Server-Sent Events, one writer at a time.
type sse struct {
	mu sync.Mutex // guards w
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE answers r with an event stream; false if w cannot stream.
func startSSE(w http.ResponseWriter) (*sse, bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front passes events on at once
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w)}
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", streamRetry); err != nil {
		return nil, false
	}
	return s, s.rc.Flush() == nil
}

// event sends one event whose data is v as JSON (which holds no newline).
func (s *sse) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// comment sends a comment line, which keeps the connection alive.
func (s *sse) comment() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.w, ": keepalive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// logsStream follows the gateway log, filtered as the logs page is: it
// starts with the last lines there are, then sends each new one.
func (s *Server) logsStream(w http.ResponseWriter, r *http.Request) {
	f, _, err := logFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	src := logs.NewSource(s.cfg.Home.GatewayLog(), "", f)
	src.FromTail(logTail)
	defer src.Close()
	s.follow(w, r, src)
}

// follow streams what src holds now (its last lines), then what comes.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, src *logs.Source) {
	ev, ok := startSSE(w)
	if !ok {
		return
	}
	if ev.event("reset", "") != nil {
		return
	}
	for _, l := range lastLines(src, logBacklog) {
		if ev.event("line", l) != nil {
			return
		}
	}
	ctx := r.Context()
	poll, alive := time.NewTicker(streamPoll), time.NewTicker(streamKeepalive)
	defer poll.Stop()
	defer alive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-alive.C:
			if ev.comment() != nil {
				return
			}
		case <-poll.C:
			if !s.stillAllowed(r) {
				return
			}
			src.CheckRotation()
			for e, ok := src.Take(); ok; e, ok = src.Take() {
				if ev.event("line", lineOf(e)) != nil {
					return
				}
			}
		}
	}
}

// outputStream follows a session's container output: the file berth run
// captures it into when it does (Config.OutputFromLogs), else the
// engine's output of its running container. With no container, it says
// so and ends; the browser asks again a little later.
func (s *Server) outputStream(w http.ResponseWriter, r *http.Request) {
	ss, err := s.cfg.Store.Session(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, data.ErrNotFound):
		http.Error(w, "no such session", http.StatusNotFound)
		return
	case err != nil:
		s.log.Error("console: read session", "session", r.PathValue("id"), "err", err)
		http.Error(w, "reading the session failed; see the gateway log", http.StatusInternalServerError)
		return
	}
	if s.cfg.OutputFromLogs {
		src := logs.NewSource(s.cfg.Home.SessionLog(ss.ID), ss.ID, logs.Filter{})
		src.FromTail(logTail)
		defer src.Close()
		s.follow(w, r, src)
		return
	}
	rows, err := s.containers(r.Context(), container.SessionLabels(s.cfg.Home.String(), ss.ID), snapshot{})
	ev, ok := startSSE(w)
	if !ok {
		return
	}
	if err != nil {
		s.log.Warn("console: list the session's containers", "session", ss.ID, "err", err)
		_ = ev.event("reset", "") // the browser may have gone: nothing to do
		_ = ev.event("idle", "the container runtime cannot list this session's containers: see the gateway log")
		return
	}
	if len(rows) == 0 {
		_ = ev.event("reset", "") // the browser may have gone: nothing to do
		_ = ev.event("idle", "no container is running for this session")
		return
	}
	if ev.event("reset", "") != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	out := &lineWriter{send: func(stream, line string) error {
		return ev.event("line", lineOf(logs.Entry{Session: ss.ID, Level: stream, Msg: line}))
	}}
	stdout, stderr := out.stream("stdout"), out.stream("stderr")
	done := make(chan error, 1)
	go func() {
		done <- s.cfg.Containers.LogsSince(ctx, rows[0].ID, time.Now().Add(-outputBacklog), stdout, stderr)
	}()
	alive, recheck := time.NewTicker(streamKeepalive), time.NewTicker(streamPoll)
	defer alive.Stop()
	defer recheck.Stop()
	for {
		select {
		case <-recheck.C:
			if !s.stillAllowed(r) {
				return
			}
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				s.log.Debug("console: follow container output", "session", ss.ID, "container", rows[0].Name, "err", err)
			}
			_ = ev.event("idle", "the container exited") // the browser may have gone: nothing to do
			return
		case <-ctx.Done():
			return
		case <-alive.C:
			if ev.comment() != nil {
				return
			}
		}
	}
}

// stillAllowed reports whether the request a stream answers would still
// be let in: a token rotated (or made, on an open console) ends the
// streams it opened, as it shuts out every page at once.
func (s *Server) stillAllowed(r *http.Request) bool {
	_, ok, err := s.authenticate(r)
	return ok && err == nil
}

// lineWriter splits a container's output into lines for events.
type lineWriter struct {
	send func(stream, line string) error
}

func (l *lineWriter) stream(name string) io.Writer { return &streamWriter{l: l, name: name} }

// streamWriter is one output stream of a lineWriter.
type streamWriter struct {
	l       *lineWriter
	name    string
	partial []byte
}

// Write implements io.Writer: each whole line is sent, the rest kept.
func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) > maxOutputLine {
				if err := w.l.send(w.name, string(w.partial[:maxOutputLine])+"…"); err != nil {
					return 0, err
				}
				w.partial = w.partial[:0]
			}
			break
		}
		line := append(w.partial, p[:i]...)
		w.partial = w.partial[:0]
		if len(line) > maxOutputLine {
			line = append(line[:maxOutputLine], "…"...)
		}
		if err := w.l.send(w.name, string(bytes.TrimRight(line, "\r"))); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}
