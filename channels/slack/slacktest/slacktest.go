// Package slacktest is a TEST-ONLY fake Slack: the Web API over httptest
// and a Socket Mode WebSocket that the real slack-go client connects to.
// It records what berth posts and lets a test inject events, redeliver
// them, drop or refresh the socket, keep berth off it, stop pinging, make
// a socket deaf and answer 429s. Like Slack, it keeps thread replies out
// of conversations.history (the parent shows reply_count and
// latest_reply) and serves them from conversations.replies, and it
// allows one chat.postMessage a second per channel, answering 429 with
// Retry-After beyond that.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BotUserID is the fake bot's user id.
const BotUserID = "UBOT"

// Post is one message berth posted.
type Post struct {
	Channel  string
	ThreadTS string
	Text     string
	Blocks   string
	Key      string // metadata key, if any
	TS       string
	// Parse and LinkNames are the parse and link_names options as sent
	// ("" when absent): they decide whether plain "@channel" is linked.
	Parse     string
	LinkNames string
}

// Server is a fake Slack.
type Server struct {
	srv *httptest.Server
	t   testing.TB

	mu        sync.Mutex
	posts     []Post
	reactions []string // "add eyes 1700.1" …
	statuses  []string // assistant status lines asked for: "C1 1700.1 is thinking…"
	assistant bool     // assistant.threads.setStatus is allowed
	history   map[string][]map[string]any
	acks      []string
	envelopes map[string][]byte // event id -> envelope, for redelivery
	conns     map[*websocket.Conn]chan []byte
	deaf      map[*websocket.Conn]bool // sockets that get pings but no events
	offline   bool                     // apps.connections.open refuses: berth cannot connect
	lastPost  map[string]time.Time     // per channel, the last chat.postMessage accepted
	postEvery time.Duration            // the least time between two posts to a channel; 0: no limit
	throttled int                      // chat.postMessage calls answered 429 by the per-channel limit
	calls     map[string]int           // Web API methods called, by name
	rateLeft  int
	rateAfter int
	failNext  int
	slowLeft  int
	slowFor   time.Duration
	pinging   atomic.Bool
	seq       atomic.Int64
	live      atomic.Int64
	opens     atomic.Int64
	notify    chan struct{}

	// dmu guards delivered. It is not mu: a socket's writer takes it
	// while Inject holds mu and waits for room in that writer's queue.
	dmu       sync.Mutex
	delivered []string // envelope ids of the frames written to a socket, one per delivery
	files     files    // shared files and their downloads; guarded inside
	up        uploads  // the external upload flow (upload.go)
}

