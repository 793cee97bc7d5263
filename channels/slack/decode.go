package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/berth-dev/berth/channels"
)

// callback is the events_api payload of a Socket Mode envelope.
type callback struct {
	Type    string          `json:"type"`
	EventID string          `json:"event_id"`
	Event   json.RawMessage `json:"event"`
}

// event is the part of a Slack message or app_mention event berth reads.
type event struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	User        string `json:"user"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	ThreadTS    string `json:"thread_ts"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type"`
	Files       []file `json:"files"`
}

// file is the part of a shared file berth reads.
type file struct {
	Name       string `json:"name"`
	Mimetype   string `json:"mimetype"`
	Size       int64  `json:"size"`
	URLPrivate string `json:"url_private"`
}

// historyFiles are the files of a message read from history (the
// catch-up), as an event carries them.
func historyFiles(fs []slack.File) []file {
	var out []file
	for _, f := range fs {
		out = append(out, file{Name: f.Name, Mimetype: f.Mimetype, Size: int64(f.Size), URLPrivate: f.URLPrivate})
	}
	return out
}

// bot is who the adapter is on Slack, from auth.test.
type bot struct {
	UserID string
	BotID  string
}

// decoded is an inbound message, or the reason none is made.
type decoded struct {
	In      channels.Inbound
	EventID string
	Skip    string // why the event is ignored; "" when In is a message
}

// maxText is the longest message text accepted from Slack (its own cap).
const maxText = 40000

var mentionRe = regexp.MustCompile(`<@([A-Z0-9]+)(?:\|[^>]*)?>`)

// decodeEventsAPI turns an events_api payload into an inbound message. It
// is pure: names are resolved later. Malformed input is an error; events
// berth does not handle come back with Skip set.
func decodeEventsAPI(payload []byte, me bot) (decoded, error) {
	var cb callback
	if err := json.Unmarshal(payload, &cb); err != nil {
		return decoded{}, fmt.Errorf("decode events_api payload: %w", err)
	}
	if cb.Type != "event_callback" {
		return decoded{EventID: cb.EventID, Skip: "payload type " + truncate(cb.Type, 40)}, nil
	}
	var ev event
	if err := json.Unmarshal(cb.Event, &ev); err != nil {
		return decoded{}, fmt.Errorf("decode event %s: %w", cb.EventID, err)
	}
	d, err := decodeEvent(ev, me)
	d.EventID = cb.EventID
	return d, err
}

// decodeEvent turns one message or app_mention event into an inbound
// message, or says why it is skipped.
func decodeEvent(ev event, me bot) (decoded, error) {
	var d decoded
	switch ev.Type {
	case "app_mention", "message":
	default:
		d.Skip = "event type " + truncate(ev.Type, 40)
		return d, nil
	}
	switch ev.Subtype {
	case "", "file_share", "thread_broadcast":
	default:
		d.Skip = "message subtype " + truncate(ev.Subtype, 40)
		return d, nil
	}
	switch {
	case ev.BotID != "" || (me.UserID != "" && ev.User == me.UserID):
		d.Skip = "a bot's message"
		return d, nil
	case ev.Channel == "" || ev.TS == "" || ev.User == "":
		return d, errors.New("event lacks channel, ts or user")
	}
	isDM := ev.ChannelType == "im" || strings.HasPrefix(ev.Channel, "D")
	text := ev.Text
	if len(text) > maxText {
		text = text[:maxText]
	}
	mentioned := ev.Type == "app_mention" || isDM
	if me.UserID != "" && strings.Contains(text, "<@"+me.UserID) {
		mentioned = true
	}
	thread := ev.ThreadTS
	if thread == "" && !isDM {
		thread = ev.TS // a top-level message in a channel starts its own thread
	}
	in := channels.Inbound{
		ChannelType: Type, PlatformID: ev.Channel, ThreadID: thread, MessageID: ev.TS,
		Sender: channels.User{ID: ev.User}, Text: stripMention(text, me.UserID),
		Mentioned: mentioned, IsDM: isDM, Time: tsTime(ev.TS),
	}
	for _, f := range ev.Files {
		in.Attachments = append(in.Attachments, channels.Attachment{Name: f.Name, ContentType: f.Mimetype, Size: f.Size, URL: f.URLPrivate})
	}
	d.In = in
	return d, nil
}

// slash is a slash command payload.
type slash struct {
	Command   string `json:"command"`
	Text      string `json:"text"`
	ChannelID string `json:"channel_id"`
	UserID    string `json:"user_id"`
	UserName  string `json:"user_name"`
	TriggerID string `json:"trigger_id"`
}

// decodeSlash turns `/berth <text>` into a chat command message.
func decodeSlash(payload []byte) (channels.Inbound, error) {
	var s slash
	if err := json.Unmarshal(payload, &s); err != nil {
		return channels.Inbound{}, fmt.Errorf("decode slash command: %w", err)
	}
	if s.ChannelID == "" || s.UserID == "" {
		return channels.Inbound{}, errors.New("slash command lacks channel or user")
	}
	text := strings.TrimSpace(s.Text)
	if text == "" {
		text = "help"
	}
	return channels.Inbound{
		ChannelType: Type, PlatformID: s.ChannelID, MessageID: "slash-" + s.TriggerID,
		Sender: channels.User{ID: s.UserID, Name: s.UserName}, Text: "!" + strings.TrimPrefix(text, "!"),
		Mentioned: true, IsDM: strings.HasPrefix(s.ChannelID, "D"), Time: time.Now(),
	}, nil
}

// stripMention removes the bot's own mention, and the space after it.
func stripMention(text, botUserID string) string {
	if botUserID == "" {
		return strings.TrimSpace(text)
	}
	out := mentionRe.ReplaceAllStringFunc(text, func(m string) string {
		if mentionRe.FindStringSubmatch(m)[1] == botUserID {
			return ""
		}
		return m
	})
	return strings.TrimSpace(strings.ReplaceAll(out, "  ", " "))
}

// tsTime reads a Slack ts ("1700000000.000100") as a time.
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Now()
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
