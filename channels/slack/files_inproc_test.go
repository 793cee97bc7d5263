package slack_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/container/containertest"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// startInProc starts a gateway on the TEST-ONLY in-process runtime with a
// real Slack adapter talking to fake.
func startInProc(t *testing.T, fake *slacktest.Server, rt *containertest.Runtime, home string, cfg func(*session.Config)) *gatewaytest.Gateway {
	t.Helper()
	a, err := slack.New(slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return gatewaytest.Start(t, gatewaytest.Options{Home: home, Runtime: rt, Channels: []channels.Channel{a}, Config: cfg})
}

// countFiles counts the uploads of each file name.
func countFiles(ups []slacktest.Upload) map[string]int {
	n := map[string]int{}
	for _, u := range ups {
		for _, f := range u.Files {
			n[f.Name]++
		}
	}
	return n
}

// berth crashes after Slack took an upload but before berth recorded it:
// the next gateway finds the shared message and does not upload again.
func TestSlackUploadCutByCrashNotDoubledInProcess(t *testing.T) {
	t.Parallel()
	fake := slacktest.New(t)
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	g := startInProc(t, fake, rt, "", nil)
	g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	fake.SlowNextUpload(1, time.Minute)
	fake.DM("D1", "U1", "file a.txt first")
	fake.WaitUploads(t, 1, 30*time.Second) // Slack has it; berth's call hangs
	g.Crash()

	again := startInProc(t, fake, rt, g.Home, nil)
	fake.DM("D1", "U1", "file b.txt second")
	fake.WaitUploads(t, 2, 30*time.Second)
	again.WaitIdle(30 * time.Second)
	time.Sleep(300 * time.Millisecond) // a doubled upload would come now
	ups := fake.Uploads()
	if n := countFiles(ups); len(ups) != 2 || n["a.txt"] != 1 || n["b.txt"] != 1 {
		t.Fatalf("uploads after a crash mid-upload: %v in %d uploads, want a.txt and b.txt once each", n, len(ups))
	}
	if string(ups[0].Files[0].Bytes) != "first" || string(ups[1].Files[0].Bytes) != "second" {
		t.Fatalf("bytes = %q, %q", ups[0].Files[0].Bytes, ups[1].Files[0].Bytes)
	}
}

// An upload that times out although Slack took it is confirmed before a
// retry, not uploaded again.
func TestSlackUploadTimeoutNotDoubledInProcess(t *testing.T) {
	t.Parallel()
	fake := slacktest.New(t)
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	g := startInProc(t, fake, rt, "", func(c *session.Config) { c.SendTimeout = 500 * time.Millisecond })
	g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	fake.SlowNextUpload(1, 3*time.Second)
	fake.DM("D1", "U1", "file slow.txt late")
	fake.WaitUploads(t, 1, 30*time.Second)
	g.WaitIdle(30 * time.Second)
	time.Sleep(time.Second)
	if n := len(fake.Uploads()); n != 1 {
		t.Fatalf("%d uploads after an upload that timed out, want 1", n)
	}
}
