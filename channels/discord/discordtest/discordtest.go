// Package discordtest is a TEST-ONLY fake Discord: REST over httptest and
// a gateway WebSocket that the real discordgo client connects to (Hello,
// Identify → READY, Resume → a replay of what was missed then RESUMED,
// or INVALID_SESSION when the session is gone; heartbeat ACKs,
// dispatches). It records what berth sends and can make the gateway
// reconnect, close with a code, drop, go down, go deaf (ACKs, no
// dispatches), or answer 429s, once or per route with Discord's headers.
package discordtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"

	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/berth-dev/berth/channels"
)

// BotID is the fake bot's user id (and application id).
const BotID = "100"

// Sent is one message berth sent.
type Sent struct {
	ID        string
	ChannelID string
	Content   string
	ReplyTo   string // message_reference.message_id
	// AllowedMentions is the allowed_mentions object as sent, nil when
	// absent (then Discord pings whatever the content mentions).
	AllowedMentions *AllowedMentions
	Files           []SentFile // attachments, with their bytes
}

// AllowedMentions is what a message lets Discord ping.
type AllowedMentions struct {
	Parse       []string `json:"parse"` // nil when absent or null
	Users       []string `json:"users"`
	Roles       []string `json:"roles"`
	RepliedUser bool     `json:"replied_user"`
}

