package slack

import (
	"net/url"
	"regexp"
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
	return fit(channels.Split(revealLinks(text), MaxChars))
}

// mdLink is a Markdown link, [label](target), as Slack's markdown block
// renders it.
var mdLink = regexp.MustCompile(`\[([^\[\]\n]{1,500})\]\(([^()\s]{1,1000})\)`)

// revealLinks shows where a disguised Markdown link goes: a link whose
// label reads as an address other than its target ("[slack.com](evil)")
// becomes "label (target)", so the reader sees both. A link with words
// for a label, or whose label names its own target, is kept.
func revealLinks(text string) string {
	if !strings.Contains(text, "](") {
		return text
	}
	return mdLink.ReplaceAllStringFunc(text, func(link string) string {
		m := mdLink.FindStringSubmatch(link)
		label, target := m[1], m[2]
		lh, ok := addressHost(label)
		if !ok {
			return link
		}
		if th, ok := addressHost(target); ok && strings.EqualFold(th, lh) {
			return link
		}
		return label + " (" + target + ")"
	})
}

// addressHost reports the host a text names when it reads as an address:
// a URL, or a bare name with a dot and no spaces ("slack.com/signin").
func addressHost(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " \t") {
		return "", false
	}
	if !strings.Contains(s, "://") {
		if !strings.Contains(s, ".") {
			return "", false
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", false
	}
	return u.Hostname(), true
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
