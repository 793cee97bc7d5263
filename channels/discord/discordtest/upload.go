package discordtest

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"
)

// slowFiles delays the answers to message posts with files.
type slowFiles struct {
	mu   sync.Mutex // guards left and d
	left int
	d    time.Duration
}

// wait waits out a delay due to this post; false if the client went away.
func (sf *slowFiles) wait(r *http.Request) bool {
	sf.mu.Lock()
	d := time.Duration(0)
	if sf.left > 0 {
		sf.left--
		d = sf.d
	}
	sf.mu.Unlock()
	if d == 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

// SlowNextFiles makes the next k message posts with files post the
// message but answer only after d: an upload cut off (by a timeout, or a
// crash of berth) after Discord took it.
func (s *Server) SlowNextFiles(k int, d time.Duration) {
	s.slowFiles.mu.Lock()
	defer s.slowFiles.mu.Unlock()
	s.slowFiles.left, s.slowFiles.d = k, d
}

// SentFile is a file attached to a message berth sent.
type SentFile struct {
	Name  string
	Type  string // the part's Content-Type
	Bytes []byte
}

// readMessage reads a message post's JSON: the body itself, or, for a
// multipart post with files (as discordgo sends them), its payload_json
// part and the files[n] parts.
func readMessage(r *http.Request) ([]byte, []SentFile, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(r.Body)
		return b, nil, err
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var body []byte
	var files []SentFile
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return body, files, nil
		}
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, err
		}
		if p.FormName() == "payload_json" {
			body = b
			continue
		}
		files = append(files, SentFile{Name: p.FileName(), Type: p.Header.Get("Content-Type"), Bytes: b})
	}
}

// attachments is how Discord shows a message's files.
func (s *Server) attachments(files []SentFile) []any {
	out := make([]any, 0, len(files))
	for _, f := range files {
		out = append(out, map[string]any{"id": s.nextID(), "filename": f.Name, "size": len(f.Bytes), "content_type": f.Type})
	}
	return out
}