type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d,omitempty"`
	S  int64           `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

// Server is a fake Discord.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex // guards the fields below up to ids
	sent      []Sent
	responses []Sent // interaction responses; ID is the interaction's
	typing    []string
	reactions []string                    // "add 👀 <message id>", "remove 👀 <message id>", in order
	messages  map[string][]map[string]any // channel -> messages (user and bot)
	threads   map[string]string           // thread id -> parent
	roles     []string                    // the bot's roles
	log       []frame                     // dispatched events, for resume replay
	conns     map[*websocket.Conn]*conn
	down      bool              // the gateway refuses connections; dispatches are lost
	lost      bool              // the session is gone: the next Resume gets INVALID_SESSION
	session   int               // numbers session ids: a re-identify gets a new one
	loseNext  int               // dispatches to lose on a live connection
	guilds    map[string]string // thread id -> guild
	route     routeLimit        // ratelimit.go
	rateLeft  int
	rateAfter float64
	closeNext int       // close code for the next Identify
	slowFiles slowFiles // upload.go

	dropped      int // dispatches lost (down, deaf)
	historyReads int // GET /channels/{id}/messages
	channelReads int // GET /channels/{id}

	ids         atomic.Int64
	seq         atomic.Int64
	identifies  atomic.Int64
	resumes     atomic.Int64
	invalid     atomic.Int64 // INVALID_SESSION answers
	connections atomic.Int64 // gateway WebSocket connections accepted
	notify      chan struct{}
	files       attachments // attachments and their downloads; guarded inside
}

type conn struct {
	mu   sync.Mutex // guards writes to c
	c    *websocket.Conn
	deaf atomic.Bool // heartbeats are ACKed, nothing is dispatched
	// ready is set once READY or RESUMED was sent: Discord dispatches
	// nothing to a connection before, so neither does the fake.
	ready atomic.Bool
}

func (c *conn) send(f frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return c.c.WriteJSON(f)
}

// New starts a fake Discord, stopped when the test ends.
func New(t testing.TB) *Server {
	s := &Server{messages: map[string][]map[string]any{}, threads: map[string]string{}, guilds: map[string]string{},
		conns: map[*websocket.Conn]*conn{}, notify: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v9/gateway", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"url": "ws://" + r.Host + "/gw"})
	})
	mux.HandleFunc("GET /api/v9/users/@me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bot invalid" {
			reply(w, 401, map[string]any{"message": "401: Unauthorized", "code": 0})
			return
		}
		reply(w, 200, user(BotID, "berth", true))
	})
	mux.HandleFunc("GET /api/v9/oauth2/applications/@me", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"id": BotID, "name": "berth"})
	})
	mux.HandleFunc("POST /api/v9/channels/{cid}/messages", s.postMessage)
	mux.HandleFunc("GET /attachments/{cid}/{id}/{name}", s.serveAttachment)
	mux.HandleFunc("GET /api/v9/channels/{cid}/messages", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		after := q.Get("after")
		limit, err := strconv.Atoi(q.Get("limit"))
		if q.Get("limit") == "" {
			limit = 50 // Discord's default
		} else if err != nil || limit < 1 || limit > 100 {
			reply(w, 400, map[string]any{"message": "Invalid Form Body: limit", "code": 50035})
			return
		}
		s.mu.Lock()
		s.historyReads++
		var out []map[string]any
		for _, m := range s.messages[r.PathValue("cid")] {
			if after == "" || channels.CompareIDs(after, m["id"].(string)) < 0 {
				out = append(out, m)
			}
		}
		s.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return channels.CompareIDs(out[i]["id"].(string), out[j]["id"].(string)) < 0 }) // oldest first
		// As Discord does: with after, the limit oldest after it; without,
		// the limit newest. Either way newest first.
		if len(out) > limit {
			if after != "" {
				out = out[:limit]
			} else {
				out = out[len(out)-limit:]
			}
		}
		slices.Reverse(out)
		reply(w, 200, out)
	})
	mux.HandleFunc("GET /api/v9/guilds/{gid}/threads/active", func(w http.ResponseWriter, r *http.Request) {
		gid := r.PathValue("gid")
		s.mu.Lock()
		threads := []any{}
		for id, parent := range s.threads {
			if s.guilds[id] == gid {
				threads = append(threads, s.channelObject(id, parent, gid))
			}
		}
		s.mu.Unlock()
		reply(w, 200, map[string]any{"threads": threads, "members": []any{}, "has_more": false})
	})
	mux.HandleFunc("POST /api/v9/channels/{cid}/typing", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.typing = append(s.typing, r.PathValue("cid"))
		s.mu.Unlock()
		w.WriteHeader(204)
	})
	for method, verb := range map[string]string{"PUT": "add", "DELETE": "remove"} {
		mux.HandleFunc(method+" /api/v9/channels/{cid}/messages/{mid}/reactions/{emoji}/{user}", func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("user") != "@me" {
				reply(w, 403, map[string]any{"message": "Missing Permissions", "code": 50013})
				return
			}
			s.mu.Lock()
			s.reactions = append(s.reactions, verb+" "+r.PathValue("emoji")+" "+r.PathValue("mid"))
			s.mu.Unlock()
			w.WriteHeader(204)
		})
	}
	mux.HandleFunc("GET /api/v9/channels/{cid}", func(w http.ResponseWriter, r *http.Request) {
		cid := r.PathValue("cid")
		s.mu.Lock()
		s.channelReads++
		guild := s.guilds[cid]
		if guild == "" {
			guild = "G1"
		}
		o := s.channelObject(cid, s.threads[cid], guild)
		s.mu.Unlock()
		reply(w, 200, o)
	})
	mux.HandleFunc("GET /api/v9/guilds/{gid}/members/{uid}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		roles := append([]string{}, s.roles...)
		s.mu.Unlock()
		reply(w, 200, map[string]any{"user": user(r.PathValue("uid"), "berth", true), "roles": roles})
	})
	mux.HandleFunc("POST /api/v9/applications/{app}/commands", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 201, map[string]any{"id": "cmd1", "name": "berth"})
	})
	mux.HandleFunc("POST /api/v9/interactions/{id}/{token}/callback", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Data struct {
				Content         string           `json:"content"`
				AllowedMentions *AllowedMentions `json:"allowed_mentions"`
			} `json:"data"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		s.mu.Lock()
		s.responses = append(s.responses, Sent{ID: r.PathValue("id"), Content: in.Data.Content, AllowedMentions: in.Data.AllowedMentions})
		s.mu.Unlock()
		w.WriteHeader(204)
	})
	up := websocket.Upgrader{}
	gw := func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "gateway down (test)", http.StatusServiceUnavailable)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.connections.Add(1)
		s.gateway(c)
	}
	mux.HandleFunc("/gw/", gw)
	mux.HandleFunc("/gw", gw)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(func() { s.DropSocket(); s.srv.Close() })
	return s
}

