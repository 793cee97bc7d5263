package discordtest

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// Attachment is a file a person attaches in the fake Discord.
type Attachment struct {
	Name        string
	ContentType string
	Body        []byte
	// RedirectTo, if set, answers the download with a redirect there.
	RedirectTo string
}

// attachments are the fake's attachments and how often each was fetched.
type attachments struct {
	mu   sync.Mutex // guards byID and gets
	byID map[string]Attachment
	gets map[string]int
}

// Attach makes a downloadable, served from this server as Discord's CDN
// would, and returns the attachment object a message carries (pass it
// in MessageWith's "attachments").
func (s *Server) Attach(a Attachment) map[string]any {
	id := s.nextID()
	s.files.mu.Lock()
	if s.files.byID == nil {
		s.files.byID, s.files.gets = map[string]Attachment{}, map[string]int{}
	}
	s.files.byID[id] = a
	s.files.mu.Unlock()
	return map[string]any{"id": id, "filename": a.Name, "content_type": a.ContentType, "size": len(a.Body),
		"url": s.srv.URL + "/attachments/1/" + id + "/" + url.PathEscape(a.Name), "proxy_url": s.srv.URL + "/attachments/1/" + id + "/" + url.PathEscape(a.Name)}
}

// Fetches reports how often an attachment (from Attach) was downloaded.
func (s *Server) Fetches(att map[string]any) int {
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	return s.files.gets[att["id"].(string)]
}

func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.files.mu.Lock()
	a, ok := s.files.byID[id]
	s.files.gets[id]++
	s.files.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case a.RedirectTo != "":
		http.Redirect(w, r, a.RedirectTo, http.StatusFound)
	default:
		w.Header().Set("Content-Type", a.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
		_, _ = w.Write(a.Body)
	}
}