// New starts a fake Slack, stopped when the test ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, history: map[string][]map[string]any{}, envelopes: map[string][]byte{},
		conns: map[*websocket.Conn]chan []byte{}, deaf: map[*websocket.Conn]bool{}, lastPost: map[string]time.Time{},
		calls: map[string]int{}, postEvery: time.Second, notify: make(chan struct{}, 1)}
	s.pinging.Store(true)
	s.seq.Store(time.Now().UnixMicro())
	mux := http.NewServeMux()
	mux.HandleFunc("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		offline := s.offline
		s.mu.Unlock()
		if offline {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.opens.Add(1)
		reply(w, map[string]any{"ok": true, "url": "ws://" + r.Host + "/link/?ticket=t"})
	})
	mux.HandleFunc("/auth.test", func(w http.ResponseWriter, r *http.Request) {
		form := readForm(r)
		if tok := bearer(r, form); strings.Contains(tok, "invalid") {
			reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		reply(w, map[string]any{"ok": true, "user_id": BotUserID, "bot_id": "BBOT", "team_id": "T1", "user": "berth"})
	})
	mux.HandleFunc("/users.info", func(w http.ResponseWriter, r *http.Request) {
		id := readForm(r).Get("user")
		reply(w, map[string]any{"ok": true, "user": map[string]any{"id": id, "name": strings.ToLower(id),
			"real_name": "Real " + id, "profile": map[string]any{"display_name": "Name" + id}}})
	})
	mux.HandleFunc("/chat.postMessage", s.postMessage)
	mux.HandleFunc("GET /files-pri/{id}/{name}", s.serveFile)
	s.serveUploads(mux)
	for _, m := range []string{"/reactions.add", "/reactions.remove"} {
		mux.HandleFunc(m, func(w http.ResponseWriter, r *http.Request) {
			f := readForm(r)
			s.mu.Lock()
			s.reactions = append(s.reactions, strings.TrimPrefix(r.URL.Path, "/reactions.")+" "+f.Get("name")+" "+f.Get("timestamp"))
			s.mu.Unlock()
			reply(w, map[string]any{"ok": true})
		})
	}
	mux.HandleFunc("/assistant.threads.setStatus", func(w http.ResponseWriter, r *http.Request) {
		f := readForm(r)
		s.mu.Lock()
		allowed := s.assistant
		s.statuses = append(s.statuses, f.Get("channel_id")+" "+f.Get("thread_ts")+" "+f.Get("status"))
		s.mu.Unlock()
		if !allowed {
			reply(w, map[string]any{"ok": false, "error": "missing_scope"})
			return
		}
		reply(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("/conversations.history", func(w http.ResponseWriter, r *http.Request) {
		f := readForm(r)
		msgs := s.historyAfter(f.Get("channel"), f.Get("oldest"), "")
		if n, err := strconv.Atoi(f.Get("limit")); err == nil && n > 0 && len(msgs) > n {
			msgs = msgs[:n] // the newest n
		}
		reply(w, map[string]any{"ok": true, "messages": msgs, "has_more": false})
	})
	mux.HandleFunc("/conversations.replies", func(w http.ResponseWriter, r *http.Request) {
		f := readForm(r)
		reply(w, map[string]any{"ok": true, "messages": s.historyAfter(f.Get("channel"), f.Get("oldest"), f.Get("ts")), "has_more": false})
	})
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux.HandleFunc("/link/", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.socket(c)
	})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := strings.TrimPrefix(r.URL.Path, "/"); !strings.Contains(m, "/") {
			s.mu.Lock()
			s.calls[m]++
			s.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and its sockets.
func (s *Server) Close() {
	s.DropSocket()
	s.srv.Close()
}

// URL is the Web API base, with its trailing slash.
func (s *Server) URL() string { return s.srv.URL + "/" }

func (s *Server) socket(c *websocket.Conn) {
	out := make(chan []byte, 64)
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		delete(s.deaf, c)
		s.mu.Unlock()
		s.live.Add(-1)
		c.Close()
	}()
	var wmu sync.Mutex
	write := func(mt int, b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if mt == websocket.PingMessage {
			return c.WriteControl(mt, b, time.Now().Add(time.Second))
		}
		return c.WriteMessage(mt, b)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				if s.pinging.Load() {
					write(websocket.PingMessage, []byte("p"))
				}
			case b := <-out:
				if write(websocket.TextMessage, b) != nil {
					return
				}
				var e struct {
					EnvelopeID string `json:"envelope_id"`
				}
				if json.Unmarshal(b, &e) == nil && e.EnvelopeID != "" {
					s.dmu.Lock()
					s.delivered = append(s.delivered, e.EnvelopeID)
					s.dmu.Unlock()
				}
			}
		}
	}()
	// Like Slack, retry what no client acknowledged. The socket goes live
	// in the same step, so an event injected meanwhile is sent once: by
	// the replay or by Inject, never by both. The hello is written in that
	// step too: a client that has seen it is connected, and a Deafen or
	// an event after that must find its socket (written before the step,
	// a Deafen in between missed the socket it meant).
	s.mu.Lock()
	write(websocket.TextMessage, []byte(`{"type":"hello","num_connections":1,"connection_info":{"app_id":"A1"},"debug_info":{"host":"fake"}}`))
	for _, env := range s.unackedLocked() {
		out <- env
	}
	s.conns[c] = out
	s.live.Add(1)
	s.mu.Unlock()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var a struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(msg, &a) == nil && a.EnvelopeID != "" {
			s.mu.Lock()
			s.acks = append(s.acks, a.EnvelopeID)
			s.mu.Unlock()
		}
	}
}

// Inject sends a raw Socket Mode frame to every connected client.
func (s *Server) Inject(frame []byte) {
	s.waitLive()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.injectLocked(frame)
}