// APIURL is the REST base to give berth (DISCORD_API_URL).
func (s *Server) APIURL() string { return s.srv.URL }

func (s *Server) gateway(c *websocket.Conn) {
	cn := &conn{c: c}
	s.mu.Lock()
	s.conns[c] = cn
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	cn.send(frame{Op: 10, D: json.RawMessage(`{"heartbeat_interval":1000}`)})
	for {
		var in frame
		if c.ReadJSON(&in) != nil {
			return
		}
		switch in.Op {
		case 1:
			cn.send(frame{Op: 11})
		case 2:
			s.identifies.Add(1)
			s.mu.Lock()
			code := s.closeNext
			s.closeNext = 0
			s.mu.Unlock()
			if code != 0 {
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "closed by test"), time.Now().Add(time.Second))
				return
			}
			s.mu.Lock()
			s.session++
			s.lost = false
			sid := "sess-" + strconv.Itoa(s.session)
			s.mu.Unlock()
			ready, _ := json.Marshal(map[string]any{"v": 9, "session_id": sid, "user": user(BotID, "berth", true),
				"guilds": []any{}, "private_channels": []any{}, "application": map[string]any{"id": BotID, "flags": 0}})
			cn.send(frame{Op: 0, T: "READY", S: s.seq.Add(1), D: ready})
			cn.ready.Store(true)
		case 6:
			s.resumes.Add(1)
			var r struct {
				Seq int64 `json:"seq"`
			}
			json.Unmarshal(in.D, &r)
			s.mu.Lock()
			lost := s.lost
			s.mu.Unlock()
			if lost {
				// The session cannot be resumed: the client must identify.
				s.invalid.Add(1)
				cn.send(frame{Op: 9, D: json.RawMessage(`false`)})
				continue
			}
			// Discord replays what the client missed since its sequence,
			// then says RESUMED: what follows is new.
			s.mu.Lock()
			var missed []frame
			for _, f := range s.log {
				if f.S > r.Seq {
					missed = append(missed, f)
				}
			}
			s.mu.Unlock()
			for _, f := range missed {
				cn.send(f)
			}
			cn.send(frame{Op: 0, T: "RESUMED", S: s.seq.Add(1), D: json.RawMessage(`{}`)})
			cn.ready.Store(true)
		}
	}
}

// Dispatch sends an event to every connected client that is ready
// (READY or RESUMED sent; waiting briefly for one), and keeps it for
// resume replay. While the gateway is down, or to
// a deaf connection, the event is lost as Discord loses it: it takes a
// sequence number (the client sees the gap) and is never replayed.
func (s *Server) Dispatch(t string, d any) {
	b, _ := json.Marshal(d)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n, down := 0, s.down
		for _, c := range s.conns {
			if c.ready.Load() {
				n++
			}
		}
		s.mu.Unlock()
		if n > 0 || down || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	f := frame{Op: 0, T: t, S: s.seq.Add(1), D: b}
	lost := s.down || s.loseNext > 0
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		if c.deaf.Load() {
			lost = true
			continue
		}
		if c.ready.Load() {
			conns = append(conns, c)
		}
	}
	if s.down || s.loseNext > 0 {
		conns = nil // lost on the way to every connection
	}
	if s.loseNext > 0 {
		s.loseNext--
	}
	if lost {
		s.dropped++
	} else {
		s.log = append(s.log, f)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.send(f)
	}
}

// nextID is a snowflake of now, as Discord's are (milliseconds since
// 2015 above bit 22), each larger than the last: a time turned into an
// id (berth's catch-up window) orders with them.
func (s *Server) nextID() string {
	at := (time.Now().UnixMilli() - 1420070400000) << 22
	for {
		prev := s.ids.Load()
		id := max(prev+1, at)
		if s.ids.CompareAndSwap(prev, id) {
			return strconv.FormatInt(id, 10)
		}
	}
}

