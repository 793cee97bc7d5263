package inbox

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"Screenshot 2026-12-01 at 10.00.00.png", "Screenshot 2026-12-01 at 10.00.00.png"},
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\win.ini`, "win.ini"},
		{"a/b/c.txt", "c.txt"},
		{"..", "file"},
		{".", "file"},
		{"...", "file"},
		{".bashrc", "bashrc"},
		{"", "file"},
		{"   ", "file"},
		{"/", "file"},
		{"a\x00b.txt", "a_b.txt"},
		{"line\nbreak.txt", "line_break.txt"},
		{"bell\a.txt", "bell_.txt"},
		{"txt\u202Eexe.txt", "txt_exe.txt"}, // a right-to-left override would show another name
		{"bad\xffutf8.txt", "bad_utf8.txt"},
		{"日本語.txt", "日本語.txt"},
		{long + ".csv", strings.Repeat("a", MaxName-4) + ".csv"},
		{long, strings.Repeat("a", MaxName)},
		{strings.Repeat("é", 200) + ".txt", strings.Repeat("é", (MaxName-4)/2) + ".txt"},
		{"x." + long, ("x." + long)[:MaxName]}, // an extension too long to keep is cut like the rest
	} {
		if got := SafeName(tc.in); got != tc.want {
			t.Errorf("SafeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnique(t *testing.T) {
	taken := map[string]bool{}
	long := strings.Repeat("b", MaxName-4) + ".txt"
	for _, tc := range []struct{ in, want string }{
		{"a.txt", "a.txt"},
		{"a.txt", "a-2.txt"},
		{"a.txt", "a-3.txt"},
		{"a-2.txt", "a-2-2.txt"},
		{"file", "file"},
		{"file", "file-2"},
		{long, long},
		{long, strings.Repeat("b", MaxName-6) + "-2.txt"},
	} {
		got := Unique(tc.in, taken)
		if got != tc.want {
			t.Errorf("Unique(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > MaxName {
			t.Errorf("Unique(%q) is %d bytes", tc.in, len(got))
		}
	}
}

// FuzzSafeName checks that whatever a person names a file, the name berth
// creates is one plain, bounded file name, and numbering keeps it so.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"report.pdf", "../../x", "..", ".", "a\x00b", "\u202Etxt.exe", "日本語.txt", strings.Repeat("z", 400) + ".png", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SafeName(in)
		check := func(name string) {
			switch {
			case name == "", name == ".", name == "..", strings.HasPrefix(name, "."):
				t.Fatalf("SafeName(%q) = %q: empty or hidden", in, name)
			case strings.ContainsAny(name, `/\`):
				t.Fatalf("SafeName(%q) = %q: a path separator", in, name)
			case len(name) > MaxName:
				t.Fatalf("SafeName(%q) = %q: %d bytes", in, name, len(name))
			case !utf8.ValidString(name):
				t.Fatalf("SafeName(%q) = %q: not UTF-8", in, name)
			case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
				t.Fatalf("SafeName(%q) = %q: a control character", in, name)
			}
		}
		check(got)
		if again := SafeName(got); again != got {
			t.Fatalf("SafeName is not stable: %q -> %q -> %q", in, got, again)
		}
		taken := map[string]bool{}
		seen := map[string]bool{}
		for range 12 {
			u := Unique(got, taken)
			check(u)
			if seen[u] {
				t.Fatalf("Unique(%q) gave %q twice", got, u)
			}
			seen[u] = true
		}
	})
}
