package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data/logs"
	"github.com/berth-dev/berth/data/paths"
)

// Session log rotation: each session's container output file is rotated
// at this size, keeping this many old files.
const (
	sessionLogMaxMB      = 10
	sessionLogMaxBackups = 3
	maxCapturedLine      = 64 << 10 // a longer line is split
)

// outputSource is what capture needs of the container runtime.
type outputSource interface {
	LogsSince(ctx context.Context, id string, since time.Time, stdout, stderr io.Writer) error
	Inspect(ctx context.Context, idOrName string) (container.Info, error)
}

// containerLogs copies each agent container's stdout and stderr into
// BERTH_HOME/logs/sessions/<session>.log, one line per output line:
//
//	2025-01-02T15:04:05.123456789Z stderr {"msg":"runner started",…}
type containerLogs struct {
	home   paths.Home
	src    outputSource
	log    *slog.Logger
	redact *redactor
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards closed, files and active
	closed bool
	files  map[string]*sessionLog // by session id
	active map[string]bool        // container ids being captured
}

type sessionLog struct {
	w    *lumberjack.Logger
	refs int
}

// newContainerLogs returns a capturer writing under home/logs/sessions.
func newContainerLogs(home string, src outputSource, log *slog.Logger, r *redactor) *containerLogs {
	ctx, cancel := context.WithCancel(context.Background())
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &containerLogs{home: paths.Home(home), src: src, log: log, redact: r, ctx: ctx, cancel: cancel,
		files: map[string]*sessionLog{}, active: map[string]bool{}}
}

// Capture follows one container's output until the container is gone or
// close is called. It is what session.Config.ContainerLogs calls; a second
// call for a container already captured does nothing, and so does every
// call without a source (a runtime given to the gateway that keeps no
// output, such as the TEST-ONLY in-process one).
func (c *containerLogs) Capture(sessionID, containerID string) {
	if c.src == nil {
		return
	}
	if !safeName(sessionID) {
		c.log.Warn("container logs", "session", sessionID, "container", shortID(containerID), "err", "bad session id")
		return
	}
	c.mu.Lock()
	if c.active[containerID] || c.closed {
		c.mu.Unlock()
		return
	}
	c.active[containerID] = true
	f := c.files[sessionID]
	if f == nil {
		f = &sessionLog{w: &lumberjack.Logger{Filename: c.home.SessionLog(sessionID),
			MaxSize: sessionLogMaxMB, MaxBackups: sessionLogMaxBackups}}
		c.files[sessionID] = f
	}
	f.refs++
	c.wg.Add(1)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.active, containerID)
		if f.refs--; f.refs == 0 {
			f.w.Close()
			delete(c.files, sessionID)
		}
		c.mu.Unlock()
		c.wg.Done()
	}()
	if err := os.MkdirAll(c.home.SessionLogs(), 0o700); err != nil {
		c.log.Warn("container logs", "session", sessionID, "container", shortID(containerID), "err", err)
		return
	}
	// After a restart, an adopted container's earlier output is already
	// in the file: continue from its last line.
	since := lastStamp(c.home.SessionLog(sessionID))
	if info, err := c.src.Inspect(c.ctx, containerID); err == nil && info.Created.After(since) {
		since = time.Time{}
	}
	stdout := &lineWriter{out: f.w, stream: "stdout", redact: c.redact}
	stderr := &lineWriter{out: f.w, stream: "stderr", redact: c.redact}
	err := c.src.LogsSince(c.ctx, containerID, since, stdout, stderr)
	stdout.flush()
	stderr.flush()
	if err != nil && c.ctx.Err() == nil && !container.IsNotFound(err) {
		c.log.Warn("container logs", "session", sessionID, "container", shortID(containerID), "err", err)
	}
}

// close waits up to grace for captures to reach the end of their
// containers' output, then stops the rest.
func (c *containerLogs) close(grace time.Duration) {
	c.mu.Lock()
	c.closed = true // no capture starts after this, so Wait is safe
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
	}
	c.cancel()
	<-done
}

// lineWriter turns a stream of output into timestamped, tagged lines.
type lineWriter struct {
	out    io.Writer
	stream string
	redact *redactor
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	rest := w.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if err := w.emit(rest[:i]); err != nil {
			return 0, err
		}
		rest = rest[i+1:]
	}
	for len(rest) >= maxCapturedLine {
		if err := w.emit(rest[:maxCapturedLine]); err != nil {
			return 0, err
		}
		rest = rest[maxCapturedLine:]
	}
	w.buf = w.buf[:copy(w.buf, rest)]
	return len(p), nil
}

// flush writes a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *lineWriter) emit(line []byte) error {
	// Without the controls an agent could drive a terminal with, the file
	// is safe to cat or tail (and to print: see printer). Stripped before
	// redaction, so a control inside a secret cannot hide it.
	text := terminal.StripControls(strings.TrimSuffix(string(line), "\r"))
	if w.redact != nil {
		text = w.redact.String(text)
	}
	// One Write per line: lumberjack serialises writers, so stdout and
	// stderr lines never interleave within a line.
	_, err := io.WriteString(w.out, time.Now().UTC().Format(time.RFC3339Nano)+" "+w.stream+" "+text+"\n")
	return err
}

// lastStamp is the time of the last line of a session log, or zero.
func lastStamp(path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return time.Time{}
	}
	off := max(fi.Size()-8192, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return time.Time{}
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if e, ok := logs.ParseContainerLine(lines[i]); ok {
			return e.Time
		}
	}
	return time.Time{}
}

// safeName reports whether s can be a file name in the logs folder.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && filepath.Base(s) == s
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
