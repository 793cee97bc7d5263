package slack

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/slack/slacktest"
)

// hostile is agent text Slack would act on if it arrived as written: mass
// mentions, a user-group ping, a link whose label is another address, and
// an entity that would decode to markup.
var hostile = []struct{ in, want string }{
	{"<!channel>", "&lt;!channel&gt;"},
	{"<!here>", "&lt;!here&gt;"},
	{"<!everyone>", "&lt;!everyone&gt;"},
	{"<!subteam^S0123ABC>", "&lt;!subteam^S0123ABC&gt;"},
	{"<!subteam^S0123ABC|@admins>", "&lt;!subteam^S0123ABC|@admins&gt;"},
	{"<@U0ADMIN>", "&lt;@U0ADMIN&gt;"},
	{"<https://evil.example|https://slack.com/signin>", "&lt;https://evil.example|https://slack.com/signin&gt;"},
	{"<!date^1700000000^{date}^https://evil.example|today>", "&lt;!date^1700000000^{date}^https://evil.example|today&gt;"},
	{"&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"},
	{"a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
}

var entity = regexp.MustCompile(`&(amp|lt|gt);`)

// markdownText is the text of the one markdown block of a post.
func markdownText(t *testing.T, p slacktest.Post) string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(p.Blocks), &blocks); err != nil || len(blocks) != 1 || blocks[0].Type != "markdown" {
		t.Fatalf("blocks %s: %v", p.Blocks, err)
	}
	return blocks[0].Text
}

// Every string arrives escaped, the same in the fallback text and in the
// block, with Slack's name linking and parsing off.
func TestSendEscapesMentionsAndLinks(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, unpaced)
	fake.LimitPosts(0)
	for i, h := range hostile {
		if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", ThreadID: "1700.1", Text: "see " + h.in + " now"}); err != nil {
			t.Fatal(err)
		}
		p := fake.WaitPosted(t, i+1, 10*time.Second)[i]
		want := "see " + h.want + " now"
		if p.Text != want {
			t.Errorf("text %q, want %q", p.Text, want)
		}
		if got := markdownText(t, p); got != want {
			t.Errorf("block %q, want %q", got, want)
		}
		if p.Parse != "none" || p.LinkNames != "false" {
			t.Errorf("parse=%q link_names=%q, want none and false", p.Parse, p.LinkNames)
		}
	}
}

// berth's formatting survives: fences, quotes, bold, lists and plain
// Markdown links are untouched; only &, < and > change.
func TestSendKeepsFormatting(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, nil)
	text := "*bold* and `x<y`\n> a quote\n>> nested\n- item\n[docs](https://example.com)\n```go\nif a < b && ok {\n}\n```"
	want := "*bold* and `x&lt;y`\n> a quote\n>> nested\n- item\n[docs](https://example.com)\n```go\nif a &lt; b &amp;&amp; ok {\n}\n```"
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: text}); err != nil {
		t.Fatal(err)
	}
	p := fake.WaitPosted(t, 1, 10*time.Second)[0]
	if p.Text != want || markdownText(t, p) != want {
		t.Fatalf("text %q\nblock %q\nwant %q", p.Text, markdownText(t, p), want)
	}
}

// A long reply of nothing but markup is split so that each escaped part
// fits MaxChars, no entity is cut in two, and the parts add up to the
// reply with its code fences balanced.
func TestSendSplitsEscapedText(t *testing.T) {
	t.Parallel()
	fake, a, _, _ := start(t, unpaced)
	fake.LimitPosts(0)
	text := strings.Repeat("<!channel>&", 1200) + "\n\n```\n" + strings.Repeat("x && y < z\n", 400) + "```\n" + strings.Repeat("&", 5000)
	if _, err := a.Send(context.Background(), channels.Outbound{PlatformID: "C1", Text: text}); err != nil {
		t.Fatal(err)
	}
	posts := fake.Posted()
	var got strings.Builder
	for _, p := range posts {
		if n := utf8.RuneCountInString(p.Text); n > MaxChars {
			t.Fatalf("a post of %d characters", n)
		}
		if p.Text != markdownText(t, p) || strings.ContainsAny(p.Text, "<") || strings.Count(p.Text, "```")%2 != 0 {
			t.Fatalf("post %.80q: block differs, markup or an open fence", p.Text)
		}
		if strings.Contains(entity.ReplaceAllString(p.Text, ""), "&") {
			t.Fatalf("post %.80q: an & that starts no whole entity", p.Text)
		}
		got.WriteString(unescape(p.Text))
	}
	strip := func(s string) string { return strings.Join(strings.Fields(strings.ReplaceAll(s, "```", "")), "") }
	if strip(got.String()) != strip(text) {
		t.Fatal("the parts do not add up to the reply")
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"&amp;", "&amp;amp;"},
		{"> quote\n  > indented\nnot > quote", "> quote\n  > indented\nnot &gt; quote"},
		{"> <!here>", "> &lt;!here&gt;"},
		{">>><@U1>", ">>>&lt;@U1&gt;"},
		{"x\n>\n", "x\n>\n"},
	} {
		if got := escape(c.in); got != c.want {
			t.Errorf("escape(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := unescape(escape(c.in)); got != c.in {
			t.Errorf("unescape(escape(%q)) = %q", c.in, got)
		}
	}
}

func TestRevealLinks(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"no links here", "no links here"},
		{"[the docs](https://example.com/docs)", "[the docs](https://example.com/docs)"},
		{"[https://example.com/x](https://example.com/y)", "[https://example.com/x](https://example.com/y)"},
		{"[https://slack.com/signin](https://evil.example/phish)", "https://slack.com/signin (https://evil.example/phish)"},
		{"log in at [slack.com](https://evil.example) now", "log in at slack.com (https://evil.example) now"},
		{"[v1.2](https://example.com/release)", "v1.2 (https://example.com/release)"},
		{"[a](b) [c d](e)", "[a](b) [c d](e)"},
	} {
		if got := revealLinks(c.in); got != c.want {
			t.Errorf("revealLinks(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Slack escapes &, < and > in what people type; the agent reads what they
// typed.
func TestInboundUnescaped(t *testing.T) {
	t.Parallel()
	fake, _, rec, _ := start(t, nil)
	fake.DM("D1", "U1", "is a &lt; b &amp;&amp; b &gt; c? &amp;lt; <@U2>")
	got := rec.Wait(t, 1)
	if got[0].Text != "is a < b && b > c? &lt; @NameU2" {
		t.Fatalf("text %q", got[0].Text)
	}
}

// unpaced lets a test of what berth posts post as fast as it can (the
// fake's limit lifted too): pacing has tests of its own.
func unpaced(c *Config) { c.PostInterval = time.Millisecond }
