package slack

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
)

// A notice of berth's own with Outbound.Mention mentions that user as
// Slack markup; the text itself stays escaped, and a mention that is not a
// Slack user id is ignored.
func TestSendMention(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: "1700.1", Mention: "U1",
		Text: "berth: task t2abcd failed <!channel>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Mention: "!channel", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	posts := fake.WaitPosted(t, 2, 10*time.Second)
	if want := "<@U1> berth: task t2abcd failed &lt;!channel&gt;"; posts[0].Text != want || posts[0].ThreadTS != "1700.1" {
		t.Fatalf("the notice %+v, want %q", posts[0], want)
	}
	if posts[1].Text != "x" {
		t.Fatalf("a bad mention was written: %q", posts[1].Text)
	}
}
