package toolbox

import "testing"

func TestDirname(t *testing.T) {
	runCases(t, []shCase{
		{name: "path", script: "dirname /usr/lib/x.so", want: "/usr/lib\n"},
		{name: "no folder", script: "dirname x", want: ".\n"},
		{name: "top", script: "dirname /x", want: "/\n"},
		{name: "trailing slashes", script: "dirname a/b//", want: "a\n"},
		{name: "repeated slashes", script: "dirname a//b", want: "a\n"},
		{name: "root", script: "dirname /", want: "/\n"},
		{name: "several", script: "dirname a/b c/d/e", want: "a\nc/d\n"},
		{name: "no operand", script: "dirname", code: 2},
	})
}
