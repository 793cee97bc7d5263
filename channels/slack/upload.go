package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/berth-dev/berth/channels"
)

// MaxFileBytes is the largest file Slack takes (1 GB).
const MaxFileBytes = 1 << 30

var _ channels.FileSender = (*Adapter)(nil)

// FileLimit implements channels.FileSender.
func (a *Adapter) FileLimit() int64 { return MaxFileBytes }

// SendFiles uploads files with Slack's external upload flow: for each,
// files.getUploadURLExternal and the upload; then one
// files.completeUploadExternal shares them all in the thread with the
// reply's first part (escaped as Send escapes it) as the comment. The
// rest of a long reply follows as messages. It returns the first file's id.
func (a *Adapter) SendFiles(ctx context.Context, out channels.Outbound, files []channels.File) (string, error) {
	if len(files) == 0 {
		return "", errors.New("slack: no files to send")
	}
	chunks := parts(out.Text)
	comment := ""
	if len(chunks) > 0 {
		comment, chunks = chunks[0], chunks[1:]
	}
	sum := make([]slack.FileSummary, 0, len(files))
	for _, f := range files {
		u, err := a.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: f.Name, FileSize: int(f.Size)})
		if err != nil {
			return "", a.uploadError("get an upload address for "+f.Name, err)
		}
		if err := a.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Reader: f.Reader, Filename: f.Name}); err != nil {
			return "", a.uploadError("upload "+f.Name, err)
		}
		sum = append(sum, slack.FileSummary{ID: u.FileID, Title: f.Name})
	}
	// Sharing posts a message in the channel: it takes its turn with the
	// channel's other posts.
	var done *slack.CompleteUploadExternalResponse
	err := a.pace.Do(ctx, out.PlatformID, func() error {
		var err error
		done, err = a.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: sum, Channel: out.PlatformID,
			InitialComment: comment, ThreadTimestamp: out.ThreadID})
		return err
	})
	if err != nil {
		return "", a.uploadError("share files in "+out.PlatformID, err)
	}
	id := sum[0].ID
	if len(done.Files) > 0 {
		id = done.Files[0].ID
	}
	if len(chunks) > 0 {
		// The files are shared (ConfirmFiles finds them): the rest follows.
		var stop context.CancelFunc
		ctx, stop = a.finishing(ctx, len(chunks))
		defer stop()
	}
	for i, part := range chunks {
		if _, err := a.post(ctx, out.PlatformID, messageOptions(part, out.ThreadID)); err != nil {
			return id, fmt.Errorf("slack: post part %d of %d after the files: %w", i+2, len(chunks)+1, err)
		}
	}
	return id, nil
}

// uploadError scrubs err and marks what retrying cannot fix.
func (a *Adapter) uploadError(doing string, err error) error {
	e := fmt.Errorf("slack: %s: %s", doing, a.scrub(err))
	if permanent(err) || apiError(err) == "file_too_large" || apiError(err) == "missing_scope" {
		return fmt.Errorf("%w: %w", e, channels.ErrPermanent)
	}
	return e
}

// ConfirmFiles looks for the message SendFiles shares after a crash: the
// bot's message in the thread (or channel) with the same comment and the
// same file names, in order.
func (a *Adapter) ConfirmFiles(ctx context.Context, out channels.Outbound, names []string) (string, bool, error) {
	msgs, err := a.recent(ctx, out)
	if err != nil {
		return "", false, err
	}
	comment := ""
	if chunks := parts(out.Text); len(chunks) > 0 {
		comment = chunks[0]
	}
	a.mu.Lock()
	me := a.me
	a.mu.Unlock()
	for _, m := range msgs {
		if m.User != me.UserID && (me.BotID == "" || m.BotID != me.BotID) {
			continue
		}
		if m.Text != comment || len(m.Files) != len(names) {
			continue
		}
		same := true
		for i, f := range m.Files {
			same = same && f.Name == names[i]
		}
		if same {
			return m.Files[0].ID, true, nil
		}
	}
	return "", false, nil
}

// recent reads the messages of out's thread, or its channel's latest.
func (a *Adapter) recent(ctx context.Context, out channels.Outbound) ([]slack.Message, error) {
	if out.ThreadID != "" {
		m, _, _, err := a.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: out.PlatformID, Timestamp: out.ThreadID, Limit: 200})
		if err != nil {
			return nil, fmt.Errorf("slack: read thread: %s", a.scrub(err))
		}
		return m, nil
	}
	r, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: out.PlatformID, Limit: 100})
	if err != nil {
		return nil, fmt.Errorf("slack: read history: %s", a.scrub(err))
	}
	return r.Messages, nil
}
