package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Upload is one files.completeUploadExternal call: the files berth
// shared in one message, with their bytes as uploaded.
type Upload struct {
	Channel  string
	ThreadTS string
	Comment  string // initial_comment
	Files    []UploadedFile
	TS       string
}

// UploadedFile is one file of an Upload.
type UploadedFile struct {
	ID    string
	Name  string // the filename given to files.getUploadURLExternal
	Bytes []byte
}

// uploads is the fake's state for the external upload flow.
type uploads struct {
	mu       sync.Mutex
	pending  map[string]*UploadedFile // file id -> announced (and uploaded) file
	done     []Upload
	slowLeft int
	slowFor  time.Duration
	notify   chan struct{}
}

// serveUploads adds files.getUploadURLExternal, the upload address and
// files.completeUploadExternal to mux. The upload address is on the fake
// itself, as slack-go sends the bot token only there (or to slack.com).
func (s *Server) serveUploads(mux *http.ServeMux) {
	s.up.pending = map[string]*UploadedFile{}
	s.up.notify = make(chan struct{}, 1)
	mux.HandleFunc("/files.getUploadURLExternal", func(w http.ResponseWriter, r *http.Request) {
		f := readForm(r)
		if bearer(r, f) == "" {
			reply(w, map[string]any{"ok": false, "error": "not_authed"})
			return
		}
		id := fmt.Sprintf("F%d", s.seq.Add(1))
		s.up.mu.Lock()
		s.up.pending[id] = &UploadedFile{ID: id, Name: f.Get("filename")}
		s.up.mu.Unlock()
		reply(w, map[string]any{"ok": true, "file_id": id, "upload_url": "http://" + r.Host + "/upload/" + id})
	})
	mux.HandleFunc("POST /upload/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer xoxb-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		part, _, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(part)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.up.mu.Lock()
		p := s.up.pending[r.PathValue("id")]
		if p != nil {
			p.Bytes = b
		}
		s.up.mu.Unlock()
		if p == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "OK - "+fmt.Sprint(len(b)))
	})
	mux.HandleFunc("/files.completeUploadExternal", s.completeUpload)
}

func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(f.Get("files")), &files); err != nil || len(files) == 0 {
		reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	ts := s.NextTS()
	u := Upload{Channel: f.Get("channel_id"), ThreadTS: f.Get("thread_ts"), Comment: f.Get("initial_comment"), TS: ts}
	var shown []map[string]any
	var summary []map[string]any
	s.up.mu.Lock()
	for _, fl := range files {
		p := s.up.pending[fl.ID]
		if p == nil || p.Bytes == nil {
			s.up.mu.Unlock()
			reply(w, map[string]any{"ok": false, "error": "file_not_found"})
			return
		}
		delete(s.up.pending, fl.ID)
		u.Files = append(u.Files, *p)
		shown = append(shown, map[string]any{"id": p.ID, "name": p.Name, "title": fl.Title, "size": len(p.Bytes)})
		summary = append(summary, map[string]any{"id": p.ID, "title": fl.Title})
	}
	s.up.done = append(s.up.done, u)
	slow := time.Duration(0)
	if s.up.slowLeft > 0 {
		s.up.slowLeft--
		slow = s.up.slowFor
	}
	s.up.mu.Unlock()
	msg := map[string]any{"type": "message", "bot_id": "BBOT", "user": BotUserID, "text": u.Comment, "ts": ts, "files": shown}
	if u.ThreadTS != "" {
		msg["thread_ts"] = u.ThreadTS
	}
	s.mu.Lock()
	s.history[u.Channel] = append(s.history[u.Channel], msg)
	s.mu.Unlock()
	select {
	case s.up.notify <- struct{}{}:
	default:
	}
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	reply(w, map[string]any{"ok": true, "files": summary})
}

// SlowNextUpload makes the next k files.completeUploadExternal calls
// share the files but answer only after d: an upload cut off (by a
// timeout, or a crash of berth) after Slack took it.
func (s *Server) SlowNextUpload(k int, d time.Duration) {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	s.up.slowLeft, s.up.slowFor = k, d
}

// Uploads returns every completed upload, in order.
func (s *Server) Uploads() []Upload {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	return append([]Upload(nil), s.up.done...)
}

// WaitUploads waits until n uploads were completed.
func (s *Server) WaitUploads(t testing.TB, n int, timeout time.Duration) []Upload {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if u := s.Uploads(); len(u) >= n {
			return u
		}
		select {
		case <-s.up.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("slack: %d uploads after %v, want %d; posts: %+v", len(s.Uploads()), timeout, n, s.Posted())
		}
	}
}
