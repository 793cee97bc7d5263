package slack

import (
	"strings"
	"unicode/utf8"

	"github.com/berth-dev/berth/channels"
)

// escape makes text show on Slack as written. Slack reads <…> as markup
// (<!channel>, <!here>, <@U…>, <!subteam^…>, <url|label>) and decodes
// &amp;, &lt; and &gt;, so, as its formatting guide asks, &, < and >
// become those entities. A '>' that opens a line (a Markdown quote) is
// kept: with every '<' escaped it cannot close any markup.
//
// Everything berth posts goes through here, its own hints and answers
// included: none of them use Slack markup (their "<name>" placeholders
// need escaping to show at all).
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	lead := true // at a line's start, where '>' quotes
	for i := 0; i < len(s); i++ {
		c := s[i]
		if lead && (c == '>' || c == ' ') {
			b.WriteByte(c)
			continue
		}
		lead = c == '\n'
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescaper undoes Slack's escaping in one pass, so "&amp;lt;" reads "&lt;".
var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// unescape turns the text Slack sends (with &, < and > escaped) back into
// what the person typed.
func unescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return unescaper.Replace(s)
}

// parts splits a reply into the escaped texts of its messages, each at
// most MaxChars characters. It splits before escaping, so no entity is
// cut in two, and splits a part again, finer, when escaping made it too
// long (an entity is up to five characters for one).
func parts(text string) []string {
	return fit(channels.Split(text, MaxChars))
}

func fit(chunks []string) []string {
	out := make([]string, 0, len(chunks))
	for _, c := range chunks {
		e := escape(c)
		n := utf8.RuneCountInString(e)
		if n <= MaxChars {
			out = append(out, e)
			continue
		}
		// Smaller than c by as much as escaping grew it, so each round
		// splits c into strictly shorter parts and the recursion ends.
		limit := utf8.RuneCountInString(c) * MaxChars / n
		out = append(out, fit(channels.Split(c, limit))...)
	}
	return out
}
