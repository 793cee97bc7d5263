// Package discord is berth's Discord channel: the gateway for events and
// REST for replies, typing and history, through discordgo.
package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/berth-dev/berth/channels"
)

// Type is the channel type of Discord.
const Type = "discord"

// MaxChars is Discord's limit on a bot message's content.
const MaxChars = 2000

// Permissions are exactly what berth needs in a server.
const Permissions = discordgo.PermissionViewChannel | discordgo.PermissionSendMessages | discordgo.PermissionSendMessagesInThreads |
	discordgo.PermissionReadMessageHistory | discordgo.PermissionAddReactions

// Config is what the Discord adapter needs; the caller reads it once.
type Config struct {
	Token      string // DISCORD_BOT_TOKEN
	APIURL     string // DISCORD_API_URL: another REST base (a proxy, a test)
	GatewayURL string // DISCORD_GATEWAY_URL: another gateway
	// DeafAfter is how long a connection may dispatch nothing while a
	// wired channel has newer messages before it is replaced; 0 is
	// DefaultDeafAfter, a negative value turns the watchdog off.
	DeafAfter time.Duration
}

// State is what the adapter knows of its connection.
type State struct {
	Connected      bool
	LastEvent      time.Time // the last dispatch of any kind
	Reconnects     int       // connections after the first
	DeafReconnects int       // connections the deaf watchdog replaced
}

// Adapter is the Discord channel.
type Adapter struct {
	cfg Config
	log *slog.Logger
	s   *discordgo.Session

	mu       sync.Mutex // guards the fields below up to shown
	h        channels.Handler
	ctx      context.Context
	botID    string
	appID    string
	state    State
	ready    chan struct{}
	parents  map[string]string          // channel id -> parent id ("" when not a thread)
	roles    map[string]map[string]bool // guild id -> the bot's roles
	seen     map[string]time.Time
	typing   map[string]context.CancelFunc
	fatal    chan error
	connects int

	// The gateway's catch-up, and what decides when it is asked for.
	onReconnect func(ctx context.Context)
	readies     int               // READY events: more than one is a re-identify
	lastSeq     int64             // the newest dispatch's sequence number
	deafPending bool              // the watchdog replaced the connection: catch up on its first event
	watched     map[string]bool   // channels the deaf watchdog reads: caught up or handed on
	newest      map[string]string // channel or thread id -> the newest message id seen there
	checked     time.Time         // the watchdog's last look at the channels
	deafAfter   time.Duration     // 0: no watchdog

	shown *channels.StatusQueue // each message's reaction, shown in order
}

// The capabilities the gateway looks for, checked at compile time.
var (
	_ channels.Channel    = (*Adapter)(nil)
	_ channels.Progress   = (*Adapter)(nil)
	_ channels.Confirmer  = (*Adapter)(nil)
	_ channels.Backfiller = (*Adapter)(nil)
	_ channels.Health     = (*Adapter)(nil)

	_ channels.Reconnecter      = (*Adapter)(nil)
	_ channels.ThreadBackfiller = (*Adapter)(nil)
)

// New returns an adapter; the token is checked when Run connects.
func New(cfg Config, logger *slog.Logger) (*Adapter, error) {
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("DISCORD_BOT_TOKEN is empty: copy it from the Developer Portal → your application → Bot → Reset Token")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, err := discordgo.New("Bot " + strings.TrimPrefix(cfg.Token, "Bot "))
	if err != nil {
		return nil, errors.New("discord: cannot make a session from DISCORD_BOT_TOKEN")
	}
	rt := &rewriter{next: http.DefaultTransport, gateway: cfg.GatewayURL}
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("DISCORD_API_URL %q is not a URL", cfg.APIURL)
		}
		rt.target = u
	}
	s.Client = &http.Client{Transport: rt, Timeout: 30 * time.Second}
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages | discordgo.IntentsMessageContent
	s.ShouldReconnectOnError = true
	s.ShouldRetryOnRateLimit = true
	s.SyncEvents = true // handlers in arrival order: a conversation's order is kept
	s.LogLevel = -1     // discordgo logs through the standard logger; berth logs itself
	s.StateEnabled = true
	a := &Adapter{cfg: cfg, log: logger.With("channel", Type), s: s, ready: make(chan struct{}),
		parents: map[string]string{}, roles: map[string]map[string]bool{}, seen: map[string]time.Time{},
		typing: map[string]context.CancelFunc{}, fatal: make(chan error, 1),
		watched: map[string]bool{}, newest: map[string]string{}}
	switch {
	case cfg.DeafAfter == 0:
		a.deafAfter = DefaultDeafAfter
	case cfg.DeafAfter > 0:
		a.deafAfter = cfg.DeafAfter
	}
	a.shown = channels.NewStatusQueue(a.show)
	s.AddHandler(a.onReady)
	s.AddHandler(a.onConnect)
	s.AddHandler(a.onDisconnect)
	s.AddHandler(a.onResumed)
	s.AddHandler(a.onEvent) // every dispatch with its sequence; messages are handled there
	s.AddHandler(a.onThread)
	s.AddHandler(a.onInteraction)
	return a, nil
}

