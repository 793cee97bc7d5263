// Package channels defines the contract between chat platform adapters and
// the berth gateway: the messages an adapter hands in, the replies it
// delivers, and the optional capabilities (typing, reactions) it may offer.
//
// An adapter only turns platform events into Inbound messages and delivers
// Outbound ones. It knows nothing of agent groups, wirings or sessions.
package channels

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Inbound is one message a person sent on a platform, as the router sees it.
type Inbound struct {
	ChannelType string // "slack", "discord", "terminal"
	PlatformID  string // channel id (a Discord thread is its own channel)
	ParentID    string // for a Discord thread, the parent channel; else ""
	ThreadID    string // Slack thread_ts, or "" for a top-level message
	MessageID   string // platform message id (Slack ts, Discord snowflake); dedup key
	Sender      User
	Text        string // bot mention stripped, other mentions resolved to names
	Mentioned   bool   // the bot was addressed (mention, reply to the bot, DM)
	IsDM        bool
	Attachments []Attachment
	Time        time.Time
}

// User identifies a sender on one platform.
type User struct {
	ID   string // platform-local id, e.g. "U123"; the store key is ChannelType+":"+ID
	Name string // display name
	Bot  bool
}

// Attachment is a file a person sent with a message.
type Attachment struct {
	Name        string
	ContentType string
	Size        int64
	URL         string // where the adapter can fetch it; never shown to the agent
}

// Outbound is one reply to deliver.
type Outbound struct {
	PlatformID string
	ThreadID   string
	ReplyTo    string // platform message id this answers, if any
	Text       string // Markdown; the adapter formats and splits it
	// Key is berth's unique id for this reply. An adapter may attach it
	// (Discord nonce, Slack metadata) so Confirm can find the message.
	Key string
	// Mention is a user of this platform (their platform id) whom the
	// message mentions first, notifying them. Only berth's own notices
	// set it (a scheduled task's failure, to its creator), never an
	// agent's reply: an agent's text pings nobody.
	Mention string
}

// Handler receives each inbound message. It returns only after the message
// is durably accepted (or deliberately dropped), so an adapter with
// platform acks may acknowledge once it returns nil. A non-nil error means
// the message was not accepted and should be left for redelivery.
type Handler func(ctx context.Context, in Inbound) error

// Channel is a chat platform adapter.
type Channel interface {
	// Type names the platform: "slack", "discord", "terminal".
	Type() string
	// Run connects and feeds inbound messages to h until ctx is done. It
	// returns early only for errors that retrying cannot fix (bad token).
	Run(ctx context.Context, h Handler) error
	// Send delivers one reply, splitting it as the platform requires, and
	// returns the platform id of the first message it posted.
	Send(ctx context.Context, out Outbound) (string, error)
}

// Target names the message an agent is working on.
type Target struct {
	PlatformID string
	ThreadID   string
	MessageID  string
}

// Progress is implemented by adapters that can show a person what is
// happening to their message (reactions, a typing indicator, a status
// line). Status is called on every change, in order, per message, from
// the message's acceptance until it is answered (StateDone) or failed
// (StateFailed); it must not block (a platform call is made in the
// background, see StatusQueue).
type Progress interface {
	Status(ctx context.Context, t Target, s Status)
}

// Confirmer is implemented by adapters that can tell whether a reply was
// posted. After a crash between sending a reply and recording it, berth
// asks; without a Confirmer it does not resend, so nobody sees a reply twice.
type Confirmer interface {
	Confirm(ctx context.Context, out Outbound) (platformID string, found bool, err error)
}

// Backfiller is implemented by adapters that can fetch history. After a
// restart or reconnect berth asks for what was posted in a conversation
// after the newest message it had seen, and routes it (deduplicated).
type Backfiller interface {
	// Missed returns the messages of a conversation posted after the
	// message with id after (when after is "", after the time since),
	// oldest first, decoded as Run would.
	Missed(ctx context.Context, platformID, after string, since time.Time) ([]Inbound, error)
}

// ThreadMark is where berth left off in one thread of a conversation.
type ThreadMark struct {
	ThreadID string // Slack thread_ts; Discord: the thread's channel id
	After    string // newest message id of the thread berth handled; "" none yet
}

// ThreadBackfiller is implemented by Backfillers that can also fetch the
// replies of threads, which a channel's history may leave out (Slack's
// conversations.history does).
type ThreadBackfiller interface {
	// MissedInThreads returns the messages posted in the given threads of
	// conversation platformID (the wired channel) after each thread's
	// After (when After is "", after the time since), oldest first per
	// thread, decoded as Run would.
	MissedInThreads(ctx context.Context, platformID string, threads []ThreadMark, since time.Time) ([]Inbound, error)
}

// Reconnecter is implemented by adapters whose connection can be replaced
// while Run runs (a socket reconnect, a failed resume re-identified, a
// deaf connection closed by its watchdog): what was posted in the gap is
// caught up as at start-up. The gateway calls OnReconnect before Run.
type Reconnecter interface {
	// OnReconnect sets f, called once per new connection after the first,
	// synchronously, before the adapter hands Run's handler any message
	// received on that connection: the router notes where each
	// conversation left off before a live message could move its mark
	// past the gap. f returns quickly; the catch-up runs in the background.
	OnReconnect(f func(ctx context.Context))
}

// Health is implemented by adapters that can say how their connection is
// doing.
type Health interface {
	Health() Conn
}

// Conn is what an adapter knows of its connection.
type Conn struct {
	Connected      bool
	LastEvent      time.Time // the last inbound event of any kind; zero: none yet
	Reconnects     int       // new connections after the first
	DeafReconnects int       // connections its watchdog found deaf and replaced
	LastError      string    // why it is down, free of secrets
}

// String is the connection in a line, for berth status: "connected, last
// event 12s ago, 1 reconnects, 0 deaf reconnects".
func (c Conn) String() string { return c.Describe(time.Now()) }

// State is the connection's state in words: "connected", "connecting",
// or "disconnected: " and why.
func (c Conn) State() string {
	switch {
	case c.Connected:
		return "connected"
	case c.LastError != "":
		return "disconnected: " + c.LastError
	}
	return "connecting"
}

// Describe is String with the last event's age counted at now.
func (c Conn) Describe(now time.Time) string {
	state := c.State()
	last := "no event yet"
	if !c.LastEvent.IsZero() {
		last = "last event " + now.Sub(c.LastEvent).Round(time.Second).String() + " ago"
	}
	return fmt.Sprintf("%s, %s, %d reconnects, %d deaf reconnects", state, last, c.Reconnects, c.DeafReconnects)
}

// ErrPermanent marks a send failure that retrying will not fix (a deleted
// channel, a missing permission). Wrap it so the delivery loop stops early.
var ErrPermanent = errors.New("permanent delivery failure")

// UserKey is the store's id for a platform user: "slack:U123".
func UserKey(channelType, id string) string { return channelType + ":" + id }

// CompareIDs orders two platform message ids, which are numbers as text
// (Slack "1700000000.000100", Discord snowflakes): by the length of their
// integer part, then as text. It returns -1, 0 or 1.
func CompareIDs(a, b string) int {
	ai, _, _ := strings.Cut(a, ".")
	bi, _, _ := strings.Cut(b, ".")
	if len(ai) != len(bi) {
		if len(ai) < len(bi) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