// message builds a MESSAGE_CREATE payload and records it in history.
func (s *Server) message(channel, guild, author, text string, extra map[string]any) string {
	id := s.nextID()
	m := map[string]any{"id": id, "channel_id": channel, "author": user(author, "user"+author, false), "content": text,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "type": 0, "mentions": []any{}, "mention_roles": []any{},
		"attachments": []any{}, "embeds": []any{}}
	if guild != "" {
		m["guild_id"] = guild
	}
	for k, v := range extra {
		m[k] = v
	}
	s.mu.Lock()
	s.messages[channel] = append(s.messages[channel], m)
	s.mu.Unlock()
	s.Dispatch("MESSAGE_CREATE", m)
	return id
}

// Mention posts "<@bot> text" in a guild channel and returns its id.
func (s *Server) Mention(channel, guild, author, text string) string {
	return s.message(channel, guild, author, "<@"+BotID+"> "+text, map[string]any{"mentions": []any{user(BotID, "berth", true)}})
}

// Message posts text without a mention.
func (s *Server) Message(channel, guild, author, text string) string {
	return s.message(channel, guild, author, text, nil)
}

// MessageWith posts a message with extra fields (mention_roles,
// referenced_message, attachments…).
func (s *Server) MessageWith(channel, guild, author, text string, extra map[string]any) string {
	return s.message(channel, guild, author, text, extra)
}

// DM posts a direct message.
func (s *Server) DM(channel, author, text string) string {
	return s.message(channel, "", author, text, nil)
}

// ThreadCreate announces a thread under parent.
func (s *Server) ThreadCreate(threadID, parentID, guildID string) {
	s.mu.Lock()
	s.threads[threadID] = parentID
	s.guilds[threadID] = guildID
	s.mu.Unlock()
	s.Dispatch("THREAD_CREATE", map[string]any{"id": threadID, "type": 11, "parent_id": parentID, "guild_id": guildID, "name": "t"})
}

// SetBotRoles sets the roles the bot has.
func (s *Server) SetBotRoles(roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles = roles
}

// Reconnect sends op 7: the client must reconnect and resume.
func (s *Server) Reconnect() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.send(frame{Op: 7})
	}
}

// CloseNextIdentify makes the next Identify end with the close code (4014, 4004).
func (s *Server) CloseNextIdentify(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeNext = code
}

// DropSocket closes every gateway connection without a word.
func (s *Server) DropSocket() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// RateLimitNext makes the next k message posts answer 429 with retry_after seconds.
func (s *Server) RateLimitNext(k int, retryAfter float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLeft, s.rateAfter = k, retryAfter
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	b, files, err := readMessage(r)
	if err != nil {
		reply(w, 400, map[string]any{"message": "bad body: " + err.Error(), "code": 50109})
		return
	}
	if !s.route.admit(w, r.PathValue("cid")) {
		return
	}
	s.mu.Lock()
	if s.rateLeft > 0 {
		s.rateLeft--
		after := s.rateAfter
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.FormatFloat(after, 'f', -1, 64))
		reply(w, 429, map[string]any{"message": "You are being rate limited.", "retry_after": after, "global": false})
		return
	}
	s.mu.Unlock()
	var in struct {
		Content string `json:"content"`
		Ref     *struct {
			MessageID string `json:"message_id"`
		} `json:"message_reference"`
		AllowedMentions *AllowedMentions `json:"allowed_mentions"`
	}
	json.Unmarshal(b, &in)
	cid := r.PathValue("cid")
	sent := Sent{ID: s.nextID(), ChannelID: cid, Content: in.Content, AllowedMentions: in.AllowedMentions, Files: files}
	if in.Ref != nil {
		sent.ReplyTo = in.Ref.MessageID
	}
	m := map[string]any{"id": sent.ID, "channel_id": cid, "content": in.Content, "author": user(BotID, "berth", true),
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "type": 0, "attachments": s.attachments(files)}
	s.mu.Lock()
	s.sent = append(s.sent, sent)
	s.messages[cid] = append(s.messages[cid], m)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if len(files) > 0 && !s.slowFiles.wait(r) {
		return // the client gave up (a timeout, a crash): the message stays posted
	}
	reply(w, 200, m)
}