// Type implements channels.Channel.
func (a *Adapter) Type() string { return Type }

// State reports the connection's state.
func (a *Adapter) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// Health describes the connection, for berth status and the metrics.
func (a *Adapter) Health() channels.Conn {
	st := a.State()
	c := channels.Conn{Connected: st.Connected, LastEvent: st.LastEvent, Reconnects: st.Reconnects, DeafReconnects: st.DeafReconnects}
	if !st.Connected {
		c.LastError = "discordgo resumes"
	}
	return c
}

// Check makes one cheap authenticated call (GET /users/@me).
func (a *Adapter) Check(ctx context.Context) error {
	if _, err := a.s.User("@me", discordgo.WithContext(ctx)); err != nil {
		return a.authError(err)
	}
	return nil
}

// ApplicationID returns the bot's application id, for the invite URL.
func (a *Adapter) ApplicationID(ctx context.Context) (string, error) {
	app, err := a.s.Application("@me")
	if err != nil {
		return "", a.authError(err)
	}
	return app.ID, nil
}

// InviteURL is the link that adds the bot to a server with exactly the
// permissions berth needs.
func InviteURL(applicationID string) string {
	return fmt.Sprintf("https://discord.com/oauth2/authorize?client_id=%s&scope=bot+applications.commands&permissions=%d",
		url.QueryEscape(applicationID), Permissions)
}

func (a *Adapter) authError(err error) error {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
		return errors.New("Discord refused DISCORD_BOT_TOKEN (401): copy a fresh one from the Developer Portal → your application → Bot → Reset Token")
	}
	return fmt.Errorf("discord: %s", a.scrub(err))
}

// Run connects to the gateway and hands messages to h until ctx is done.
// discordgo resumes after a dropped connection; only a refused token or a
// refused intent end Run.
func (a *Adapter) Run(ctx context.Context, h channels.Handler) error {
	a.mu.Lock()
	a.h, a.ctx = h, ctx
	a.mu.Unlock()
	for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
		err := a.s.Open()
		if err == nil {
			break
		}
		if fatal := fatalClose(err); fatal != nil {
			return fatal
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("gateway unreachable; retrying", "err", a.scrub(err), "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if a.deafAfter > 0 {
			a.watch(wctx)
		}
	}()
	defer func() {
		stop()
		<-watched // it must not open a connection after this Close
		if err := a.s.Close(); err != nil {
			a.log.Debug("close", "err", a.scrub(err))
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.fatal:
		return err
	}
}

// fatalClose turns the close codes that retrying cannot fix into errors
// that say what to do.
func fatalClose(err error) error {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return nil
	}
	switch ce.Code {
	case 4004:
		return errors.New("Discord refused DISCORD_BOT_TOKEN (authentication failed, 4004): copy a fresh one from the Developer Portal → your application → Bot → Reset Token")
	case 4014:
		return errors.New("Discord refused the Message Content intent (4014): in the Developer Portal → your application → Bot → Privileged Gateway Intents, turn on \"Message Content Intent\"")
	case 4013:
		return errors.New("Discord refused berth's gateway intents as invalid (4013)")
	}
	return nil
}

func (a *Adapter) onReady(s *discordgo.Session, r *discordgo.Ready) {
	a.mu.Lock()
	if r.User != nil {
		a.botID = r.User.ID
	}
	if r.Application != nil {
		a.appID = r.Application.ID
	}
	appID := a.appID
	a.state.Connected, a.state.LastEvent = true, time.Now()
	select {
	case <-a.ready:
	default:
		close(a.ready)
	}
	a.mu.Unlock()
	a.log.Info("connected", "bot", a.botID)
	if appID != "" {
		go a.registerCommand(appID)
	}
}

func (a *Adapter) onConnect(s *discordgo.Session, c *discordgo.Connect) {
	a.mu.Lock()
	a.connects++
	if a.connects > 1 {
		a.state.Reconnects++
	}
	a.state.Connected = true
	a.mu.Unlock()
}

