package runnerbuild

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Diff is how got differs from base: a unified diff of each file the two
// share that differs, then of each file added (from /dev/null) and each
// removed (to /dev/null), in path order. "" when they are the same.
func Diff(base, got Source) (string, error) {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range base {
			if !yield(n) {
				return
			}
		}
		for n := range got {
			if _, ok := base[n]; !ok && !yield(n) {
				return
			}
		}
	})
	var b strings.Builder
	for _, n := range names {
		a, inBase := base[n]
		g, inGot := got[n]
		if inBase && inGot && string(a) == string(g) {
			continue
		}
		from, to := "stock/"+n, "group/"+n
		switch {
		case !inBase:
			from = "/dev/null"
			fmt.Fprintf(&b, "added: %s\n", n)
		case !inGot:
			to = "/dev/null"
			fmt.Fprintf(&b, "removed: %s\n", n)
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(a), B: lines(g),
			FromFile: from, ToFile: to, Context: 3,
		})
		if err != nil {
			return "", fmt.Errorf("diff %s: %w", n, err)
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

// lines splits b into lines that each end in a newline (difflib's
// SplitLines adds an empty last line to text that ends in one).
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	out := strings.SplitAfter(string(b), "\n")
	if out[len(out)-1] == "" {
		return out[:len(out)-1]
	}
	out[len(out)-1] += "\n"
	return out
}
