package toolbox

import "testing"

func TestTee(t *testing.T) {
	runCases(t, []shCase{
		{name: "copies", stdin: "x\n", script: "tee a b && cat a b", want: "x\nx\nx\n"},
		{name: "-a", files: map[string]string{"a": "old\n"}, stdin: "new\n", script: "tee -a a >/dev/null && cat a", want: "old\nnew\n"},
		{name: "truncates", files: map[string]string{"a": "old\n"}, stdin: "new\n", script: "tee a >/dev/null && cat a", want: "new\n"},
		{name: "a file that cannot be opened", stdin: "x\n", script: "tee no/such/f", want: "x\n", code: 1, stderr: "no/such/f"},
	})
}
