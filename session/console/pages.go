package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/logs"
	"github.com/berth-dev/berth/session/census"
)

// page is what the layout shows around a page's own content.
type page struct {
	Title  string
	Nav    string // the menu entry to mark current
	Login  bool   // the login form: no menu
	Open   bool   // no token: the console is open to the local host
	CSRF   string
	Notice string // what the action just done did
	Live   bool   // the script refreshes #live every few seconds
	Data   any
}

// pageNames are the templates, each with the layout.
var pageNames = []string{"login", "overview", "sessions", "session", "logs", "groups", "confirm", "error"}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return census.Age(time.Since(t)) + " ago"
	},
	"age": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return census.Age(time.Since(t))
	},
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"short": func(id string) string {
		if len(id) > 12 {
			return id[:12]
		}
		return id
	},
	"bytes": census.Bytes,
	"pct":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + "%" },
	"dash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
	"plain": terminal.StripControls,
	"num":   func(n int64) string { return strconv.FormatInt(n, 10) },
	"list":  func(v ...string) []string { return v },
}

// render writes the page named name.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if _, ok := r.Context().Value(identityKey{}).(identity); ok {
		p.CSRF = s.csrfToken(r)
		id := r.Context().Value(identityKey{}).(identity)
		p.Open = id.hash == nil
	}
	if p.Notice == "" {
		p.Notice = notices[r.URL.Query().Get("done")]
	}
	var b bytes.Buffer
	if err := s.pages[name].Execute(&b, p); err != nil {
		s.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; see the gateway log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // the client went away: nothing to do
}

// notices are what a page says after an action redirected to it.
var notices = map[string]string{
	"stopped": "The container was stopped. The session's next message starts a new container.",
	"none":    "The session had no running container.",
	"reset":   "The session was reset: its conversation's next message starts a new session.",
}

// fail shows an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), Data: msg})
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Live: true, Data: s.overview(r.Context())})
}

// overviewJSON is the overview for scripts.
func (s *Server) overviewJSON(w http.ResponseWriter, r *http.Request) {
	o := s.overview(r.Context())
	type ctr struct {
		Name, Group, Session string
		Created              time.Time
		CPUPercent           *float64 `json:",omitempty"`
		MemoryBytes          *uint64  `json:",omitempty"`
	}
	out := struct {
		Channels   []channelView
		Groups     []string
		States     map[string]int
		Active     int
		Closed     int
		Containers []ctr
		Cap        int
		Pending    int
		Failed     int
		CountedAt  time.Time
	}{Channels: o.Channels, States: map[string]int{}, Active: o.Active, Closed: o.Closed, Cap: o.Cap,
		Pending: o.Figures.Pending, Failed: o.Figures.Failed, CountedAt: o.Figures.At, Groups: []string{}, Containers: []ctr{}}
	for _, g := range o.Groups {
		out.Groups = append(out.Groups, g.Folder)
	}
	for _, c := range o.States {
		out.States[c.Name] = c.N
	}
	for _, c := range o.Containers {
		j := ctr{Name: c.Name, Group: c.Group, Session: c.Session, Created: c.Created}
		if c.Stats != nil {
			j.CPUPercent, j.MemoryBytes = &c.Stats.CPUPercent, &c.Stats.MemoryBytes
		}
		out.Containers = append(out.Containers, j)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // the client went away: nothing to do
}

func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("page"))
	v, err := s.sessions(r.Context(), sessionFilter{Group: q.Get("group"), Channel: q.Get("channel"), State: q.Get("state"), Page: n})
	if err != nil {
		s.log.Error("console: sessions page", "err", err)
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "sessions", page{Title: "Sessions", Nav: "sessions", Live: true, Data: v})
}

func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.session(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNoSession) {
		s.fail(w, r, http.StatusNotFound, "There is no session "+r.PathValue("id")+".")
		return
	}
	if err != nil {
		s.log.Error("console: session page", "session", r.PathValue("id"), "err", err)
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "session", page{Title: "Session " + v.Row.ID, Nav: "sessions", Live: true, Data: v})
}