func (a *Adapter) onDisconnect(s *discordgo.Session, d *discordgo.Disconnect) {
	a.mu.Lock()
	a.state.Connected = false
	a.mu.Unlock()
	a.log.Warn("disconnected; discordgo resumes")
}

func (a *Adapter) onResumed(s *discordgo.Session, r *discordgo.Resumed) {
	a.mu.Lock()
	a.state.Connected, a.state.LastEvent = true, time.Now()
	a.mu.Unlock()
	a.log.Info("resumed")
}

func (a *Adapter) onThread(s *discordgo.Session, t *discordgo.ThreadCreate) {
	if t.Channel != nil {
		a.mu.Lock()
		a.parents[t.ID] = t.ParentID
		a.mu.Unlock()
	}
}

func (a *Adapter) onMessage(s *discordgo.Session, m *discordgo.MessageCreate) {
	a.mu.Lock()
	h, ctx, botID := a.h, a.ctx, a.botID
	a.mu.Unlock()
	if h == nil || m == nil || m.Message == nil {
		return
	}
	bot := me{UserID: botID, Roles: a.botRoles(ctx, m.GuildID)}
	in, skip := decodeMessage(m.Message, bot)
	if skip != "" {
		a.log.Debug("dropped", "reason", skip, "message", m.ID)
		return
	}
	if !a.firstSight(in.MessageID) { // a resume can replay what was handled
		a.log.Debug("dropped", "reason", "duplicate", "message", in.MessageID)
		return
	}
	if !in.IsDM {
		in.ParentID = a.parent(ctx, in.PlatformID)
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h(hctx, in); err != nil {
		a.log.Warn("message not stored; it is handed again shortly", "err", err, "message", in.MessageID)
		go a.retry(ctx, h, in)
		return
	}
	if in.ParentID == "" { // a thread is watched through its parent
		a.watchChannel(in.PlatformID)
	}
}

// retryDelays are the waits before a message the handler did not accept
// is handed to it again; after the last, the gateway is asked to catch
// up (the message stays in Discord's history).
var retryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// retry hands in to h again until it is accepted or ctx ends.
func (a *Adapter) retry(ctx context.Context, h channels.Handler, in channels.Inbound) {
	var err error
	for _, d := range retryDelays {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = h(hctx, in)
		cancel()
		if err == nil {
			a.log.Info("message stored on a later try", "message", in.MessageID)
			return
		}
	}
	a.forget(in.MessageID)
	a.log.Error("message not stored after retries; asking for a catch-up", "err", err, "message", in.MessageID)
	a.catchUp(reasonNotAccepted)
}

// firstSight records a message id and reports whether it was new.
func (a *Adapter) firstSight(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.seen[id]; ok {
		return false
	}
	if len(a.seen) > 20000 {
		for k, t := range a.seen {
			if time.Since(t) > time.Hour {
				delete(a.seen, k)
			}
		}
	}
	a.seen[id] = time.Now()
	return true
}

func (a *Adapter) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.seen, id)
}

// parent returns the parent channel of a thread, "" for anything else.
func (a *Adapter) parent(ctx context.Context, channelID string) string {
	a.mu.Lock()
	p, ok := a.parents[channelID]
	a.mu.Unlock()
	if ok {
		return p
	}
	if c, err := a.s.State.Channel(channelID); err == nil {
		p = threadParent(c)
	} else if c, err := a.s.Channel(channelID, discordgo.WithContext(ctx)); err == nil {
		p = threadParent(c)
	} else {
		return "" // unknown for now; asked again next time
	}
	a.mu.Lock()
	a.parents[channelID] = p
	a.mu.Unlock()
	return p
}

func threadParent(c *discordgo.Channel) string {
	if c.IsThread() {
		return c.ParentID
	}
	return ""
}

// botRoles returns the roles the bot has in a guild (for role mentions).
func (a *Adapter) botRoles(ctx context.Context, guildID string) map[string]bool {
	if guildID == "" {
		return nil
	}
	a.mu.Lock()
	r, ok := a.roles[guildID]
	botID := a.botID
	a.mu.Unlock()
	if ok {
		return r
	}
	r = map[string]bool{}
	if m, err := a.s.GuildMember(guildID, botID, discordgo.WithContext(ctx)); err == nil {
		for _, id := range m.Roles {
			r[id] = true
		}
	}
	a.mu.Lock()
	a.roles[guildID] = r
	a.mu.Unlock()
	return r
}

