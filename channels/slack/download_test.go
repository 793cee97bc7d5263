package slack

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack/slacktest"
)

// A file shared in Slack arrives as an attachment whose url_private the
// adapter downloads with the bot token.
func TestFileShareIsFetchedWithTheBotToken(t *testing.T) {
	t.Parallel()
	fake, a, rec, _ := start(t, nil)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 100)...)
	f := fake.ShareFile(slacktest.File{Name: "shot.png", Mimetype: "image/png", Body: png})
	fake.FileMessage("D1", "U1", "look", true, f)
	in := rec.Wait(t, 1)[0]
	if len(in.Attachments) != 1 || in.Attachments[0].Name != "shot.png" || in.Attachments[0].Size != int64(len(png)) {
		t.Fatalf("attachments = %+v", in.Attachments)
	}
	var buf bytes.Buffer
	if err := a.Fetch(context.Background(), in.Attachments[0], &buf, 1<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), png) {
		t.Fatalf("fetched %d bytes, want the file's %d", buf.Len(), len(png))
	}
	if d := fake.Downloads(); len(d) != 1 || d[0].Token != botToken {
		t.Fatalf("downloads = %+v, want one with the bot token", d)
	}
	// At most max+1 bytes are read.
	buf.Reset()
	if err := a.Fetch(context.Background(), in.Attachments[0], &buf, 10); err != nil || buf.Len() != 11 {
		t.Fatalf("capped fetch: %d bytes, %v", buf.Len(), err)
	}
}

func TestFetchRefusals(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	var elsewhere atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the bot token went to another host")
		}
		w.Write([]byte("not the file"))
	}))
	t.Cleanup(evil.Close)
	url := func(f map[string]any) channels.Attachment {
		return channels.Attachment{Name: f["name"].(string), URL: f["url_private"].(string)}
	}
	redirect := fake.ShareFile(slacktest.File{Name: "r.txt", Mimetype: "text/plain", RedirectTo: evil.URL + "/x"})
	for _, tc := range []struct {
		name      string
		att       channels.Attachment
		token     string
		permanent bool
		want      string
	}{
		{"redirect to another host", url(redirect), botToken, true, "redirect to " + strings.TrimPrefix(evil.URL, "http://") + " refused"},
		{"address on another host", channels.Attachment{Name: "x", URL: evil.URL + "/files-pri/x"}, botToken, true, "not on a Slack file host"},
		{"sign-in page without files:read", url(fake.ShareFile(slacktest.File{Name: "a.txt", Mimetype: "text/plain", Body: []byte("a")})),
			"xoxb-invalid", true, "files:read"},
		{"missing file", channels.Attachment{Name: "gone", URL: fake.URL() + "files-pri/T1-F999/gone"}, botToken, true, "404"},
	} {
		b, err := New(Config{BotToken: tc.token, AppToken: appToken, APIURL: fake.URL()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = b.Fetch(context.Background(), tc.att, &bytes.Buffer{}, 1<<20)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, channels.ErrUnfetchable) != tc.permanent {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), botToken) {
			t.Errorf("%s: the token is in the error", tc.name)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("%d requests reached another host", n)
	}
	// A 500 is worth another try.
	flaky := fake.ShareFile(slacktest.File{Name: "f.txt", Mimetype: "text/plain", Body: []byte("ok")})
	fake.FailDownloads(flaky, 1)
	err := a.Fetch(context.Background(), url(flaky), &bytes.Buffer{}, 100)
	if err == nil || errors.Is(err, channels.ErrUnfetchable) {
		t.Fatalf("a 500: %v, want a failure worth retrying", err)
	}
	var buf bytes.Buffer
	if err := a.Fetch(context.Background(), url(flaky), &buf, 100); err != nil || buf.String() != "ok" {
		t.Fatalf("after the 500: %q %v", buf.String(), err)
	}
}
