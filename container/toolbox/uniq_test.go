package toolbox

import "testing"

func TestUniq(t *testing.T) {
	in := "a\na\nb\na\nc\nc\nc\n"
	runCases(t, []shCase{
		{name: "adjacent", stdin: in, script: "uniq", want: "a\nb\na\nc\n"},
		{name: "-c", stdin: in, script: "uniq -c", want: "      2 a\n      1 b\n      1 a\n      3 c\n"},
		{name: "-d", stdin: in, script: "uniq -d", want: "a\nc\n"},
		{name: "-u", stdin: in, script: "uniq -u", want: "b\na\n"},
		{name: "-i", stdin: "A\na\nb\n", script: "uniq -i", want: "A\nb\n"},
		{name: "sort | uniq -c", stdin: in, script: "sort | uniq -c | sort -rn | head -n 1", want: "      3 c\n"},
		{name: "in and out files", files: map[string]string{"f": "x\nx\n"}, script: "uniq f g && cat g", want: "x\n"},
		{name: "empty", script: "uniq < /dev/null", want: ""},
		{name: "missing file", script: "uniq nope", code: 1},
	})
}
