package toolbox

import "testing"

func TestHead(t *testing.T) {
	f := map[string]string{"f": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "g": "a\nb\n"}
	runCases(t, []shCase{
		{name: "ten by default", files: f, script: "head f | wc -l", want: "10\n"},
		{name: "-n", files: f, script: "head -n 2 f", want: "1\n2\n"},
		{name: "-nN", files: f, script: "head -n2 f", want: "1\n2\n"},
		{name: "-N", files: f, script: "head -3 f", want: "1\n2\n3\n"},
		{name: "-c", files: f, script: "head -c 3 f", want: "1\n2"},
		{name: "more than there is", files: f, script: "head -n 5 g", want: "a\nb\n"},
		{name: "zero", files: f, script: "head -n 0 f", want: ""},
		{name: "stdin", stdin: "x\ny\n", script: "head -n 1", want: "x\n"},
		{name: "headers", files: f, script: "head -n 1 f g", want: "==> f <==\n1\n\n==> g <==\na\n"},
		{name: "-q", files: f, script: "head -q -n 1 f g", want: "1\na\n"},
		{name: "missing file", files: f, script: "head -n 1 nope g", want: "==> g <==\na\n", code: 1, stderr: "nope"},
		{name: "bad count", script: "head -n x", code: 2},
	})
}
