package credproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// short are limits small enough to watch them act.
var short = Limits{MaxConns: 4, ReadHeaderTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond,
	IdleTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, UpstreamTimeout: 2 * time.Second,
	MaxHeaderBytes: 8 << 10, MaxBodyBytes: 64 << 10}

const probe = "GET /anthropic/v1/models HTTP/1.1\r\nHost: berth-proxy\r\n\r\n"

// answered sends one request on c and reads its answer.
func answered(t *testing.T, c net.Conn, req string) (int, bool) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		return 0, false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, true
}

// TestSlowAndIdleConnectionsAreClosed: a container cannot hold a
// connection open by sending nothing, half a request or half a body, or
// by not reading its answer.
func TestSlowAndIdleConnectionsAreClosed(t *testing.T) {
	upstreamGone := make(chan struct{}, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			w.Write([]byte(`{"data":[]}`))
		case "/v1/messages":
			io.Copy(io.Discard, r.Body)
			if strings.Contains(r.URL.RawQuery, "hang") {
				<-r.Context().Done()
				upstreamGone <- struct{}{}
				return
			}
			// An endless stream, far more than any socket buffer holds.
			w.Header().Set("Content-Type", "text/event-stream")
			chunk := "event: ping\ndata: {\"type\":\"ping\",\"pad\":\"" + strings.Repeat("p", 16<<10) + "\"}\n\n"
			for {
				if _, err := io.WriteString(w, chunk); err != nil {
					upstreamGone <- struct{}{}
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer up.Close()
	rg := newRig(t, up.URL, short)
	sock := rg.serve(t, "team")
	const grace = 3 * time.Second

	t.Run("silent", func(t *testing.T) {
		if !closedWithin(dial(t, sock), grace) {
			t.Fatal("a connection that sent nothing was kept")
		}
	})
	t.Run("half a header", func(t *testing.T) {
		c := dial(t, sock)
		io.WriteString(c, "GET /anthropic/v1/models HTTP/1.1\r\nHost: berth-proxy\r\n")
		if !closedWithin(c, grace) {
			t.Fatal("a connection that sent half a request was kept")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial(t, sock)
		if code, ok := answered(t, c, probe); !ok || code != 200 {
			t.Fatalf("first request: %d %v", code, ok)
		}
		if !closedWithin(c, grace) {
			t.Fatal("an idle keep-alive connection was kept")
		}
	})
	t.Run("half a body", func(t *testing.T) {
		c := dial(t, sock)
		io.WriteString(c, "POST /anthropic/v1/messages HTTP/1.1\r\nHost: berth-proxy\r\nContent-Length: 1000\r\n\r\n{\"a\":")
		if !closedWithin(c, grace) {
			t.Fatal("a connection that sent half a body was kept")
		}
	})
	t.Run("answer not read", func(t *testing.T) {
		c := dial(t, sock)
		io.WriteString(c, "POST /anthropic/v1/messages HTTP/1.1\r\nHost: berth-proxy\r\nContent-Length: 2\r\n\r\n{}")
		select { // the proxy gives up writing, and so stops the upstream call
		case <-upstreamGone:
		case <-time.After(grace + short.UpstreamTimeout):
			t.Fatal("the proxy kept streaming to a container that does not read")
		}
	})
	t.Run("upstream hangs", func(t *testing.T) {
		start := time.Now()
		code, _, _ := call(t, sock, "POST", "/anthropic/v1/messages?hang", "{}", nil)
		if code != http.StatusBadGateway && code != http.StatusGatewayTimeout {
			t.Fatalf("status %d", code)
		}
		if d := time.Since(start); d > short.UpstreamTimeout+grace {
			t.Fatalf("a hanging upstream held the call %v", d)
		}
		select {
		case <-upstreamGone:
		case <-time.After(grace):
			t.Fatal("the upstream call was not cancelled")
		}
	})
	t.Run("header too large", func(t *testing.T) {
		code, _, _ := call(t, sock, "GET", "/anthropic/v1/models", "", map[string]string{"X-Pad": strings.Repeat("h", 64<<10)})
		if code != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		code, _, _ := call(t, sock, "POST", "/anthropic/v1/messages", strings.Repeat("b", 128<<10), nil)
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", code)
		}
	})
}

// TestLongStreamOutlivesEveryTimeout: a model's answer streams for longer
// than each timeout; as long as it keeps coming and the container keeps
// reading, it is relayed whole.
func TestLongStreamOutlivesEveryTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		sse(w, anthropicStream[0])
		for i := 0; i < 15; i++ {
			time.Sleep(100 * time.Millisecond)
			sse(w, anthropicStream[3])
		}
		sse(w, anthropicStream[5:]...)
	}))
	defer up.Close()
	l := short
	l.UpstreamTimeout = 30 * time.Second
	rg := newRig(t, up.URL, l)
	sock := rg.serve(t, "team")
	start := time.Now()
	code, _, body := call(t, sock, "POST", "/anthropic/v1/messages", `{"stream":true}`, nil)
	if code != 200 || strings.Count(body, "text_delta") != 15 || !strings.Contains(body, "message_stop") {
		t.Fatalf("status %d, %d deltas: %.200s", code, strings.Count(body, "text_delta"), body)
	}
	if d := time.Since(start); d < 5*short.WriteTimeout {
		t.Fatalf("the stream took %v, not longer than the timeouts", d)
	}
	rg.p.Close()
	if in, out := rg.meter.take(); in != 25 || out != 42 {
		t.Fatalf("metered %d, %d", in, out)
	}
}

// TestConnectionCapPerSocket: one group's connections past the cap are
// closed at once; its held ones and every other group's socket still work.
func TestConnectionCapPerSocket(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"data":[]}`)) }))
	defer up.Close()
	l := short
	l.IdleTimeout = time.Minute // the cap, not the idle timeout, is under test
	rg := newRig(t, up.URL, l)
	hog, other := rg.serve(t, "hog"), rg.serve(t, "other")
	var held []net.Conn
	for i := 0; i < l.MaxConns; i++ {
		c := dial(t, hog)
		if code, ok := answered(t, c, probe); !ok || code != 200 {
			t.Fatalf("connection %d under the cap: %d %v", i, code, ok)
		}
		held = append(held, c)
	}
	for i := 0; i < 50; i++ {
		c := dial(t, hog)
		if _, ok := answered(t, c, probe); ok {
			t.Fatalf("connection %d past the cap of %d was served", l.MaxConns+i, l.MaxConns)
		}
		if !closedWithin(c, time.Second) {
			t.Fatal("a connection past the cap was held open")
		}
	}
	for i := 0; i < 2*l.MaxConns; i++ {
		if code, _, _ := call(t, other, "GET", "/anthropic/v1/models", "", nil); code != 200 {
			t.Fatalf("another group's socket: %d", code)
		}
	}
	if code, ok := answered(t, dial(t, other), probe); !ok || code != 200 {
		t.Fatalf("another group's socket: %d %v", code, ok)
	}
	// A held connection still works, and closing one makes room.
	if code, ok := answered(t, held[0], probe); !ok || code != 200 {
		t.Fatalf("a held connection: %d %v", code, ok)
	}
	held[1].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, ok := answered(t, dial(t, hog), probe); ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no room after a connection closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(rg.log.String(), "connection cap") {
		t.Errorf("the cap was not logged: %s", rg.log.String())
	}
}
