package toolbox

import "testing"

func TestBasename(t *testing.T) {
	runCases(t, []shCase{
		{name: "path", script: "basename /usr/lib/x.so", want: "x.so\n"},
		{name: "suffix", script: "basename /usr/lib/x.so .so", want: "x\n"},
		{name: "suffix that is the whole name", script: "basename .so .so", want: ".so\n"},
		{name: "trailing slashes", script: "basename /a/b//", want: "b\n"},
		{name: "root", script: "basename /", want: "/\n"},
		{name: "-a", script: "basename -a a/b c/d", want: "b\nd\n"},
		{name: "-s", script: "basename -s .go a/b.go c.go", want: "b\nc\n"},
		{name: "no operand", script: "basename", code: 2},
		{name: "extra operand", script: "basename a b c", code: 2},
	})
}