func (s *Server) groupsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.groups(r.Context())
	if err != nil {
		s.log.Error("console: groups page", "err", err)
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "groups", page{Title: "Groups", Nav: "groups", Data: v})
}

// logsView is the logs page: its filter, and the lines it starts with.
type logsView struct {
	Group, Session, Channel, Level, Since string
	Stream                                string // the stream's address, with the filter
	Lines                                 []logLine
	Error                                 string
}

// logLine is one log line as a page and its stream show it: plain text,
// controls stripped (any of it may quote an agent).
type logLine struct {
	Time   string `json:"t"`
	Level  string `json:"l"`
	Msg    string `json:"m"`
	Fields string `json:"f,omitempty"`
}

func lineOf(e logs.Entry) logLine {
	if e.Session != "" {
		// A container's line: the runner's own JSON lines read as the
		// gateway's do.
		if inner := logs.ParseGatewayLine([]byte(e.Msg)); inner.Parsed {
			return lineOf(inner)
		}
		return logLine{Time: e.Time.Local().Format("2006-01-02 15:04:05.000"), Level: terminal.StripControls(e.Level), Msg: terminal.StripControls(e.Msg)}
	}
	if !e.Parsed {
		return logLine{Msg: terminal.StripControls(string(e.Raw))}
	}
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		if strings.ContainsAny(f.Val, " \"=") || f.Val == "" {
			b.WriteString(strconv.Quote(f.Val))
		} else {
			b.WriteString(f.Val)
		}
	}
	t := ""
	if !e.Time.IsZero() {
		t = e.Time.Local().Format("2006-01-02 15:04:05.000")
	}
	return logLine{Time: t, Level: terminal.StripControls(e.Level), Msg: terminal.StripControls(e.Msg), Fields: terminal.StripControls(b.String())}
}

// logFilter reads a logs page's filter from its query, as berth logs
// reads its flags.
func logFilter(r *http.Request) (logs.Filter, logsView, error) {
	q := r.URL.Query()
	v := logsView{Group: q.Get("group"), Session: q.Get("session"), Channel: q.Get("channel"), Level: q.Get("level"), Since: q.Get("since")}
	f := logs.Filter{Group: v.Group, Session: v.Session, Channel: v.Channel}
	if v.Level != "" {
		if err := f.Level.UnmarshalText([]byte(v.Level)); err != nil {
			return f, v, fmt.Errorf("level %q: use debug, info, warn or error", v.Level)
		}
		f.HasLevel = true
	}
	if v.Since != "" {
		t, err := logs.ParseSince(v.Since, time.Now())
		if err != nil {
			return f, v, fmt.Errorf("since: %w", err)
		}
		f.Since = t
	}
	// A URL of the console's, not a path under BERTH_HOME.
	v.Stream = fmt.Sprintf("/logs/stream?%s", r.URL.RawQuery)
	return f, v, nil
}

func (s *Server) logsPage(w http.ResponseWriter, r *http.Request) {
	f, v, err := logFilter(r)
	if err != nil {
		v.Error = err.Error()
		v.Stream = ""
	} else {
		src := logs.NewSource(s.cfg.Home.GatewayLog(), "", f)
		src.FromTail(logTail)
		v.Lines = lastLines(src, logBacklog)
		src.Close()
	}
	s.render(w, r, http.StatusOK, "logs", page{Title: "Logs", Nav: "logs", Data: v})
}

// lastLines reads what src holds now and keeps its last n lines.
func lastLines(src *logs.Source, n int) []logLine {
	ring := make([]logs.Entry, n)
	seen := 0
	for e, ok := src.Take(); ok; e, ok = src.Take() {
		ring[seen%n] = e
		seen++
	}
	out := make([]logLine, 0, min(seen, n))
	for i := max(0, seen-n); i < seen; i++ {
		out = append(out, lineOf(ring[i%n]))
	}
	return out
}

