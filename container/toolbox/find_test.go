package toolbox

import "testing"

func TestFind(t *testing.T) {
	tree := map[string]string{
		"p/a.go": "x", "p/b.txt": "", "p/sub/c.go": "yy", "p/sub/deep/d.GO": "", "p/vendor/v.go": "",
	}
	runCases(t, []shCase{
		{name: "all, as named", files: tree, script: "find p", want: "p\np/a.go\np/b.txt\np/sub\np/sub/c.go\np/sub/deep\np/sub/deep/d.GO\np/vendor\np/vendor/v.go\n"},
		{name: "dot", files: tree, script: "cd p/sub && find .", want: ".\n./c.go\n./deep\n./deep/d.GO\n"},
		{name: "default dot", files: tree, script: "cd p/sub && find", want: ".\n./c.go\n./deep\n./deep/d.GO\n"},
		{name: "trailing slash", files: tree, script: "find p/sub/ -name c.go", want: "p/sub/c.go\n"},
		{name: "-name", files: tree, script: "find p -name '*.go'", want: "p/a.go\np/sub/c.go\np/vendor/v.go\n"},
		{name: "-iname", files: tree, script: "find p -iname '*.go' | wc -l", want: "4\n"},
		{name: "-type", files: tree, script: "find p -type d", want: "p\np/sub\np/sub/deep\np/vendor\n"},
		{name: "-type f,d list", files: tree, script: "find p/sub -type f,d | wc -l", want: "4\n"},
		{name: "-maxdepth", files: tree, script: "find p -maxdepth 1 -type f", want: "p/a.go\np/b.txt\n"},
		{name: "-mindepth", files: tree, script: "find p -mindepth 3", want: "p/sub/deep/d.GO\n"},
		{name: "-path", files: tree, script: "find p -path '*/sub/*' -type f", want: "p/sub/c.go\np/sub/deep/d.GO\n"},
		{name: "-not -path", files: tree, script: "find p -name '*.go' -not -path '*/vendor/*'", want: "p/a.go\np/sub/c.go\n"},
		{name: "! and -o with parens", files: tree, script: "find p \\( -name '*.txt' -o -name 'c.*' \\) ! -type d", want: "p/b.txt\np/sub/c.go\n"},
		{name: "-prune", files: tree, script: "find p -name vendor -prune -o -name '*.go' -print", want: "p/a.go\np/sub/c.go\n"},
		{name: "-empty", files: tree, script: "find p -empty -type f", want: "p/b.txt\np/sub/deep/d.GO\np/vendor/v.go\n"},
		{name: "-size", files: tree, script: "find p -type f -size +1c", want: "p/sub/c.go\n"},
		{name: "-regex", files: tree, script: "find p -regex '.*/[ab]\\..*'", want: "p/a.go\np/b.txt\n"},
		{name: "-newer -mmin -mtime", files: tree, script: "touch -d 2000-01-01T00:00:00Z p/old && find p -newer p/old -name '*.txt'; find p -mmin -60 -name 'old'; find p -mtime +365", want: "p/b.txt\np/old\n"},
		{name: "-exec ;", files: tree, script: "find p -name '*.go' -size +0 -exec wc -c {} \\;", want: "1 p/a.go\n2 p/sub/c.go\n"},
		{name: "-exec +", files: tree, script: "find p -name '*.go' -size +0 -exec cat {} +; echo", want: "xyy\n"},
		{name: "-exec as a test", files: tree, script: "find p -type f -exec grep -q y {} \\; -print", want: "p/sub/c.go\n"},
		{name: "-print0", files: tree, script: "find p/sub -type f -print0 | tr '\\0' ,", want: "p/sub/c.go,p/sub/deep/d.GO,"},
		{name: "-delete", files: tree, script: "find p -name '*.go' -delete; find p -type f", want: "p/b.txt\np/sub/deep/d.GO\n"},
		{name: "-quit", files: tree, script: "find p -type f -print -quit", want: "p/a.go\n"},
		{name: "missing path", files: tree, script: "find nope p/b.txt", want: "p/b.txt\n", code: 1},
		{name: "unknown predicate", script: "find . -bogus", code: 2},
		{name: "missing argument", script: "find . -name", code: 2},
		{name: "unclosed exec", script: "find . -exec echo", code: 2},
	})
}

func TestGlobRegexp(t *testing.T) {
	for _, tc := range []struct {
		glob, name string
		match      bool
	}{
		{"*.go", "a.go", true},
		{"*.go", "dir/a.go", true}, // * crosses / in -path
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"[ab]x", "bx", true},
		{"[!ab]x", "cx", true},
		{"[!ab]x", "ax", false},
		{`\*`, "*", true},
		{"[", "[", true},
		{"a.b", "axb", false},
	} {
		re, err := globRegexp(tc.glob, false)
		if err != nil {
			t.Fatalf("globRegexp(%q): %v", tc.glob, err)
		}
		if got := re.MatchString(tc.name); got != tc.match {
			t.Errorf("glob %q on %q = %v, want %v", tc.glob, tc.name, got, tc.match)
		}
	}
}
