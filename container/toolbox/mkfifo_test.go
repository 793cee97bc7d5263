package toolbox

import "testing"

func TestMkfifo(t *testing.T) {
	runCases(t, []shCase{
		{name: "makes a pipe", script: "mkfifo p && find p -type p", want: "p\n"},
		{name: "-m", script: "mkfifo -m 600 p && ls -l p | cut -c1-10", want: "prw-------\n"},
		{name: "carries data", script: "mkfifo p && (echo through > p &) && cat p", want: "through\n"},
		{name: "exists", script: "mkfifo p; mkfifo p", code: 1},
		{name: "no operand", script: "mkfifo", code: 2},
	})
}
