// Package slack is berth's Slack channel: Socket Mode for events (no public
// URL needed) and the Web API for replies, reactions and history.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/berth-dev/berth/channels"
)

// Type is the channel type of Slack.
const Type = "slack"

// MaxChars is the most text berth puts in one Slack message.
const MaxChars = 4000

// Config is what the Slack adapter needs; the caller reads it once.
type Config struct {
	BotToken    string        // xoxb-…, SLACK_BOT_TOKEN
	AppToken    string        // xapp-…, SLACK_APP_TOKEN
	APIURL      string        // SLACK_API_URL: another Web API base (GovSlack, a proxy, a test)
	PingTimeout time.Duration // reconnect when Slack sends no ping for this long; default 60 s
	HTTPClient  *http.Client
}

// State is what the adapter knows of its connection.
type State struct {
	Connected      bool
	LastEvent      time.Time // the last inbound event of any kind (a ping is not one)
	Reconnects     int       // connections after the first
	DeafReconnects int       // connections the watchdog found deaf and replaced
	LastError      string
}

// Adapter is the Slack channel.
type Adapter struct {
	cfg  Config
	log  *slog.Logger
	api  *slack.Client
	seen *seenSet

	mu     sync.Mutex // guards me, state, names and noStat
	me     bot
	state  State
	ready  chan struct{} // closed once connected with a known identity
	names  map[string]cachedName
	noStat bool // assistant.threads.setStatus is not available to this app

	shown *channels.StatusQueue // each message's state, shown in order
}

// The capabilities the gateway looks for, checked at compile time.
var (
	_ channels.Channel    = (*Adapter)(nil)
	_ channels.Progress   = (*Adapter)(nil)
	_ channels.Confirmer  = (*Adapter)(nil)
	_ channels.Backfiller = (*Adapter)(nil)
	_ channels.Health     = (*Adapter)(nil)
)

type cachedName struct {
	name string
	at   time.Time
}

// New checks the tokens' shape and returns an adapter. The error says
// which token is wrong and how to get one; it never contains a token.
func New(cfg Config, logger *slog.Logger) (*Adapter, error) {
	if !strings.HasPrefix(cfg.BotToken, "xoxb-") {
		return nil, errors.New("SLACK_BOT_TOKEN must be a bot token starting with xoxb-: find it at api.slack.com/apps → your app → OAuth & Permissions → Bot User OAuth Token")
	}
	if !strings.HasPrefix(cfg.AppToken, "xapp-") {
		return nil, errors.New("SLACK_APP_TOKEN must be an app-level token starting with xapp-: create one at api.slack.com/apps → your app → Basic Information → App-Level Tokens, with the connections:write scope (and enable Socket Mode)")
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = 60 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	quiet := log.New(io.Discard, "", 0)
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionLog(quiet)}
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, slack.OptionHTTPClient(cfg.HTTPClient))
	}
	opts = append(opts, slack.OptionRetry(3)) // after the HTTP client: 429s wait for Retry-After
	a := &Adapter{
		cfg: cfg, log: logger.With("channel", Type), api: slack.New(cfg.BotToken, opts...),
		seen: newSeenSet(10000, 24*time.Hour), ready: make(chan struct{}), names: map[string]cachedName{},
	}
	a.shown = channels.NewStatusQueue(a.show)
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

// Health describes the connection, for berth status.
func (a *Adapter) Health() channels.Conn {
	s := a.State()
	return channels.Conn{Connected: s.Connected, LastEvent: s.LastEvent, Reconnects: s.Reconnects,
		DeafReconnects: s.DeafReconnects, LastError: s.LastError}
}

// Check makes one cheap authenticated call (auth.test).
func (a *Adapter) Check(ctx context.Context) error {
	_, err := a.authTest(ctx)
	return err
}

