package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/berth-dev/berth/channels"
)

// MaxFileBytes is the largest attachment a bot may post in a server
// without boosts (10 MiB); boosted servers take more, berth does not ask.
const MaxFileBytes = 10 << 20

var _ channels.FileSender = (*Adapter)(nil)

// FileLimit implements channels.FileSender.
func (a *Adapter) FileLimit() int64 { return MaxFileBytes }

// SendFiles posts one multipart message with the files attached and the
// reply's first part as its content (pinging nobody, as Send); the rest
// of a long reply follows as messages. It returns the message's id.
func (a *Adapter) SendFiles(ctx context.Context, out channels.Outbound, files []channels.File) (string, error) {
	if len(files) == 0 {
		return "", errors.New("discord: no files to send")
	}
	chunks := channels.Split(out.Text, MaxChars)
	comment := ""
	if len(chunks) > 0 {
		comment, chunks = chunks[0], chunks[1:]
	}
	msg := &discordgo.MessageSend{Content: comment, AllowedMentions: noMentions()}
	for _, f := range files {
		msg.Files = append(msg.Files, &discordgo.File{Name: f.Name, ContentType: f.ContentType, Reader: f.Reader})
	}
	if out.ReplyTo != "" && !strings.Contains(out.ReplyTo, "-") {
		no := false
		msg.Reference = &discordgo.MessageReference{MessageID: out.ReplyTo, ChannelID: out.PlatformID, FailIfNotExists: &no}
	}
	m, err := a.s.ChannelMessageSendComplex(out.PlatformID, msg, discordgo.WithContext(ctx))
	if err != nil {
		return "", a.sendError(fmt.Sprintf("post %d files to %s", len(files), out.PlatformID), err)
	}
	for i, c := range chunks {
		if _, err := a.s.ChannelMessageSendComplex(out.PlatformID, &discordgo.MessageSend{Content: c, AllowedMentions: noMentions()},
			discordgo.WithContext(ctx)); err != nil {
			return m.ID, a.sendError(fmt.Sprintf("post part %d of %d after the files", i+2, len(chunks)+1), err)
		}
	}
	return m.ID, nil
}

// sendError scrubs err and marks what retrying cannot fix (413: the
// files are too large for this server).
func (a *Adapter) sendError(doing string, err error) error {
	e := fmt.Errorf("discord: %s: %s", doing, a.scrub(err))
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && (permanentStatus(re.Response.StatusCode) || re.Response.StatusCode == 413) {
		return fmt.Errorf("%w: %w", e, channels.ErrPermanent)
	}
	return e
}

// ConfirmFiles looks for the message SendFiles posts after a crash: the
// bot's message after the one it answers, with the same content and as
// many attachments (Discord may rename a file, so names are not compared).
func (a *Adapter) ConfirmFiles(ctx context.Context, out channels.Outbound, names []string) (string, bool, error) {
	after := out.ReplyTo
	if strings.Contains(after, "-") {
		after = ""
	}
	msgs, err := a.s.ChannelMessages(out.PlatformID, 100, "", after, "", discordgo.WithContext(ctx))
	if err != nil {
		return "", false, fmt.Errorf("discord: read messages: %s", a.scrub(err))
	}
	comment := ""
	if chunks := channels.Split(out.Text, MaxChars); len(chunks) > 0 {
		comment = chunks[0]
	}
	a.mu.Lock()
	botID := a.botID
	a.mu.Unlock()
	for _, m := range msgs {
		if m.Author != nil && m.Author.ID == botID && m.Content == comment && len(m.Attachments) == len(names) {
			return m.ID, true, nil
		}
	}
	return "", false, nil
}