// waitLive waits a while for a client to connect.
func (s *Server) waitLive() {
	deadline := time.Now().Add(10 * time.Second)
	for s.live.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// injectLocked sends frame to every connected client but the deaf; s.mu
// is held.
func (s *Server) injectLocked(frame []byte) {
	for c, out := range s.conns {
		if !s.deaf[c] {
			out <- frame
		}
	}
}

// hearingLocked counts the sockets events reach; s.mu is held.
func (s *Server) hearingLocked() int { return len(s.conns) - len(s.deaf) }

// NextTS returns a fresh, increasing Slack timestamp: the time now (as
// Slack's are, which the deaf watchdog relies on), or just after the last.
func (s *Server) NextTS() string {
	for {
		cur := s.seq.Load()
		n := max(cur+100, time.Now().UnixMicro())
		if s.seq.CompareAndSwap(cur, n) {
			return fmt.Sprintf("%d.%06d", n/1_000_000, n%1_000_000)
		}
	}
}

// Event injects an events_api envelope around ev and returns its event id.
// The message is also added to the channel's history.
func (s *Server) Event(ev map[string]any) string {
	id := "Ev" + strconv.FormatInt(s.seq.Add(1), 36)
	cb, _ := json.Marshal(map[string]any{"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": id,
		"event_time": time.Now().Unix(), "event": ev})
	env, _ := json.Marshal(map[string]any{"type": "events_api", "envelope_id": "env-" + id, "accepts_response_payload": false,
		"payload": json.RawMessage(cb)})
	s.waitLive()
	// Stored and sent in one step, so a socket connecting meanwhile does
	// not also replay it as unacknowledged.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.envelopes[id] = env
	if ch, _ := ev["channel"].(string); ch != "" && ev["type"] == "message" {
		s.history[ch] = append(s.history[ch], ev)
	}
	s.injectLocked(env)
	return id
}

// Mention posts "<@UBOT> text" in a channel, as both app_mention and
// message events (as Slack does), and returns the message ts.
func (s *Server) Mention(channel, user, text string) string {
	return s.Message(channel, "", user, "<@"+BotUserID+"> "+text, true)
}

// ThreadReply posts text in a thread; mention adds the bot mention.
func (s *Server) ThreadReply(channel, threadTS, user, text string, mention bool) string {
	if mention {
		text = "<@" + BotUserID + "> " + text
	}
	return s.Message(channel, threadTS, user, text, mention)
}

// Message posts a message (and its app_mention when mention is set).
func (s *Server) Message(channel, threadTS, user, text string, mention bool) string {
	ts := s.NextTS()
	ev := map[string]any{"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "channel_type": "channel"}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	if mention {
		m := map[string]any{"type": "app_mention", "channel": channel, "user": user, "text": text, "ts": ts}
		if threadTS != "" {
			m["thread_ts"] = threadTS
		}
		s.Event(m)
	}
	s.Event(ev)
	return ts
}

// DM posts a direct message and returns its ts.
func (s *Server) DM(channel, user, text string) string {
	ts := s.NextTS()
	s.Event(map[string]any{"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "channel_type": "im"})
	return ts
}

// Offline adds a message to history without delivering it (posted while
// berth was not listening).
func (s *Server) Offline(channel, user, text string) string {
	ts := s.NextTS()
	s.mu.Lock()
	s.history[channel] = append(s.history[channel], map[string]any{"type": "message", "channel": channel, "user": user, "text": text, "ts": ts})
	s.mu.Unlock()
	return ts
}

// Redeliver sends an event's envelope again, with retry_attempt set.
func (s *Server) Redeliver(eventID string) {
	s.mu.Lock()
	env := s.envelopes[eventID]
	s.mu.Unlock()
	var m map[string]any
	json.Unmarshal(env, &m)
	m["retry_attempt"], m["retry_reason"] = 1, "timeout"
	b, _ := json.Marshal(m)
	s.Inject(b)
}

// unackedLocked returns the envelopes no client acknowledged, marked as
// retries; s.mu is held.
func (s *Server) unackedLocked() [][]byte {
	acked := map[string]bool{}
	for _, a := range s.acks {
		acked[a] = true
	}
	var out [][]byte
	for id, env := range s.envelopes {
		if acked["env-"+id] {
			continue
		}
		var m map[string]any
		json.Unmarshal(env, &m)
		m["retry_attempt"], m["retry_reason"] = 1, "connection_lost"
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	return out
}

// Post posts a message in a channel as a person would: into the history,
// and as an event to the connected client if there is one (none while
// berth is down: it must catch up from history).
func (s *Server) Post(channel, user, text string) string {
	return s.PostInThread(channel, "", user, text)
}

// PostInThread is Post in thread threadTS ("" for the channel itself).
// A reply is kept out of the channel's history, as Slack does: only
// conversations.replies serves it, and its parent's reply_count and
// latest_reply tell of it.
func (s *Server) PostInThread(channel, threadTS, user, text string) string {
	ts := s.NextTS()
	ev := map[string]any{"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "channel_type": "channel"}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	s.mu.Lock()
	if s.hearingLocked() == 0 {
		// Nobody is listening, or only deaf sockets: Slack has the
		// message, berth never hears of it.
		s.history[channel] = append(s.history[channel], ev)
		s.mu.Unlock()
		return ts
	}
	s.mu.Unlock()
	s.Event(ev)
	return ts
}

// GoOffline closes every socket and refuses new ones until GoOnline:
// berth is cut off from Socket Mode (the Web API still answers), so what
// is posted meanwhile reaches it only by catching up.
func (s *Server) GoOffline() {
	s.mu.Lock()
	s.offline = true
	s.mu.Unlock()
	s.DropSocket()
	deadline := time.Now().Add(10 * time.Second)
	for s.live.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// GoOnline lets berth connect again.
func (s *Server) GoOnline() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offline = false
}

// Deafen makes every open socket deaf: it stays open and gets pings (so
// the client's ping timeout never fires) but no event; a socket opened
// later hears as usual. Messages posted with Post meanwhile go to history
// only, as events Slack failed to deliver.
func (s *Server) Deafen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		s.deaf[c] = true
	}
}

// DeafSockets counts the open sockets Deafen made deaf.
func (s *Server) DeafSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deaf)
}

// LimitPosts sets the least time between two chat.postMessage calls to
// one channel (Slack's is about a second, the default); 0 lifts the
// limit, for tests of what berth posts rather than how fast.
func (s *Server) LimitPosts(every time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.postEvery = every
}

// Throttled counts the chat.postMessage calls the per-channel limit (one
// a second) answered with 429; RateLimitNext's are not counted.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Calls returns how many times each Web API method was called.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// Disconnect asks clients to reconnect, as Slack does before a refresh.
func (s *Server) Disconnect() {
	s.Inject([]byte(`{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"fake"}}`))
}

// DropSocket closes every socket without a word.
func (s *Server) DropSocket() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// StopPings stops the server's WebSocket pings ("connected but deaf").
func (s *Server) StopPings() { s.pinging.Store(false) }

// LiveSockets counts open Socket Mode connections.
func (s *Server) LiveSockets() int { return int(s.live.Load()) }

// Opens counts apps.connections.open calls.
func (s *Server) Opens() int { return int(s.opens.Load()) }

// RateLimitNext makes the next k chat.postMessage calls answer 429 with Retry-After.
func (s *Server) RateLimitNext(k, retryAfterSeconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLeft, s.rateAfter = k, retryAfterSeconds
}

// SlowNext makes the next k chat.postMessage calls take the post but
// answer only after d: a send that times out although it arrived.
func (s *Server) SlowNext(k int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowLeft, s.slowFor = k, d
}

// FailNext makes the next k chat.postMessage calls fail with a 500.
func (s *Server) FailNext(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = k
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	s.mu.Lock()
	if s.rateLeft > 0 {
		s.rateLeft--
		after := s.rateAfter
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(after))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if s.failNext > 0 {
		s.failNext--
		s.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	// Slack's chat.postMessage allows about one message a second per
	// channel; the fake holds berth to exactly that.
	ch := f.Get("channel")
	if last, ok := s.lastPost[ch]; ok && time.Since(last) < s.postEvery {
		s.throttled++
		s.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.lastPost[ch] = time.Now()
	s.mu.Unlock()
	ts := s.NextTS()
	p := Post{Channel: f.Get("channel"), ThreadTS: f.Get("thread_ts"), Text: f.Get("text"), Blocks: f.Get("blocks"), TS: ts,
		Parse: f.Get("parse"), LinkNames: f.Get("link_names")}
	var md struct {
		EventPayload map[string]any `json:"event_payload"`
	}
	if json.Unmarshal([]byte(f.Get("metadata")), &md) == nil {
		p.Key, _ = md.EventPayload["key"].(string)
	}
	msg := map[string]any{"type": "message", "bot_id": "BBOT", "user": BotUserID, "text": p.Text, "ts": ts}
	if p.ThreadTS != "" {
		msg["thread_ts"] = p.ThreadTS
	}
	if p.Key != "" {
		msg["metadata"] = map[string]any{"event_type": "berth_reply", "event_payload": map[string]any{"key": p.Key}}
	}
	s.mu.Lock()
	s.posts = append(s.posts, p)
	s.history[p.Channel] = append(s.history[p.Channel], msg)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	s.mu.Lock()
	slow := time.Duration(0)
	if s.slowLeft > 0 {
		s.slowLeft--
		slow = s.slowFor
	}
	s.mu.Unlock()
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	reply(w, map[string]any{"ok": true, "channel": p.Channel, "ts": ts})
}

// historyAfter is conversations.history of channel (thread "": top-level
// messages, newest first, each parent with its reply_count and
// latest_reply) or conversations.replies of a thread (the parent first,
// then the replies, oldest first), after oldest.
func (s *Server) historyAfter(channel, oldest, thread string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	replies := map[string]int{}
	latest := map[string]string{}
	for _, m := range s.history[channel] {
		ts, _ := m["ts"].(string)
		if th, _ := m["thread_ts"].(string); th != "" && th != ts {
			replies[th]++
			if ts > latest[th] {
				latest[th] = ts
			}
		}
	}
	var out []map[string]any
	for _, m := range s.history[channel] {
		ts, _ := m["ts"].(string)
		th, _ := m["thread_ts"].(string)
		if thread != "" && ts != thread && th != thread {
			continue
		}
		if thread == "" && th != "" && th != ts {
			continue // history has no thread replies
		}
		if oldest != "" && ts <= oldest && !(thread != "" && ts == thread) {
			continue // replies always starts with the parent
		}
		if n := replies[ts]; n > 0 {
			c := make(map[string]any, len(m)+3)
			for k, v := range m {
				c[k] = v
			}
			c["thread_ts"], c["reply_count"], c["latest_reply"] = ts, n, latest[ts]
			m = c
		}
		out = append(out, m)
	}
	if thread != "" {
		sort.Slice(out, func(i, j int) bool { return out[i]["ts"].(string) < out[j]["ts"].(string) })
	} else {
		sort.Slice(out, func(i, j int) bool { return out[i]["ts"].(string) > out[j]["ts"].(string) }) // newest first
	}
	return out
}

// Posted returns every message berth posted, in order.
func (s *Server) Posted() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// WaitPosted waits until n messages were posted.
func (s *Server) WaitPosted(t testing.TB, n int, timeout time.Duration) []Post {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if p := s.Posted(); len(p) >= n {
			return p
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("slack: %d posts after %v, want %d: %+v", len(s.Posted()), timeout, n, s.Posted())
		}
	}
}

// Delivered returns the envelope ids of the frames written to a client,
// one per delivery (a redelivery or a replay on reconnect adds one).
func (s *Server) Delivered() []string {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return append([]string(nil), s.delivered...)
}

// Acks returns the envelope ids the client acknowledged.
func (s *Server) Acks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acks...)
}

// Reactions returns the reactions added and removed, in order.
func (s *Server) Reactions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reactions...)
}

// AllowAssistantStatus lets the app set assistant status lines (as with
// the assistant:write scope); by default Slack refuses with missing_scope.
func (s *Server) AllowAssistantStatus() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assistant = true
}

// Statuses returns the assistant status lines asked for (set, once
// allowed), in order, each as "channel thread_ts status" ("" clears it).
func (s *Server) Statuses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.statuses...)
}

func readForm(r *http.Request) url.Values {
	b, _ := io.ReadAll(r.Body)
	v, _ := url.ParseQuery(string(b))
	for k, vs := range r.URL.Query() {
		v[k] = vs
	}
	return v
}

func bearer(r *http.Request, f url.Values) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return f.Get("token")
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
