package channels

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Split breaks Markdown text into chunks of at most limit characters
// (runes), preferring paragraph, then line, then word boundaries. Code
// fences stay balanced: a chunk that ends inside a ``` block closes it, and
// the next chunk reopens it with the same info string. Empty or
// whitespace-only text gives no chunks; limit below 16 counts as 16.
func Split(text string, limit int) []string {
	limit = max(limit, 16)
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	var chunks []string
	fence := "" // the open fence line ("```go") carried into the next chunk, or ""
	for text != "" {
		prefix := ""
		if fence != "" {
			prefix = fence + "\n"
		}
		room := limit - utf8.RuneCountInString(prefix)
		if utf8.RuneCountInString(text) <= room && openFence(fence, text) == "" {
			chunks = append(chunks, prefix+text)
			break
		}
		if room < 12 { // a pathological info string: drop the reopening
			prefix, fence = "", ""
			room = limit
		}
		head, rest := take(text, room)
		open := openFence(fence, head)
		if open != "" {
			// Ending inside a fence: leave room to close it.
			head, rest = take(text, room-len("\n```"))
			open = openFence(fence, head)
		}
		chunk := prefix + head
		if open != "" {
			chunk += "\n```"
		}
		chunks = append(chunks, chunk)
		fence, text = open, rest
		if rest == "" && open != "" {
			break
		}
	}
	return chunks
}

// take splits off a head of at most room runes at the best boundary.
func take(text string, room int) (head, rest string) {
	cut := cutPoint(text, room)
	head = strings.TrimRightFunc(text[:cut], unicode.IsSpace)
	rest = strings.TrimLeftFunc(text[cut:], unicode.IsSpace)
	if head == "" { // only whitespace fit: hard cut
		head, rest = hardCut(text, room)
	}
	return head, rest
}

// cutPoint picks where to end a chunk of at most room runes: the last
// paragraph break, else line break, else space, else a hard cut.
func cutPoint(text string, room int) int {
	end := byteIndex(text, room)
	if end >= len(text) {
		return len(text)
	}
	window := text[:end]
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.LastIndex(window, sep); i > end/4 {
			return i
		}
	}
	return end
}

func hardCut(text string, room int) (string, string) {
	end := byteIndex(text, room)
	return text[:end], text[end:]
}

// byteIndex is the byte offset of rune n in s (len(s) if s is shorter).
func byteIndex(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// openFence reports the fence line left open after text, given the fence
// already open before it ("" when none).
func openFence(open, text string) string {
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "```") {
			continue
		}
		if open == "" {
			open = t
		} else {
			open = ""
		}
	}
	return open
}
