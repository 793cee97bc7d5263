package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestSlackFilesReachTheModel runs a real container with the anthropic
// provider against the fake model API, the real Slack adapter against
// the fake Slack: a screenshot reaches the model request as an image
// block, a CSV's content as text; a 25 MB file is not fetched, the person
// is told, and the message is still answered.
func TestSlackFilesReachTheModel(t *testing.T) {
	t.Parallel()
	f := newFakeModel(t, func(int, map[string]any) (int, any) { return 200, anthropicText("I see a chart") })
	proxy, err := credproxy.New([]credproxy.Upstream{{Name: "anthropic", BaseURL: f.srv.URL, Header: "x-api-key", Key: modelSecret, KeyVar: "ANTHROPIC_API_KEY"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	fake := slacktest.New(t)
	a, err := slack.New(slack.Config{BotToken: slackBot, AppToken: "xapp-files", APIURL: fake.URL(), PingTimeout: 3 * time.Second},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{a}, Config: func(c *session.Config) {
		c.Extras = proxy.Extras(paths.Home(home))
	}})
	w := g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	if err := g.Store.UpdateGroupConfig(context.Background(), w.AgentGroupID, "anthropic", "test-model", "{}"); err != nil {
		t.Fatal(err)
	}

	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{9}, 300)...)
	csv := "region,sales\nnorth,12\nsouth,30\n"
	fake.FileMessage("D1", "U1", "what does this show?", true,
		fake.ShareFile(slacktest.File{Name: "chart.png", Mimetype: "image/png", Body: png}),
		fake.ShareFile(slacktest.File{Name: "sales.csv", Mimetype: "text/csv", Body: []byte(csv)}),
		fake.ShareFile(slacktest.File{Name: "video.mov", Mimetype: "video/quicktime", Size: 25 << 20}),
	)
	posts := fake.WaitPosted(t, 2, 90*time.Second)
	texts := posts[0].Text + "\n" + posts[1].Text
	if !strings.Contains(texts, "I see a chart") || !strings.Contains(texts, "video.mov (25 MB): it is 25 MB, over the limit of 20 MB a file (max_file_bytes)") {
		t.Fatalf("posts = %q", texts)
	}
	req, _ := json.Marshal(f.request(0))
	image := `{"source":{"data":"` + base64.StdEncoding.EncodeToString(png) + `","media_type":"image/png","type":"base64"},"type":"image"}`
	for _, want := range []string{image, `region,sales\nnorth,12\nsouth,30`, `/workspace/in/inbox/`, `video.mov`, `max_file_bytes`} {
		if !strings.Contains(string(req), want) {
			t.Errorf("the model request lacks %.100q:\n%.1500s", want, req)
		}
	}
	if d := fake.Downloads(); len(d) != 2 {
		t.Fatalf("downloads = %+v, want 2", d)
	}
	assertNoSecret(t, g, slackBot)
}
