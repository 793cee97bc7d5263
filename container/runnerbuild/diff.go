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
			A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(g)),
			FromFile: from, ToFile: to, Context: 3,
		})
		if err != nil {
			return "", fmt.Errorf("diff %s: %w", n, err)
		}
		b.WriteString(d)
		if d != "" && !strings.HasSuffix(d, "\n") {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
	return b.String(), nil
}