func (a *Adapter) authTest(ctx context.Context) (bot, error) {
	r, err := a.api.AuthTestContext(ctx)
	if err != nil {
		if isAuthError(err) {
			return bot{}, refusal{fmt.Sprintf("Slack refused SLACK_BOT_TOKEN (%s): reinstall the app at api.slack.com/apps and copy its Bot User OAuth Token", a.scrub(err))}
		}
		return bot{}, fmt.Errorf("slack auth.test: %s", a.scrub(err))
	}
	return bot{UserID: r.UserID, BotID: r.BotID}, nil
}

// Run connects over Socket Mode and hands each message to h until ctx is
// done. Transient failures reconnect with capped backoff; only refused
// tokens end it.
func (a *Adapter) Run(ctx context.Context, h channels.Handler) error {
	var me bot
	for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
		var err error
		if me, err = a.authTest(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.As(err, new(refusal)) {
			return err
		}
		a.log.Warn("slack unreachable; retrying", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
	}
	a.mu.Lock()
	a.me = me
	a.mu.Unlock()
	for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
		err := a.session(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		if isAuthError(err) {
			return fmt.Errorf("Slack refused SLACK_APP_TOKEN (%s): create an app-level token with connections:write at api.slack.com/apps → Basic Information, and enable Socket Mode", a.scrub(err))
		}
		a.setState(func(s *State) { s.Connected, s.LastError = false, a.scrub(err) })
		a.log.Warn("socket mode ended; reconnecting", "err", a.scrub(err), "in", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
	}
}

// session runs one Socket Mode client until it fails for good. The client
// itself reconnects on a disconnect request, a dropped socket and a ping
// timeout, closing the old socket first, so there is never a second one.
func (a *Adapter) session(ctx context.Context, h channels.Handler) error {
	sm := socketmode.New(a.api, socketmode.OptionPingInterval(a.cfg.PingTimeout), socketmode.OptionLog(log.New(io.Discard, "", 0)))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(runCtx) }()
	for {
		select {
		case err := <-done:
			return err
		case evt := <-sm.Events:
			a.event(runCtx, sm, evt, h)
		}
	}
}

func (a *Adapter) event(ctx context.Context, sm *socketmode.Client, evt socketmode.Event, h channels.Handler) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.log.Debug("connecting")
	case socketmode.EventTypeConnected:
		n := 0
		if c, ok := evt.Data.(*socketmode.ConnectedEvent); ok {
			n = c.ConnectionCount
		}
		a.setState(func(s *State) {
			s.Connected, s.LastError = true, ""
			if n > 0 {
				s.Reconnects++
			}
		})
		a.log.Info("connected", "reconnects", a.State().Reconnects)
		a.mu.Lock()
		select {
		case <-a.ready:
		default:
			close(a.ready)
		}
		a.mu.Unlock()
	case socketmode.EventTypeConnectionError:
		a.setState(func(s *State) { s.Connected = false })
		a.log.Warn("connection error", "err", fmt.Sprint(evt.Data))
	case socketmode.EventTypeErrorBadMessage:
		a.log.Warn("dropped", "reason", "malformed Socket Mode frame")
	case socketmode.EventTypeEventsAPI:
		// One at a time, in arrival order: a conversation's messages must
		// reach the router in the order they were posted.
		a.touch()
		a.eventsAPI(ctx, sm, evt.Request, h)
	case socketmode.EventTypeSlashCommand:
		a.touch()
		if evt.Request != nil {
			sm.Ack(*evt.Request)
			a.slashCommand(ctx, evt.Request.Payload, h)
		}
	case socketmode.EventTypeInteractive:
		if evt.Request != nil {
			sm.Ack(*evt.Request)
		}
	default:
		a.touch()
	}
}

