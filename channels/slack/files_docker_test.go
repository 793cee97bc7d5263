package slack_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack"
	"github.com/berth-dev/berth/channels/slack/slacktest"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// The agent's file reaches the thread as an upload through the external
// upload flow, with the reply text as its comment and the bytes it wrote;
// its outbox folder is removed once delivered.
func TestSlackAgentSendsFile(t *testing.T) {
	t.Parallel()
	fake, g := gateway(t)
	root := fake.Mention("C1", "U1", "file report.csv name,count;berth,1")
	ups := fake.WaitUploads(t, 1, 90*time.Second)
	u := ups[0]
	if u.Channel != "C1" || u.ThreadTS != root || u.Comment != "echo: file report.csv" {
		t.Fatalf("upload = %+v", u)
	}
	if len(u.Files) != 1 || u.Files[0].Name != "report.csv" || string(u.Files[0].Bytes) != "name,count;berth,1" {
		t.Fatalf("uploaded files = %+v", u.Files)
	}
	if p := fake.Posted(); len(p) != 0 {
		t.Fatalf("the comment went with the file, yet berth also posted %+v", p)
	}
	outbox := filepath.Join(g.OutDir(g.Sessions()[0]), sessiondb.OutboxDir)
	waitEmpty(t, outbox)
}

// A symlink the agent plants in its outbox, to a host file (a decoy of
// the test's own), is never followed: the file is not uploaded, nor when
// the reply's folder itself is the link; the person is told in the reply
// and the agent on its next turn.
func TestSlackOutboxSymlinkNotUploaded(t *testing.T) {
	t.Parallel()
	fake, g := gateway(t)
	decoy := t.TempDir()
	const secret = "DECOY-host-file-berth-must-not-upload"
	if err := os.WriteFile(filepath.Join(decoy, "secret.txt"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	fake.DM("D1", "U1", "filelink secret.txt "+filepath.Join(decoy, "secret.txt"))
	posts := waitAnswers(t, fake, 1, secret)
	if !strings.Contains(posts[0].Text, "secret.txt was not sent: it is a symbolic link") {
		t.Fatalf("reply = %q, want the file refused as a symlink", posts[0].Text)
	}
	fake.DM("D1", "U1", "dirlink secret.txt "+decoy)
	posts = waitAnswers(t, fake, 2, secret)
	if !strings.Contains(posts[1].Text, "secret.txt was not sent: its folder") || !strings.Contains(posts[1].Text, "symbolic link") {
		t.Fatalf("reply = %q, want the reply's folder refused as a symlink", posts[1].Text)
	}
	fake.DM("D1", "U1", "context")
	posts = fake.WaitPosted(t, 3, 60*time.Second)
	if !strings.Contains(posts[2].Text, "Some files of your reply were not sent") {
		t.Fatalf("the agent was not told: %q", posts[2].Text)
	}
	for _, u := range fake.Uploads() {
		for _, f := range u.Files {
			if strings.Contains(string(f.Bytes), secret) {
				t.Fatalf("the decoy was uploaded: %+v", u)
			}
		}
	}
	if n := len(fake.Uploads()); n != 0 {
		t.Fatalf("%d uploads, want none", n)
	}
	if b, err := os.ReadFile(filepath.Join(decoy, "secret.txt")); err != nil || string(b) != secret {
		t.Fatalf("the decoy was touched: %q %v", b, err)
	}
	waitEmpty(t, filepath.Join(g.OutDir(g.Sessions()[0]), sessiondb.OutboxDir))
}

// A file over the platform's limit is not uploaded; the reply says so and
// the rest of it is delivered.
func TestSlackFileOverLimitRefused(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	fake.DM("D1", "U1", "filesize huge.bin 1073741825") // 1 GiB + 1, sparse
	posts := fake.WaitPosted(t, 1, 90*time.Second)
	if !strings.HasPrefix(posts[0].Text, "echo: filesize huge.bin") || !strings.Contains(posts[0].Text, "huge.bin was not sent: it is 1.0 GiB; the platform takes at most 1.0 GiB") {
		t.Fatalf("reply = %q", posts[0].Text)
	}
	if n := len(fake.Uploads()); n != 0 {
		t.Fatalf("%d uploads of a file over the limit", n)
	}
}

// waitAnswers waits until n text replies were posted, failing at once
// if an upload carries the secret.
func waitAnswers(t *testing.T, fake *slacktest.Server, n int, secret string) []slacktest.Post {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		for _, u := range fake.Uploads() {
			for _, f := range u.Files {
				if strings.Contains(string(f.Bytes), secret) {
					t.Fatalf("the decoy was uploaded: %+v", u)
				}
			}
		}
		if p := fake.Posted(); len(p) >= n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replies, want %d; uploads %+v", len(fake.Posted()), n, fake.Uploads())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEmpty waits until dir has no entries.
func waitEmpty(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %v", dir, ents)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// berth crashes after Slack took an upload but before berth recorded it,
// with the reply written by a real container: the next gateway, on the
// same home, confirms the shared message and does not upload it again.
func TestSlackUploadCutByCrashNotDoubled(t *testing.T) {
	t.Parallel()
	fake := slacktest.New(t)
	start := func(home string) *gatewaytest.Gateway {
		a, err := slack.New(slack.Config{BotToken: "xoxb-e2e", AppToken: "xapp-e2e", APIURL: fake.URL()}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{a}})
	}
	g := start("")
	g.Wire("slack", "D1", gatewaytest.Wire{IsDM: true})
	fake.SlowNextUpload(1, time.Minute)
	fake.DM("D1", "U1", "file a.txt first")
	fake.WaitUploads(t, 1, 90*time.Second) // Slack has it; berth's call hangs
	g.Crash()

	again := start(g.Home)
	fake.DM("D1", "U1", "file b.txt second")
	fake.WaitUploads(t, 2, 90*time.Second)
	again.WaitIdle(60 * time.Second)
	time.Sleep(time.Second) // a doubled upload would come now
	ups := fake.Uploads()
	if n := countFiles(ups); len(ups) != 2 || n["a.txt"] != 1 || n["b.txt"] != 1 {
		t.Fatalf("uploads after a crash mid-upload: %v in %d uploads, want a.txt and b.txt once each", n, len(ups))
	}
	if string(ups[0].Files[0].Bytes) != "first" || string(ups[1].Files[0].Bytes) != "second" {
		t.Fatalf("bytes = %q, %q", ups[0].Files[0].Bytes, ups[1].Files[0].Bytes)
	}
}
