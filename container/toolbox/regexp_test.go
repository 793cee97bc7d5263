package toolbox

import "testing"

func TestCompileRegexp(t *testing.T) {
	for _, tc := range []struct {
		pat      string
		extended bool
		in       string
		match    bool
	}{
		{`a.c`, false, "abc", true},
		{`a+`, false, "a+", true},
		{`a+`, false, "aa", false},
		{`a\+`, false, "aa", true},
		{`(a)`, false, "(a)", true},
		{`\(a\)\{2\}`, false, "aa", true},
		{`x\|y`, false, "y", true},
		{`x|y`, false, "x|y", true},
		{`*a`, false, "*a", true},
		{`^*a`, false, "*a", true},
		{`\(*a\)`, false, "*a", true},
		{`a{2}`, false, "a{2}", true},
		{`\<go\>`, false, "a go b", true},
		{`\<go\>`, false, "gopher", false},
		{`[\.]`, false, `\`, true}, // a backslash in brackets is a member
		{`[]a]`, false, "]", true},
		{`[[:upper:]]`, false, "Q", true},
		{`a+|b`, true, "aa", true},
		{`(ab){2}`, true, "abab", true},
		{`\.`, true, "x", false},
		{`[^0-9]`, true, "5", false},
	} {
		re, err := compileRegexp(tc.pat, tc.extended, false)
		if err != nil {
			t.Errorf("compileRegexp(%q, %v): %v", tc.pat, tc.extended, err)
			continue
		}
		if got := re.MatchString(tc.in); got != tc.match {
			t.Errorf("%q (extended %v) on %q = %v, want %v (as %s)", tc.pat, tc.extended, tc.in, got, tc.match, re)
		}
	}
	for _, bad := range []string{`\(a\)\1`, `[z-a]`, `[a`} {
		if _, err := compileRegexp(bad, false, false); err == nil {
			t.Errorf("compileRegexp(%q) succeeded", bad)
		}
	}
	re, err := compileRegexp("abc", false, true)
	if err != nil || !re.MatchString("ABC") {
		t.Errorf("case-insensitive abc does not match ABC: %v", err)
	}
}
