package credproxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what one group's containers can hold on the host through
// their socket. A zero field takes its default.
type Limits struct {
	// MaxConns caps the open connections on one group's socket (64).
	// Connections past it are closed at once, so they cost no descriptor.
	MaxConns int
	// ReadHeaderTimeout bounds reading a request's headers (10s).
	ReadHeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body (60s).
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request (60s).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write of a response to the container (60s);
	// a stream may last longer, as long as the container keeps reading.
	WriteTimeout time.Duration
	// UpstreamTimeout bounds one upstream call, a streamed answer
	// included (30m: a long answer with extended thinking streams for
	// many minutes).
	UpstreamTimeout time.Duration
	// MaxHeaderBytes caps a request's headers (64 KiB).
	MaxHeaderBytes int
	// MaxBodyBytes caps a request's body (32 MiB, the Messages API's own
	// limit).
	MaxBodyBytes int64
}

// DefaultLimits are the limits of a proxy without SetLimits.
var DefaultLimits = Limits{MaxConns: 64, ReadHeaderTimeout: 10 * time.Second, BodyTimeout: time.Minute,
	IdleTimeout: time.Minute, WriteTimeout: time.Minute, UpstreamTimeout: 30 * time.Minute,
	MaxHeaderBytes: 64 << 10, MaxBodyBytes: 32 << 20}

// SetLimits replaces the default limits; call it before Serve.
func (p *Proxy) SetLimits(l Limits) { p.limits = l.withDefaults() }

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.BodyTimeout, d.BodyTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.UpstreamTimeout, d.UpstreamTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	return l
}

// capListener serves at most cap(slots) connections at once. One past
// the cap is accepted and closed at once, not left in the backlog: a
// container that opens thousands holds none of berth's descriptors.
type capListener struct {
	net.Listener
	slots chan struct{}
	full  func() // told of each connection closed for the cap
}

// Accept returns the next connection under the cap.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		default:
			// Its close error says nothing the caller can act on: the
			// connection is refused either way.
			_ = c.Close()
			l.full()
		}
	}
}

// slotConn gives back its slot when closed (once, however often Close
// is called).
type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

// CloseWrite lets the server half-close before it closes (after an
// error answer), so the container reads the answer, not a reset.
func (c *slotConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}

// paced is the container's side of an answer: each write must finish
// within the write timeout, so a container that stops reading cannot hold
// the call, while a stream may run as long as it keeps reading.
type paced struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

// extend moves the write deadline to d from now.
func (p *paced) extend() error { return p.rc.SetWriteDeadline(time.Now().Add(p.d)) }

func (p *paced) Write(b []byte) (int, error) {
	if err := p.extend(); err != nil {
		return 0, err
	}
	return p.ResponseWriter.Write(b)
}

// FlushError flushes under a fresh deadline (the reverse proxy flushes
// each event of a stream).
func (p *paced) FlushError() error {
	if err := p.extend(); err != nil {
		return err
	}
	return p.rc.Flush()
}

func (p *paced) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// body is a request body read under a deadline. Once it is all in, the
// deadline is lifted, since the answer may stream for minutes; the
// connection's read side is then only watched for the container leaving.
type body struct {
	io.ReadCloser
	n    atomic.Int64 // bytes read
	lift func()

	mu   sync.Mutex // guards done
	done bool       // the handler returned: the connection is no longer this request's
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if errors.Is(err, io.EOF) {
		b.release()
	}
	return n, err
}

// release lifts the read deadline, unless the request is over.
func (b *body) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.lift()
		b.done = true
	}
}

// finish marks the request over; a late read must not touch the
// connection's deadline, which the server now owns.
func (b *body) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
}
