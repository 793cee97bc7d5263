package channels

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	para := strings.Repeat("word ", 30) // 150 runes
	code := "```go\n" + strings.Repeat("fmt.Println(1)\n", 30) + "```"
	tests := []struct {
		name  string
		text  string
		limit int
		want  int // chunks; 0 = don't check
	}{
		{"short", "hello", 100, 1},
		{"empty", "  \n ", 100, 0},
		{"paragraphs", para + "\n\n" + para + "\n\n" + para, 200, 3},
		{"lines", strings.Repeat("a line of text\n", 40), 100, 0},
		{"words", strings.Repeat("word ", 100), 60, 0},
		{"hard", strings.Repeat("x", 500), 100, 5},
		{"code across boundary", "intro\n\n" + code + "\n\noutro", 120, 0},
		{"multibyte", strings.Repeat("héllo wörld ", 100), 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.text, tt.limit)
			if tt.want != 0 && len(got) != tt.want {
				t.Errorf("%d chunks, want %d: %q", len(got), tt.want, got)
			}
			checkChunks(t, tt.text, tt.limit, got)
		})
	}
}

func TestSplitShortUnchanged(t *testing.T) {
	if got := Split("hi **there**", 2000); len(got) != 1 || got[0] != "hi **there**" {
		t.Fatalf("got %q", got)
	}
	if got := Split("", 2000); got != nil {
		t.Fatalf("empty gave %q", got)
	}
}

// checkChunks asserts the splitter's promises: each chunk within the limit
// and non-empty, fences balanced in every chunk, and the words of the
// input in order once the added fence lines are taken out.
func checkChunks(t *testing.T, text string, limit int, chunks []string) {
	t.Helper()
	limit = max(limit, 16)
	var words []string
	inFence := ""
	for i, c := range chunks {
		if n := utf8.RuneCountInString(c); n > limit || strings.TrimSpace(c) == "" {
			t.Fatalf("chunk %d has %d runes (limit %d) or is empty: %q", i, n, limit, c)
		}
		lines := strings.Split(c, "\n")
		fences := 0
		for j, l := range lines {
			if !strings.HasPrefix(strings.TrimSpace(l), "```") {
				words = append(words, strings.Fields(l)...)
				continue
			}
			fences++
			// Added lines: a reopening first line, a closing last line.
			added := (j == 0 && inFence != "" && strings.TrimSpace(l) == inFence) || (j == len(lines)-1 && fences%2 == 0 && endsOpen(chunks, i))
			if !added {
				words = append(words, strings.TrimSpace(l))
			}
		}
		if fences%2 != 0 {
			t.Fatalf("chunk %d has unbalanced fences: %q", i, c)
		}
		inFence = openAfter(text, words)
	}
	var want []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			want = append(want, strings.TrimSpace(l))
			continue
		}
		want = append(want, strings.Fields(l)...)
	}
	// Hard cuts split words, so compare the text with all spacing removed.
	if g, w := strings.Join(words, ""), strings.Join(want, ""); g != w {
		t.Fatalf("content changed:\n got %.300q\nwant %.300q", g, w)
	}
}

// endsOpen reports whether the original text is still inside a fence at
// the end of chunk i, i.e. the chunk's last fence line was added.
func endsOpen(chunks []string, i int) bool {
	return i+1 < len(chunks) && strings.HasPrefix(chunks[i+1], "```") && !strings.HasPrefix(strings.TrimSpace(strings.Split(chunks[i+1], "\n")[0]), "``` ")
}

// openAfter returns the fence line open after the given words of text.
func openAfter(text string, words []string) string {
	open := ""
	for _, w := range words {
		if strings.HasPrefix(w, "```") {
			if open == "" {
				open = w
			} else {
				open = ""
			}
		}
	}
	return open
}

func FuzzSplit(f *testing.F) {
	f.Add("hello world", 20)
	f.Add("a\n\nb\n\nc", 16)
	f.Add("```go\nx := 1\ny := 2\n```\ntext after", 16)
	f.Add(strings.Repeat("é", 100), 17)
	f.Add("```\n"+strings.Repeat("line\n", 50)+"```", 30)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		if !utf8.ValidString(text) || limit > 5000 {
			return
		}
		for _, c := range Split(text, limit) {
			if n := utf8.RuneCountInString(c); n > max(limit, 16) || strings.TrimSpace(c) == "" {
				t.Fatalf("chunk of %d runes (limit %d): %q", n, limit, c)
			}
			fences := 0
			for _, l := range strings.Split(c, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "```") {
					fences++
				}
			}
			if fences%2 != 0 {
				t.Fatalf("unbalanced fences in %q", c)
			}
		}
	})
}