// eventsAPI handles one event envelope and acks it once the message is
// stored or deliberately dropped; when storing fails it is not acked, so
// Slack redelivers it.
func (a *Adapter) eventsAPI(ctx context.Context, sm *socketmode.Client, req *socketmode.Request, h channels.Handler) {
	if req == nil {
		return
	}
	a.mu.Lock()
	me := a.me
	a.mu.Unlock()
	d, err := decodeEventsAPI(req.Payload, me)
	switch {
	case err != nil:
		a.log.Warn("dropped", "reason", "malformed event", "err", err)
		sm.Ack(*req)
		return
	case d.Skip != "":
		a.log.Debug("dropped", "reason", d.Skip)
		sm.Ack(*req)
		return
	}
	// The same message can arrive as app_mention and as message, and Slack
	// redelivers what it thinks was not acked in time.
	keys := []string{"ev:" + d.EventID, "msg:" + d.In.PlatformID + ":" + d.In.MessageID}
	if d.EventID == "" {
		keys = keys[1:]
	}
	if !a.seen.claim(keys...) {
		a.log.Debug("dropped", "reason", "duplicate", "event", d.EventID, "retry", req.RetryAttempt)
		sm.Ack(*req)
		return
	}
	in := d.In
	a.resolveNames(ctx, &in)
	hctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond) // Slack wants the ack within 3 s
	err = h(hctx, in)
	cancel()
	if err != nil {
		a.seen.release(keys...)
		a.log.Warn("not acked; Slack will redeliver", "err", err, "message", in.MessageID)
		return
	}
	a.seen.done(keys...)
	sm.Ack(*req)
}

func (a *Adapter) slashCommand(ctx context.Context, payload []byte, h channels.Handler) {
	in, err := decodeSlash(payload)
	if err != nil {
		a.log.Warn("dropped", "reason", "malformed slash command", "err", err)
		return
	}
	a.resolveNames(ctx, &in)
	if err := h(ctx, in); err != nil {
		a.log.Warn("slash command", "err", err)
	}
}

// resolveNames fills the sender's name, turns <@U…> into @Name and then
// undoes Slack's escaping of &, < and >, so the agent reads what was typed
// (and a reply quoting it is escaped once, on the way out).
func (a *Adapter) resolveNames(ctx context.Context, in *channels.Inbound) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if in.Sender.Name == "" {
		in.Sender.Name = a.userName(ctx, in.Sender.ID)
	}
	in.Text = mentionRe.ReplaceAllStringFunc(in.Text, func(m string) string {
		id := mentionRe.FindStringSubmatch(m)[1]
		if name := a.userName(ctx, id); name != "" {
			return "@" + name
		}
		return m
	})
	in.Text = unescape(in.Text)
}

func (a *Adapter) userName(ctx context.Context, id string) string {
	a.mu.Lock()
	c, ok := a.names[id]
	a.mu.Unlock()
	if ok && time.Since(c.at) < time.Hour {
		return c.name
	}
	u, err := a.api.GetUserInfoContext(ctx, id)
	if err != nil {
		return ""
	}
	name := u.Profile.DisplayName
	if name == "" {
		name = u.RealName
	}
	if name == "" {
		name = u.Name
	}
	a.mu.Lock()
	if len(a.names) > 5000 {
		a.names = map[string]cachedName{}
	}
	a.names[id] = cachedName{name: name, at: time.Now()}
	a.mu.Unlock()
	return name
}

func (a *Adapter) touch() { a.setState(func(s *State) { s.LastEvent = time.Now() }) }

func (a *Adapter) setState(f func(*State)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(&a.state)
}

// scrub removes the tokens from an error's text.
func (a *Adapter) scrub(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	for _, t := range []string{a.cfg.BotToken, a.cfg.AppToken} {
		if t != "" {
			s = strings.ReplaceAll(s, t, "[redacted]")
		}
	}
	return s
}

// apiError is the error code the Web API answered with ("invalid_auth"),
// or "" when err is not such an answer.
func apiError(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// isAuthError reports whether Slack refused the token itself.
func isAuthError(err error) bool {
	switch apiError(err) {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired":
		return true
	}
	var sc slack.StatusCodeError
	return errors.As(err, &sc) && (sc.Code == http.StatusUnauthorized || sc.Code == http.StatusNotFound)
}

// refusal is an error berth cannot get past by retrying: a token Slack
// refused. Its text says what to do.
type refusal struct{ text string }

func (r refusal) Error() string { return r.text }

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