func (a *Adapter) registerCommand(appID string) {
	_, err := a.s.ApplicationCommandCreate(appID, "", &discordgo.ApplicationCommand{
		Name: "berth", Description: "Talk to berth itself: help, status, register, …",
		Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString, Name: "command",
			Description: "a berth command, e.g. help", Required: false}},
	})
	if err != nil {
		a.log.Warn("register /berth command", "err", a.scrub(err))
	}
}

func (a *Adapter) onInteraction(s *discordgo.Session, i *discordgo.InteractionCreate) {
	if i.Type != discordgo.InteractionApplicationCommand || i.ApplicationCommandData().Name != "berth" {
		return
	}
	a.mu.Lock()
	h, ctx := a.h, a.ctx
	a.mu.Unlock()
	text := "help"
	for _, o := range i.ApplicationCommandData().Options {
		if o.Name == "command" {
			text = strings.TrimSpace(o.StringValue())
		}
	}
	// The answer quotes what was typed: like every reply, it pings nobody.
	err := s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: "berth: working on `" + truncate(text, 100) + "`…", AllowedMentions: noMentions()}})
	if err != nil {
		a.log.Debug("slash command answer", "err", a.scrub(err))
	}
	u := i.User
	if i.Member != nil && i.Member.User != nil {
		u = i.Member.User
	}
	if u == nil || h == nil {
		return
	}
	in := channels.Inbound{ChannelType: Type, PlatformID: i.ChannelID, MessageID: "interaction-" + i.ID,
		Sender: channels.User{ID: u.ID, Name: displayName(u, i.Member)}, Text: "!" + strings.TrimPrefix(text, "!"),
		Mentioned: true, IsDM: i.GuildID == "", Time: time.Now()}
	if err := h(ctx, in); err != nil {
		a.log.Warn("slash command", "err", err)
	}
}

// Send posts a reply in its channel or thread, split into ordered
// messages of at most MaxChars with code fences balanced; the first
// replies to the message it answers. Mentions never ping.
func (a *Adapter) Send(ctx context.Context, out channels.Outbound) (string, error) {
	limit := MaxChars
	if out.Mention != "" {
		limit -= 32 // room for "<@id> " before the first part
	}
	chunks := channels.Split(out.Text, limit)
	if len(chunks) == 0 {
		chunks = []string{"…"}
	}
	var first string
	for i, c := range chunks {
		msg := &discordgo.MessageSend{Content: c, AllowedMentions: noMentions()}
		if id := out.Mention; i == 0 && id != "" && strings.Trim(id, "0123456789") == "" {
			// berth's own notice pings this one user, and no one else.
			msg.Content = "<@" + id + "> " + c
			msg.AllowedMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}, Users: []string{id}}
		}
		if i == 0 && out.ReplyTo != "" && !strings.Contains(out.ReplyTo, "-") {
			f := false
			msg.Reference = &discordgo.MessageReference{MessageID: out.ReplyTo, ChannelID: out.PlatformID, FailIfNotExists: &f}
		}
		m, err := a.s.ChannelMessageSendComplex(out.PlatformID, msg, discordgo.WithContext(ctx))
		if err != nil {
			e := fmt.Errorf("discord: post part %d of %d to %s: %s", i+1, len(chunks), out.PlatformID, a.scrub(err))
			var re *discordgo.RESTError
			if errors.As(err, &re) && re.Response != nil && permanentStatus(re.Response.StatusCode) {
				return first, fmt.Errorf("%w: %w", e, channels.ErrPermanent)
			}
			return first, e
		}
		if i == 0 {
			first = m.ID
		}
		a.noteNewest(out.PlatformID, m.ID) // berth's own messages are not news to the watchdog
	}
	return first, nil
}

// noMentions lets a message ping nobody: @everyone, @here, roles and
// users in it are shown, not notified (an empty parse list, not a nil one).
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// permanentStatus reports statuses that retrying will not change: a bad
// request, a missing permission, a channel that is gone.
func permanentStatus(code int) bool {
	return code == http.StatusBadRequest || code == http.StatusForbidden || code == http.StatusNotFound
}

// Confirm looks for a reply berth may have posted before a crash: the
// bot's message with the reply's first part, after the message it answers.
func (a *Adapter) Confirm(ctx context.Context, out channels.Outbound) (string, bool, error) {
	after := out.ReplyTo
	if strings.Contains(after, "-") {
		after = ""
	}
	msgs, err := a.s.ChannelMessages(out.PlatformID, 100, "", after, "", discordgo.WithContext(ctx))
	if err != nil {
		return "", false, fmt.Errorf("discord: read messages: %s", a.scrub(err))
	}
	a.mu.Lock()
	botID := a.botID
	a.mu.Unlock()
	chunks := channels.Split(out.Text, MaxChars)
	if len(chunks) == 0 {
		return "", false, nil
	}
	for _, m := range msgs {
		if m.Author != nil && m.Author.ID == botID && m.Content == chunks[0] {
			return m.ID, true, nil
		}
	}
	return "", false, nil
}

