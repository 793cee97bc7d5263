package slacktest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// File is a file a person shares in the fake Slack.
type File struct {
	Name     string
	Mimetype string
	Body     []byte
	// Size, if set, is the size the event reports instead of len(Body)
	// (a file too large to serve, or a size that lies).
	Size int64
	// RedirectTo, if set, answers the download with a redirect there.
	RedirectTo string
}

// Download is one request for a file's url_private.
type Download struct {
	FileID string
	Token  string // the Authorization bearer token it carried
}

// files are the fake's shared files and their downloads.
type files struct {
	mu    sync.Mutex // guards byID, gets and n
	byID  map[string]File
	gets  []Download
	n     int
	fails map[string]int // file id -> downloads still to fail with 500
}

// ShareFile makes f downloadable, as a person uploading it would, and
// returns the file object a message event carries (url_private on this
// server, which checks the bot token as Slack does).
func (s *Server) ShareFile(f File) map[string]any {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	if s.files.byID == nil {
		s.files.byID, s.files.fails = map[string]File{}, map[string]int{}
	}
	s.files.n++
	id := "F" + strconv.Itoa(s.files.n)
	s.files.byID[id] = f
	size := f.Size
	if size == 0 {
		size = int64(len(f.Body))
	}
	return map[string]any{"id": id, "name": f.Name, "title": f.Name, "mimetype": f.Mimetype, "size": size,
		"url_private": s.srv.URL + "/files-pri/T1-" + id + "/" + url.PathEscape(f.Name), "mode": "hosted"}
}

// FailDownloads makes the next k downloads of a file answer 500.
func (s *Server) FailDownloads(file map[string]any, k int) {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	s.files.fails[file["id"].(string)] = k
}

// FileMessage posts a file_share message with files (from ShareFile) in
// a channel ("D…" is a DM) and returns its ts. live false only adds it to
// the history, as posted while berth was not listening.
func (s *Server) FileMessage(channel, user, text string, live bool, files ...map[string]any) string {
	ts := s.NextTS()
	kind := "channel"
	if strings.HasPrefix(channel, "D") {
		kind = "im"
	}
	fs := make([]any, len(files))
	for i, f := range files {
		fs[i] = f
	}
	ev := map[string]any{"type": "message", "subtype": "file_share", "channel": channel, "user": user, "text": text, "ts": ts,
		"channel_type": kind, "files": fs}
	if !live {
		s.mu.Lock()
		s.history[channel] = append(s.history[channel], ev)
		s.mu.Unlock()
		return ts
	}
	s.Event(ev)
	return ts
}

// Downloads returns the file downloads asked for, in order.
func (s *Server) Downloads() []Download {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	return append([]Download(nil), s.files.gets...)
}

// serveFile answers a url_private download. Without a bot token Slack
// answers a file's address with its sign-in page, 200 and HTML; so does
// the fake.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	id, _ := strings.CutPrefix(r.PathValue("id"), "T1-")
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.files.mu.Lock()
	f, ok := s.files.byID[id]
	s.files.gets = append(s.files.gets, Download{FileID: id, Token: tok})
	fail := s.files.fails[id] > 0
	if fail {
		s.files.fails[id]--
	}
	s.files.mu.Unlock()
	switch {
	case !strings.HasPrefix(tok, "xoxb-") || strings.Contains(tok, "invalid"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>Sign in to Slack</body></html>"))
	case !ok:
		http.NotFound(w, r)
	case fail:
		http.Error(w, "try again", http.StatusInternalServerError)
	case f.RedirectTo != "":
		http.Redirect(w, r, f.RedirectTo, http.StatusFound)
	default:
		w.Header().Set("Content-Type", f.Mimetype)
		_, _ = w.Write(f.Body)
	}
}
