package inbox

import (
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxName bounds a safe name, in bytes. Real file names are far shorter;
// Linux allows 255.
const MaxName = 120

// maxExt is the longest extension kept whole when a name is cut.
const maxExt = 16

// SafeName is a file name a person gave made safe to create in an inbox
// folder: its last path element only, no "/", "\" or control characters,
// valid UTF-8, not hidden (no leading dot, so never "." or ".."), and at
// most MaxName bytes, its extension kept when the rest is cut. An empty
// or wholly unsafe name is "file".
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), r == utf8.RuneError:
			return '_'
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			// Invisible format characters (right-to-left overrides) make
			// a name read as another: "exe.txt" shown for "txt.exe".
			return '_'
		}
		return r
	}, name)
	// Leading dots and spaces go together, in any order: a name is never
	// hidden, and trimming again finds nothing more (". 0" is "0").
	name = strings.TrimLeftFunc(name, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
	name = strings.TrimRightFunc(name, unicode.IsSpace)
	// Checked after the cut, which may leave only placeholders.
	if name = fit(name, MaxName); strings.Trim(name, "_ ") == "" {
		return "file"
	}
	return name
}

// fit cuts name to at most n bytes on a rune boundary, keeping a short
// extension whole.
func fit(name string, n int) string {
	if len(name) <= n {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > maxExt || len(ext) >= n/2 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	keep := n - len(ext)
	for keep > 0 && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	stem = strings.TrimRightFunc(stem[:keep], func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
	if stem == "" {
		stem = "file"
	}
	return stem + ext
}

// Unique returns name, or name numbered ("a-2.txt", "a-3.txt", …) when
// taken already has it, still within MaxName; it adds the result to taken.
// name must be a SafeName.
func Unique(name string, taken map[string]bool) string {
	out := name
	for i := 2; taken[out]; i++ {
		suffix := "-" + strconv.Itoa(i)
		ext := path.Ext(name)
		if len(ext) > maxExt {
			ext = ""
		}
		stem := strings.TrimSuffix(name, ext)
		out = fit(stem, MaxName-len(ext)-len(suffix)) + suffix + ext
	}
	taken[out] = true
	return out
}