// reactions are what a message shows in each state: ⏳ queued, ⚙️
// starting, 👀 working, 🔁 retrying, ❌ failed, ✅ done.
var reactions = map[channels.State]string{
	channels.StateQueued: "\u23f3", channels.StateStarting: "\u2699\ufe0f", channels.StateWorking: "\U0001f440",
	channels.StateRetrying: "\U0001f501", channels.StateFailed: "\u274c", channels.StateDone: "\u2705",
}

// Status implements channels.Progress: the message's reaction follows its
// state, and Discord's typing indicator shows while it is worked on.
// Discord is called in the background.
func (a *Adapter) Status(ctx context.Context, t channels.Target, s channels.Status) {
	if s.State == channels.StateWorking {
		a.typingOn(ctx, t)
	} else {
		a.typingOff(t)
	}
	a.shown.Set(ctx, t, s)
}

// show replaces prev's reaction on the message with next's.
func (a *Adapter) show(ctx context.Context, t channels.Target, prev, next channels.Status) {
	r, old := reactions[next.State], reactions[prev.State]
	if r == old {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The new reaction first, so the message never shows none.
	if err := a.s.MessageReactionAdd(t.PlatformID, t.MessageID, r, discordgo.WithContext(ctx)); err != nil {
		a.log.Debug("reaction", "err", a.scrub(err))
	}
	if old != "" {
		if err := a.s.MessageReactionRemove(t.PlatformID, t.MessageID, old, "@me", discordgo.WithContext(ctx)); err != nil {
			a.log.Debug("reaction", "err", a.scrub(err))
		}
	}
}

// typingOn shows Discord's typing indicator until typingOff, refreshed
// before its ~10 s expiry.
func (a *Adapter) typingOn(ctx context.Context, t channels.Target) {
	key := t.PlatformID + "/" + t.MessageID
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	a.mu.Lock()
	if old := a.typing[key]; old != nil {
		old()
	}
	a.typing[key] = cancel
	a.mu.Unlock()
	go func() {
		defer cancel()
		for {
			if err := a.s.ChannelTyping(t.PlatformID, discordgo.WithContext(tctx)); err != nil && tctx.Err() == nil {
				a.log.Debug("typing", "err", a.scrub(err))
			}
			select {
			case <-tctx.Done():
				return
			case <-time.After(8 * time.Second):
			}
		}
	}()
}

// typingOff stops the typing indicator for t, if it shows.
func (a *Adapter) typingOff(t channels.Target) {
	key := t.PlatformID + "/" + t.MessageID
	a.mu.Lock()
	cancel := a.typing[key]
	delete(a.typing, key)
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (a *Adapter) scrub(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if a.cfg.Token != "" {
		s = strings.ReplaceAll(s, a.cfg.Token, "[redacted]")
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// rewriter sends discordgo's REST calls to another base URL and, when a
// gateway URL is configured, answers the gateway lookup itself. Nothing
// global in discordgo is touched.
type rewriter struct {
	target  *url.URL
	gateway string
	next    http.RoundTripper
}

func (rw *rewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	if rw.gateway != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/gateway") {
		b, _ := json.Marshal(map[string]string{"url": rw.gateway})
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(string(b))), Request: r}, nil
	}
	if rw.target != nil {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = rw.target.Scheme, rw.target.Host, rw.target.Host
	}
	resp, err := rw.next.RoundTrip(r)
	if err == nil {
		padResetAfter(resp.Header)
	}
	return resp, err
}

// resetPad is added to every X-RateLimit-Reset-After berth reads.
// discordgo (v0.29, ratelimit.go) turns the header's fraction into whole
// milliseconds by truncation (4.999 s becomes 4.998 s), so the next post
// of a bucket could reach Discord up to a millisecond before the bucket
// resets, and be refused with a 429. A few milliseconds more keeps every
// post after the reset.
const resetPad = 5 * time.Millisecond

// padResetAfter adds resetPad to h's X-RateLimit-Reset-After, if any.
func padResetAfter(h http.Header) {
	v := h.Get("X-RateLimit-Reset-After")
	if v == "" {
		return
	}
	after, err := strconv.ParseFloat(v, 64)
	if err != nil || after < 0 {
		return // discordgo reports a malformed header itself
	}
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after+resetPad.Seconds(), 'f', 3, 64))
}
