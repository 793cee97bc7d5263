package toolbox

import "testing"

func TestSeq(t *testing.T) {
	runCases(t, []shCase{
		{name: "last", script: "seq 3", want: "1\n2\n3\n"},
		{name: "first last", script: "seq 2 4", want: "2\n3\n4\n"},
		{name: "increment", script: "seq 1 3 10", want: "1\n4\n7\n10\n"},
		{name: "down", script: "seq 3 -1 1", want: "3\n2\n1\n"},
		{name: "negative first", script: "seq -1 1", want: "-1\n0\n1\n"},
		{name: "fractions", script: "seq 0 0.5 1.5", want: "0.0\n0.5\n1.0\n1.5\n"},
		{name: "empty", script: "seq 5 1", want: ""},
		{name: "-s", script: "seq -s, 3", want: "1,2,3\n"},
		{name: "-w", script: "seq -w 8 10", want: "08\n09\n10\n"},
		{name: "zero increment", script: "seq 1 0 3", code: 2},
		{name: "not a number", script: "seq x", code: 2},
		{name: "no operand", script: "seq", code: 2},
	})
}
