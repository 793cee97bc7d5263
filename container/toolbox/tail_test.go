package toolbox

import "testing"

func TestTail(t *testing.T) {
	f := map[string]string{"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "g": "a\nb\n", "noeol": "x\ny"}
	runCases(t, []shCase{
		{name: "ten by default", files: f, script: "tail f | head -n 1", want: "3\n"},
		{name: "-n", files: f, script: "tail -n 2 f", want: "11\n12\n"},
		{name: "-N", files: f, script: "tail -1 f", want: "12\n"},
		{name: "+N", files: f, script: "tail -n +11 f", want: "11\n12\n"},
		{name: "+1 is all", files: f, script: "tail -n +1 g", want: "a\nb\n"},
		{name: "-c", files: f, script: "tail -c 3 f", want: "12\n"},
		{name: "-c +N", files: f, script: "tail -c +3 g", want: "b\n"},
		{name: "no final newline", files: f, script: "tail -n 1 noeol", want: "y"},
		{name: "more than there is", files: f, script: "tail -n 5 g", want: "a\nb\n"},
		{name: "zero", files: f, script: "tail -n 0 f", want: ""},
		{name: "stdin", stdin: "x\ny\n", script: "tail -n 1", want: "y\n"},
		{name: "headers", files: f, script: "tail -n 1 f g", want: "==> f <==\n12\n\n==> g <==\nb\n"},
		{name: "missing file", script: "tail nope", code: 1},
	})
}
