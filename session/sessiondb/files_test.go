package sessiondb

import (
	"errors"
	"strings"
	"testing"
)

func TestValidFileName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"report.csv", true},
		{"ünïcode name (1).txt", true},
		{".hidden", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../etc", false},
		{"a/b", false},
		{`a\b`, false},
		{"nul\x00", false},
		{"line\nbreak", false},
		{"bell\a", false},
		{"\xff\xfe", false},
		{strings.Repeat("a", MaxFileName), true},
		{strings.Repeat("a", MaxFileName+1), false},
	} {
		err := ValidFileName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidFileName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadFileName) {
			t.Errorf("ValidFileName(%q) = %v, not ErrBadFileName", tc.name, err)
		}
	}
}

func FuzzValidFileName(f *testing.F) {
	for _, s := range []string{"a.txt", "..", "a/b", "\x00", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidFileName(name) != nil {
			return
		}
		// A valid name is one path element that stays in its folder.
		if strings.ContainsAny(name, "/\\\x00") || name == ".." || name == "." || len(name) > MaxFileName {
			t.Fatalf("ValidFileName accepted %q", name)
		}
	})
}
