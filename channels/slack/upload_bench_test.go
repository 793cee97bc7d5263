package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
)

// BenchmarkSlackUploadMemory uploads a 256 MiB file through the external
// upload flow to a TEST-ONLY endpoint that discards it, and reports the
// peak heap in use: the upload streams from the file, so it stays flat
// whatever the file's size (Slack takes up to 1 GB).
func BenchmarkSlackUploadMemory(b *testing.B) {
	const size = 256 << 20
	var got atomic.Int64
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(v); err != nil {
			b.Error(err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/files.getUploadURLExternal", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"ok": true, "file_id": "F1", "upload_url": "http://" + r.Host + "/upload"})
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			b.Error(err)
			return
		}
		p, err := mr.NextPart()
		if err != nil {
			b.Error(err)
			return
		}
		n, err := io.Copy(io.Discard, p)
		if err != nil {
			b.Error(err)
		}
		got.Store(n)
	})
	mux.HandleFunc("/files.completeUploadExternal", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"ok": true, "files": []any{map[string]any{"id": "F1"}}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a, err := slack.New(slack.Config{BotToken: "xoxb-bench", AppToken: "xapp-bench", APIURL: srv.URL + "/"}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	b.SetBytes(size)
	for b.Loop() {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		_, err := a.SendFiles(context.Background(), channels.Outbound{PlatformID: "C1", Text: "the file"},
			[]channels.File{{Name: "big.bin", Size: size, Reader: io.LimitReader(f, size)}})
		if err != nil {
			b.Fatal(err)
		}
		if got.Load() != size {
			b.Fatalf("uploaded %d bytes, want %d", got.Load(), size)
		}
	}
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
