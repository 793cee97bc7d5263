package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/discord"
	"github.com/berth-dev/berth/channels/discord/discordtest"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

const slackBot = "xoxb-files-SECRET-1234"

// startSlackInProc runs the real Slack adapter against a fake Slack, a DM
// D1 wired, on the in-process runtime.
func startSlackInProc(t *testing.T) (*slacktest.Server, *slack.Adapter, *gatewaytest.Gateway) {
	t.Helper()
	fake := slacktest.New(t)
	a, err := slack.New(slack.Config{BotToken: slackBot, AppToken: "xapp-files", APIURL: fake.URL(), PingTimeout: 3 * time.Second},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := startInProc(t, newRuntime(t), a, "", nil)
	g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	return fake, a, g
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d %x", len(b), sum[:6])
}

// TestAttachmentsReachTheRunnerInProcess: files shared in Slack are
// fetched by the host with the bot token into the session's inbox before
// the row is written; the row names each; the runner reads their bytes;
// a file over the default 20 MB limit is not fetched, the person is told
// once, and the message is still answered. Backfilled messages get their
// files too.
func TestAttachmentsReachTheRunnerInProcess(t *testing.T) {
	t.Parallel()
	fake, a, g := startSlackInProc(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{3}, 200)...)
	notes := []byte("line one\nline two\n")
	files := []map[string]any{
		fake.ShareFile(slacktest.File{Name: "shot.png", Mimetype: "image/png", Body: png}),
		fake.ShareFile(slacktest.File{Name: "../notes.txt", Mimetype: "text/plain", Body: notes}),
		fake.ShareFile(slacktest.File{Name: "big.bin", Mimetype: "application/octet-stream", Size: 25 << 20}),
	}
	fake.FileMessage("D1", "U1", "files", true, files...)
	posts := fake.WaitPosted(t, 2, inProcTimeout)
	var note, answer string
	for _, p := range posts {
		if strings.HasPrefix(p.Text, "berth:") {
			note = p.Text
		} else {
			answer = p.Text
		}
	}
	if !strings.Contains(note, "big.bin (25 MB): it is 25 MB, over the limit of 20 MB a file (max_file_bytes)") ||
		strings.Contains(note, "shot.png") {
		t.Fatalf("note to the person = %q", note)
	}
	for _, want := range []string{"/shot.png " + digest(png), "/notes.txt " + digest(notes),
		"big.bin not fetched: it is 25 MB, over the limit of 20 MB a file (max_file_bytes)"} {
		if !strings.Contains(answer, want) {
			t.Fatalf("answer %q lacks %q", answer, want)
		}
	}
	downloads := fake.Downloads()
	if len(downloads) != 2 {
		t.Fatalf("downloads = %+v, want 2 (the big file never fetched)", downloads)
	}
	for _, d := range downloads {
		if d.Token != slackBot {
			t.Fatalf("a download without the bot token: %+v", d)
		}
	}
	// The files sit in the session's inbox, under in/ (read-only in a
	// container), named as the row says.
	s := onlySession(t, g)
	inDir := sessiondb.Host{Dir: filepath.Join(g.Home, "sessions", s.AgentGroupID, s.ID)}.InDir()
	var stored []string
	filepath.WalkDir(filepath.Join(inDir, sessiondb.InboxDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			stored = append(stored, filepath.Base(p))
		}
		return nil
	})
	if strings.Join(stored, ",") != "notes.txt,shot.png" {
		t.Fatalf("inbox holds %v", stored)
	}

	// A file posted while berth was away arrives through the catch-up.
	csv := []byte("a,b\n1,2\n")
	fake.FileMessage("D1", "U1", "files", false, fake.ShareFile(slacktest.File{Name: "later.csv", Mimetype: "text/csv", Body: csv}))
	if err := g.Manager.Backfill(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	posts = fake.WaitPosted(t, 3, inProcTimeout)
	if got := posts[2].Text; !strings.Contains(got, "/later.csv "+digest(csv)) {
		t.Fatalf("backfilled answer = %q", got)
	}
	g.WaitIdle(inProcTimeout)
	if n := len(fake.Posted()); n != 3 {
		t.Fatalf("%d posts, want 3: the note is told once", n)
	}
}

