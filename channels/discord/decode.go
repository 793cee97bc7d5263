package discord

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/berth-dev/berth/channels"
)

// me is what the adapter knows of itself and of a message's place.
type me struct {
	UserID string
	Roles  map[string]bool // role ids the bot has in the message's guild
}

var mentionRe = regexp.MustCompile(`<@[!&]?(\d+)>`)

// decodeMessage turns a MESSAGE_CREATE into an inbound message, or says
// why it is ignored. It is pure: the channel's parent (for threads) is
// filled in by the caller.
func decodeMessage(m *discordgo.Message, bot me) (channels.Inbound, string) {
	switch {
	case m == nil || m.Author == nil:
		return channels.Inbound{}, "message without an author"
	case m.ID == "" || m.ChannelID == "":
		return channels.Inbound{}, "message without an id or channel"
	case m.Author.ID == bot.UserID:
		return channels.Inbound{}, "the bot's own message"
	case m.Author.Bot:
		return channels.Inbound{}, "another bot's message"
	case m.Type != discordgo.MessageTypeDefault && m.Type != discordgo.MessageTypeReply:
		return channels.Inbound{}, "message type " + strconv.Itoa(int(m.Type))
	}
	isDM := m.GuildID == ""
	mentioned := isDM
	for _, u := range m.Mentions {
		if u != nil && u.ID == bot.UserID {
			mentioned = true
		}
	}
	for _, r := range m.MentionRoles {
		if bot.Roles[r] {
			mentioned = true
		}
	}
	if ref := m.ReferencedMessage; ref != nil && ref.Author != nil && ref.Author.ID == bot.UserID {
		mentioned = true
	}
	names := map[string]string{}
	for _, u := range m.Mentions {
		if u != nil {
			names[u.ID] = displayName(u, nil)
		}
	}
	text := mentionRe.ReplaceAllStringFunc(m.Content, func(s string) string {
		id := mentionRe.FindStringSubmatch(s)[1]
		switch {
		case id == bot.UserID && !strings.HasPrefix(s, "<@&"):
			return ""
		case strings.HasPrefix(s, "<@&"):
			return s // a role: left as Discord wrote it
		case names[id] != "":
			return "@" + names[id]
		}
		return s
	})
	text = strings.TrimSpace(strings.ReplaceAll(text, "  ", " "))
	if len(text) > 8000 {
		text = text[:8000] // Discord's own cap for bots with Nitro-length messages
	}
	in := channels.Inbound{
		ChannelType: Type, PlatformID: m.ChannelID, MessageID: m.ID,
		Sender: channels.User{ID: m.Author.ID, Name: displayName(m.Author, m.Member), Bot: m.Author.Bot},
		Text:   text, Mentioned: mentioned, IsDM: isDM, Time: m.Timestamp,
	}
	if in.Time.IsZero() {
		in.Time = time.Now()
	}
	for _, a := range m.Attachments {
		if a != nil {
			in.Attachments = append(in.Attachments, channels.Attachment{Name: a.Filename, ContentType: a.ContentType, Size: int64(a.Size), URL: a.URL})
		}
	}
	if in.Text == "" && len(in.Attachments) == 0 {
		return channels.Inbound{}, "message with no content (is the Message Content intent enabled?)"
	}
	return in, ""
}

func displayName(u *discordgo.User, m *discordgo.Member) string {
	if m != nil && m.Nick != "" {
		return m.Nick
	}
	if u.GlobalName != "" {
		return u.GlobalName
	}
	return u.Username
}
