package slack_test

import (
	"encoding/json"
	"testing"
	"time"
)

// An agent's reply full of Slack markup (mass mentions, a user-group ping,
// a link labelled with another address) reaches Slack escaped, in the
// fallback text and in the block: shown, not obeyed. The agent is the echo
// provider in a real container, answering "echo: <text>".
func TestSlackAgentMarkupEscaped(t *testing.T) {
	t.Parallel()
	fake, _ := gateway(t)
	// What a person typed literally ("&lt;!here&gt;") comes back literally too.
	fake.DM("D1", "U1", "<!channel> <!here> <!everyone> <!subteam^S0ADMINS|@admins> <https://evil.example|https://slack.com/signin> &lt;!here&gt; a&b")
	p := fake.WaitPosted(t, 1, 60*time.Second)[0]
	want := "echo: &lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S0ADMINS|@admins&gt; " +
		"&lt;https://evil.example|https://slack.com/signin&gt; &lt;!here&gt; a&amp;b"
	if p.Channel != "D1" || p.Text != want {
		t.Fatalf("posted %q to %s\nwant %q", p.Text, p.Channel, want)
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(p.Blocks), &blocks); err != nil || len(blocks) != 1 || blocks[0].Text != want {
		t.Fatalf("blocks %s (%v), want one with %q", p.Blocks, err, want)
	}
	if p.Parse != "none" || p.LinkNames != "false" {
		t.Fatalf("parse=%q link_names=%q", p.Parse, p.LinkNames)
	}
	// Another conversation keeps answering.
	root := fake.Mention("C1", "U2", "still here")
	posts := fake.WaitPosted(t, 2, 60*time.Second)
	if posts[1].ThreadTS != root || posts[1].Text != "echo: still here" {
		t.Fatalf("other conversation got %+v", posts[1])
	}
}