// fetchChannel is a TEST-ONLY fake channel that can fetch attachments,
// slowly, counting the downloads.
type fetchChannel struct {
	*fakeChannel
	fmu     sync.Mutex // guards fetches
	fetches int
}

var _ channels.Fetcher = (*fetchChannel)(nil)

func (f *fetchChannel) Fetch(ctx context.Context, att channels.Attachment, w io.Writer, max int64) error {
	f.fmu.Lock()
	f.fetches++
	f.fmu.Unlock()
	select {
	case <-time.After(200 * time.Millisecond): // long enough for a redelivery to race it
	case <-ctx.Done():
		return ctx.Err()
	}
	_, err := io.WriteString(w, "body of "+att.URL)
	return err
}

// A platform redelivering a message while its files download (Slack
// redelivers after 3 s) gets one download, one row and one answer.
func TestRedeliveryDuringDownloadFetchesOnce(t *testing.T) {
	t.Parallel()
	ch := &fetchChannel{fakeChannel: newFakeChannel()}
	g := startInProc(t, newRuntime(t), ch, "", nil)
	g.Wire("fake", "room", gatewaytest.Wire{IsDM: true})
	in := msg("files")
	in.Attachments = []channels.Attachment{{Name: "a.txt", ContentType: "text/plain", Size: 12, URL: "u1"}}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Manager.Handle(context.Background(), in)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := ch.waitSent(t, 1, inProcTimeout)
	if !strings.Contains(got[0].Text, "/a.txt "+digest([]byte("body of u1"))) {
		t.Fatalf("answer = %q", got[0].Text)
	}
	g.WaitIdle(inProcTimeout)
	ch.fmu.Lock()
	n := ch.fetches
	ch.fmu.Unlock()
	if n != 1 || len(ch.Sent()) != 1 {
		t.Fatalf("%d downloads and %d answers for one message delivered three times", n, len(ch.Sent()))
	}
}

// TestDiscordAttachmentsWithinGroupLimitsInProcess: attachments on
// Discord are fetched from the CDN address into the inbox, and a group's
// own limit (max_files_per_message 1) leaves the second out, noted.
func TestDiscordAttachmentsWithinGroupLimitsInProcess(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	a, err := discord.New(discord.Config{Token: "files-token", APIURL: fake.APIURL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := startInProc(t, newRuntime(t), a, "", nil)
	w := g.Wire("discord", "D1", gatewaytest.Wire{IsDM: true})
	if err := g.Store.UpdateGroupConfig(context.Background(), w.AgentGroupID, "", "", `{"max_files_per_message":1}`); err != nil {
		t.Fatal(err)
	}
	csv := []byte("a,b\n1,2\n")
	first := fake.Attach(discordtest.Attachment{Name: "table.csv", ContentType: "text/csv", Body: csv})
	second := fake.Attach(discordtest.Attachment{Name: "more.csv", ContentType: "text/csv", Body: csv})
	fake.MessageWith("D1", "", "200", "files", map[string]any{"attachments": []any{first, second}})
	sent := fake.WaitSent(t, 2, inProcTimeout)
	all := sent[0].Content + "\n" + sent[1].Content
	for _, want := range []string{"/table.csv " + digest(csv), "more.csv not fetched: a message may bring at most 1 (max_files_per_message)",
		"berth: not every file reached the agent:\n- more.csv (8 B): a message may bring at most 1 (max_files_per_message)"} {
		if !strings.Contains(all, want) {
			t.Fatalf("sent %q lacks %q", all, want)
		}
	}
	if fake.Fetches(first) != 1 || fake.Fetches(second) != 0 {
		t.Fatalf("fetches %d, %d; want 1, 0", fake.Fetches(first), fake.Fetches(second))
	}
}
