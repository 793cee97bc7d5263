package toolbox

import "testing"

func TestCat(t *testing.T) {
	f := map[string]string{"a": "1\n2\n", "b": "x\n\ny", "bin": "\x00\x01\xff"}
	runCases(t, []shCase{
		{name: "files in order", files: f, script: "cat a b", want: "1\n2\nx\n\ny"},
		{name: "stdin", stdin: "in\n", script: "cat", want: "in\n"},
		{name: "dash", files: f, stdin: "in\n", script: "cat a - a", want: "1\n2\nin\n1\n2\n"},
		{name: "binary as is", files: f, script: "cat bin | wc -c", want: "3\n"},
		{name: "-n across files", files: f, script: "cat -n a b", want: "     1\t1\n     2\t2\n     3\tx\n     4\t\n     5\ty"},
		{name: "-b", files: f, script: "cat -b b", want: "     1\tx\n\n     2\ty"},
		{name: "missing file goes on", files: f, script: "cat nope a", want: "1\n2\n", code: 1, stderr: "nope"},
		{name: "a folder", files: f, script: "mkdir d; cat d", code: 1},
	})
}
