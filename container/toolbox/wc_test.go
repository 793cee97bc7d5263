package toolbox

import "testing"

func TestWc(t *testing.T) {
	f := map[string]string{"f": "one two\nthree\n", "g": "a\n", "u": "héllo\n"}
	runCases(t, []shCase{
		{name: "-l stdin is bare", stdin: "a\nb\nc\n", script: "wc -l", want: "3\n"},
		{name: "-w", stdin: " a  b\tc\n\n", script: "wc -w", want: "3\n"},
		{name: "-c", stdin: "abc\n", script: "wc -c", want: "4\n"},
		{name: "-m counts characters", files: f, script: "wc -m < u; wc -c < u", want: "6\n7\n"},
		{name: "all three", files: f, script: "wc f", want: " 2  3 14 f\n"},
		{name: "stdin all three", stdin: "one two\nthree\n", script: "wc", want: " 2  3 14\n"},
		{name: "file", files: f, script: "wc -l f", want: "2 f\n"},
		{name: "total", files: f, script: "wc -l f g", want: "2 f\n1 g\n3 total\n"},
		{name: "no final newline", stdin: "a", script: "wc -l", want: "0\n"},
		{name: "empty", script: "wc -l < /dev/null", want: "0\n"},
		{name: "missing file", files: f, script: "wc -l nope g", want: "1 g\n1 total\n", code: 1},
	})
}
