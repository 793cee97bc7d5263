package credproxy

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
)

// sse writes server-sent events, flushing after each.
func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		fmt.Fprint(w, e)
		w.(http.Flusher).Flush()
	}
}

var anthropicStream = []string{
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
	"event: ping\ndata: {\"type\": \"ping\"}\n\n",
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n",
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
}

var openaiStream = []string{
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\r\n\r\n",
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\r\n\r\n",
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\r\n\r\n",
	"data: [DONE]\r\n\r\n",
}

// gzipped writes body gzip-compressed when the request asks for gzip.
func gzipped(w http.ResponseWriter, r *http.Request, ctype, body string) {
	w.Header().Set("Content-Type", ctype)
	switch ae := r.Header.Get("Accept-Encoding"); {
	case strings.Contains(ae, "gzip"):
		w.Header().Set("Content-Encoding", "gzip")
		z := gzip.NewWriter(w)
		z.Write([]byte(body))
		z.Close()
	case strings.Contains(ae, "br"):
		// Bytes the meter cannot read, as a brotli body would be to it.
		w.Header().Set("Content-Encoding", "br")
		w.Write([]byte{0x1b, 0x2a, 0x00, 0xf8, 0x8d})
	default:
		w.Write([]byte(body))
	}
}

// TestStreamsAndCompressedAnswersAreMetered: the claude CLI always streams
// and SDKs ask for gzip; both count what they report through a real socket.
func TestStreamsAndCompressedAnswersAreMetered(t *testing.T) {
	bigText := strings.Repeat("x", 5<<20)
	longLine := "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"" + strings.Repeat("y", 200<<10) + "\"}}\n\n"
	tests := []struct {
		name          string
		path          string
		hdr           map[string]string
		serve         func(w http.ResponseWriter, r *http.Request)
		in, out       int64
		atLeast       bool // an estimate: at least in and out
		plainResponse string
	}{
		{name: "anthropic stream", path: "/anthropic/v1/messages",
			serve: func(w http.ResponseWriter, r *http.Request) { sse(w, anthropicStream...) }, in: 25, out: 42},
		{name: "openai stream", path: "/openai/chat/completions",
			serve: func(w http.ResponseWriter, r *http.Request) { sse(w, openaiStream...) }, in: 7, out: 3},
		{name: "gzip json", path: "/anthropic/v1/messages", hdr: map[string]string{"Accept-Encoding": "gzip"},
			serve: func(w http.ResponseWriter, r *http.Request) {
				gzipped(w, r, "application/json", `{"type":"message","content":[],"usage":{"input_tokens":11,"output_tokens":6}}`)
			}, in: 11, out: 6, plainResponse: `"input_tokens":11`},
		{name: "gzip stream", path: "/anthropic/v1/messages", hdr: map[string]string{"Accept-Encoding": "gzip, deflate"},
			serve: func(w http.ResponseWriter, r *http.Request) {
				gzipped(w, r, "text/event-stream", strings.Join(anthropicStream, ""))
			}, in: 25, out: 42, plainResponse: "message_delta"},
		{name: "container asks for brotli", path: "/openai/chat/completions", hdr: map[string]string{"Accept-Encoding": "br"},
			serve: func(w http.ResponseWriter, r *http.Request) {
				gzipped(w, r, "application/json", `{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":9}}`)
			}, in: 4, out: 9, plainResponse: `"prompt_tokens":4`},
		{name: "json larger than any buffer", path: "/anthropic/v1/messages",
			serve: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"content":[{"type":"text","text":"%s \"usage\":{\"input_tokens\":999}"}],"usage":{"input_tokens":3,"output_tokens":1200000}}`, bigText)
			}, in: 3, out: 1200000},
		{name: "stream with a line past the bound", path: "/anthropic/v1/messages",
			serve: func(w http.ResponseWriter, r *http.Request) {
				sse(w, anthropicStream[0], longLine, anthropicStream[5], anthropicStream[6])
			}, in: 25, out: 42},
		{name: "stream without usage is charged by size", path: "/openai/chat/completions",
			serve: func(w http.ResponseWriter, r *http.Request) {
				sse(w, openaiStream[0], openaiStream[1], openaiStream[3])
			},
			in: 1, out: 1, atLeast: true},
		{name: "stream cut before its usage is charged by size", path: "/anthropic/v1/messages",
			serve: func(w http.ResponseWriter, r *http.Request) { sse(w, anthropicStream[:4]...) },
			in:    25, out: 1, atLeast: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(tt.serve))
			defer up.Close()
			rg := newRig(t, up.URL, Limits{})
			sock := rg.serve(t, "team")
			code, hdr, body := call(t, sock, "POST", tt.path, `{"stream":true,"messages":[{"role":"user","content":"hello"}]}`, tt.hdr)
			if code != 200 {
				t.Fatalf("status %d: %.200s", code, body)
			}
			if tt.plainResponse != "" && (!strings.Contains(body, tt.plainResponse) || hdr.Get("Content-Encoding") != "") {
				t.Fatalf("the container got %q encoded %q: %.100q", hdr.Get("Content-Type"), hdr.Get("Content-Encoding"), body)
			}
			rg.p.Close() // wait for the handler to record
			in, out := rg.meter.take()
			if tt.atLeast {
				if in < tt.in || out < tt.out {
					t.Fatalf("charged %d in, %d out; want at least %d, %d", in, out, tt.in, tt.out)
				}
				return
			}
			if in != tt.in || out != tt.out {
				t.Fatalf("metered %d in, %d out; want %d, %d", in, out, tt.in, tt.out)
			}
		})
	}
}

// TestStreamIsRelayedAsItComes: each event reaches the container when the
// upstream sends it, not when the answer ends.
func TestStreamIsRelayedAsItComes(t *testing.T) {
	seen := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sse(w, anthropicStream[0])
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
		}
		sse(w, anthropicStream[1:]...)
	}))
	defer up.Close()
	rg := newRig(t, up.URL, Limits{})
	sock := rg.serve(t, "team")
	req, _ := http.NewRequest("POST", "http://berth-proxy/anthropic/v1/messages", strings.NewReader(`{"stream":true}`))
	resp, err := client(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, "message_start") {
			t.Fatalf("first line %q", line)
		}
		close(seen)
	case <-time.After(5 * time.Second):
		close(seen)
		t.Fatal("the first event was held back by the proxy")
	}
}

// TestStreamedUsageReachesTheStore: a streamed and a gzipped answer,
// through a real socket, are counted in a real store.
func TestStreamedUsageReachesTheStore(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "gzip") {
			gzipped(w, r, "application/json", `{"usage":{"input_tokens":100,"output_tokens":8}}`)
			return
		}
		sse(w, anthropicStream...)
	}))
	defer up.Close()
	ctx := context.Background()
	store, err := data.Open(ctx, paths.Home(t.TempDir()).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rg := newRig(t, up.URL, Limits{})
	rg.p.SetMeter(StoreMeter{Store: store})
	sock := rg.serve(t, "team")
	for _, q := range []string{"", "?gzip"} {
		if code, _, body := call(t, sock, "POST", "/anthropic/v1/messages"+q, `{"stream":true}`, map[string]string{"Accept-Encoding": "gzip"}); code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
	}
	rg.p.Close()
	in, out, err := store.Usage(ctx, "team", time.Now())
	if err != nil || in != 125 || out != 50 {
		t.Fatalf("the store holds %d in, %d out (%v); want 125, 50", in, out, err)
	}
}

// TestStoreMeterLeft: the daily budget is read with the one group config
// parser; a refused config applies no budget and is logged naming the
// field, rather than dropped.
func TestStoreMeterLeft(t *testing.T) {
	ctx := context.Background()
	store, err := data.Open(ctx, paths.Home(t.TempDir()).Store())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs strings.Builder
	m := StoreMeter{Store: store, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	tests := []struct {
		folder, config string
		left           int64
		ok             bool
		log            string // in the log; "" for none
	}{
		{"none", `{}`, 0, false, ""},
		{"zero", `{"daily_budget_tokens":0}`, 0, false, ""},
		{"budget", `{"daily_budget_tokens":100}`, 100 - 30, true, ""},
		{"negative", `{"daily_budget_tokens":-5}`, 0, false, `\"daily_budget_tokens\" is -5`},
		{"unknown", `{"daily_budget":5}`, 0, false, `\"daily_budget\" is not a setting berth knows`},
	}
	for _, tt := range tests {
		g := data.AgentGroup{Name: tt.folder, Folder: tt.folder, ContainerConfig: tt.config}
		if err := store.CreateGroup(ctx, &g); err != nil {
			t.Fatal(err)
		}
		if err := store.AddUsage(ctx, tt.folder, time.Now(), 20, 10); err != nil {
			t.Fatal(err)
		}
		logs.Reset()
		left, ok := m.Left(ctx, tt.folder)
		if left != tt.left || ok != tt.ok {
			t.Errorf("%s: Left = %d, %v; want %d, %v", tt.folder, left, ok, tt.left, tt.ok)
		}
		if got := logs.String(); tt.log == "" && got != "" || !strings.Contains(got, tt.log) {
			t.Errorf("%s: log %q, want %q", tt.folder, got, tt.log)
		}
	}
	if _, ok := m.Left(ctx, "nosuch"); ok {
		t.Error("a group that does not exist has a budget")
	}
}