// Responses returns every interaction response berth sent, in order.
func (s *Server) Responses() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.responses...)
}

// Sent returns every message berth sent, in order.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// WaitSent waits until n messages were sent.
func (s *Server) WaitSent(t testing.TB, n int, timeout time.Duration) []Sent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.Sent(); len(got) >= n {
			return got
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("discord: %d messages sent after %v, want %d", len(s.Sent()), timeout, n)
		}
	}
}

// Typing returns the channels typing was shown in, in order.
func (s *Server) Typing() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.typing...)
}

// Reactions returns the bot's reactions added and removed, in order, as
// "add 👀 <message id>".
func (s *Server) Reactions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reactions...)
}

// Identifies counts Identify frames; Resumes counts Resume frames.
func (s *Server) Identifies() int { return int(s.identifies.Load()) }

// Resumes counts Resume frames.
func (s *Server) Resumes() int { return int(s.resumes.Load()) }

func user(id, name string, bot bool) map[string]any {
	return map[string]any{"id": id, "username": name, "discriminator": "0", "bot": bot}
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// channelObject is the channel as GET /channels/{id} shows it, with the
// newest message's id as last_message_id. s.mu is held.
func (s *Server) channelObject(id, parent, guild string) map[string]any {
	o := map[string]any{"id": id, "type": 0, "guild_id": guild}
	if parent != "" {
		o["type"], o["parent_id"] = 11, parent
		o["thread_metadata"] = map[string]any{"archived": false, "auto_archive_duration": 1440}
	}
	last := ""
	for _, m := range s.messages[id] {
		if mid := m["id"].(string); channels.CompareIDs(mid, last) > 0 {
			last = mid
		}
	}
	if last != "" {
		o["last_message_id"] = last
	}
	return o
}

// ThreadQuiet makes a thread under parent exist without telling the
// gateway (one created while berth was away): it is listed among the
// guild's active threads.
func (s *Server) ThreadQuiet(threadID, parentID, guildID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.threads[threadID] = parentID
	s.guilds[threadID] = guildID
}

// GoDown closes every gateway connection and refuses new ones until
// ComeUp; what is posted meanwhile is kept in history but never
// dispatched. The session is lost: the client's Resume, once the gateway
// is back, is answered INVALID_SESSION, and it must identify again.
func (s *Server) GoDown() {
	s.mu.Lock()
	s.down, s.lost = true, true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// ComeUp lets the gateway accept connections again.
func (s *Server) ComeUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
}

// ReconnectNoResume sends op 7 with the session lost: the client
// reconnects, its Resume is answered INVALID_SESSION, and it identifies.
func (s *Server) ReconnectNoResume() {
	s.mu.Lock()
	s.lost = true
	s.mu.Unlock()
	s.Reconnect()
}

// Deafen makes every open gateway connection deaf: it stays open and its
// heartbeats are ACKed, but nothing is dispatched to it, and what it
// misses is never replayed. A new connection hears again.
func (s *Server) Deafen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.deaf.Store(true)
	}
}

// Connections counts the gateway connections accepted; Open counts those
// open now.
func (s *Server) Connections() int { return int(s.connections.Load()) }

// Open counts the gateway connections open now.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// InvalidSessions counts the Resumes answered INVALID_SESSION.
func (s *Server) InvalidSessions() int { return int(s.invalid.Load()) }

// Lost counts the dispatches lost to a down gateway or a deaf connection.
func (s *Server) Lost() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// HistoryReads counts GET /channels/{id}/messages calls; ChannelReads
// counts GET /channels/{id}.
func (s *Server) HistoryReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.historyReads
}

// ChannelReads counts GET /channels/{id} calls.
func (s *Server) ChannelReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channelReads
}

// LoseNext makes the next k dispatches lost on the way (the connection
// stays up): the client sees a gap in the sequence numbers.
func (s *Server) LoseNext(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseNext = k
}