// Actions an operator can take on a session.
const (
	actionStop  = "stop"
	actionReset = "reset"
)

// confirmView is the page that asks before an action.
type confirmView struct {
	Action, Session, Question, Button string
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	v := confirmView{Action: action, Session: id}
	switch action {
	case actionStop:
		v.Question, v.Button = "Stop this session's container? What its turn was working on is retried in a new container.", "Stop the container"
	case actionReset:
		v.Question, v.Button = "Reset this session? Its turn is cancelled, what still waits in it fails (its senders are told), "+
			"and its conversation's next message starts a new session. This cannot be undone.", "Reset the session"
	default:
		s.fail(w, r, http.StatusNotFound, "There is no such page.")
		return
	}
	ss, ok := s.readSession(w, r, id)
	if !ok {
		return
	}
	if action == actionReset && ss.Status != data.SessionActive {
		s.fail(w, r, http.StatusConflict, "This session is closed already: its conversation's next message starts a new one.")
		return
	}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Confirm", Nav: "sessions", Data: v})
}

// readSession reads the session id names for a page, and answers the
// request itself when it cannot: 404 when there is none, 500 (and a
// line in the log) when the store failed, which is no reason to tell an
// operator the session does not exist.
func (s *Server) readSession(w http.ResponseWriter, r *http.Request, id string) (data.Session, bool) {
	ss, err := s.cfg.Store.Session(r.Context(), id)
	switch {
	case errors.Is(err, data.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "There is no session "+id+".")
		return ss, false
	case err != nil:
		s.log.Error("console: read session", "session", id, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Reading the session failed; see the gateway log.")
		return ss, false
	}
	return ss, true
}

// act runs an action the confirmation page posted.
func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	id, action := r.PathValue("id"), r.PathValue("action")
	if !s.checkCSRF(r) {
		s.log.Warn("console: action refused: no valid CSRF token", "action", action, "session", id, "remote", r.RemoteAddr)
		s.fail(w, r, http.StatusForbidden, "This form is stale or came from another site: nothing was done. Reload the page and try again.")
		return
	}
	ss, ok := s.readSession(w, r, id)
	if !ok {
		return
	}
	g, err := s.cfg.Store.Group(r.Context(), ss.AgentGroupID) // for the log line only
	if err != nil {
		s.log.Warn("console: read the session's group", "session", ss.ID, "err", err)
	}
	done := ""
	switch action {
	case actionStop:
		stopped, err := container.StopLabelled(r.Context(), s.cfg.Containers, container.SessionLabels(s.cfg.Home.String(), ss.ID), s.cfg.StopGrace)
		for _, c := range stopped {
			s.log.Info("console: container stopped", "session", ss.ID, "group", g.Folder, "container", c.Name, "remote", r.RemoteAddr)
		}
		if err != nil {
			s.log.Error("console: stop container", "session", ss.ID, "group", g.Folder, "err", err)
			s.fail(w, r, http.StatusBadGateway, "Stopping the container failed: "+err.Error())
			return
		}
		done = "stopped"
		if len(stopped) == 0 {
			done = "none"
		}
	case actionReset:
		if ss.Status != data.SessionActive {
			s.fail(w, r, http.StatusConflict, "This session is closed already: nothing was done.")
			return
		}
		h, err := s.cfg.Sessions.ResetSession(r.Context(), ss.ID)
		if err != nil {
			s.log.Error("console: reset session", "session", ss.ID, "group", g.Folder, "err", err)
			s.fail(w, r, http.StatusInternalServerError, "Resetting the session failed: "+err.Error())
			return
		}
		s.log.Info("console: session reset", "session", ss.ID, "group", g.Folder, "cancelled", h.Cancelled, "failed", h.Failed,
			"container_stopped", h.Container, "remote", r.RemoteAddr)
		done = "reset"
	default:
		s.fail(w, r, http.StatusNotFound, "There is no such action.")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/sessions/%s?done=%s", url.PathEscape(ss.ID), done), http.StatusSeeOther)
}
