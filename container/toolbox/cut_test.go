package toolbox

import "testing"

func TestCut(t *testing.T) {
	runCases(t, []shCase{
		{name: "-d -f", stdin: "a:b:c\n", script: "cut -d: -f2", want: "b\n"},
		{name: "-f list", stdin: "a:b:c:d\n", script: "cut -d : -f1,3", want: "a:c\n"},
		{name: "-f range", stdin: "a:b:c:d\n", script: "cut -d: -f2-3", want: "b:c\n"},
		{name: "-f open range", stdin: "a:b:c:d\n", script: "cut -d: -f3-; cut -d: -f-2 <<EOF\nx:y:z\nEOF", want: "c:d\nx:y\n"},
		{name: "tab by default", stdin: "a\tb\n", script: "cut -f2", want: "b\n"},
		{name: "line without the delimiter", stdin: "abc\na:b\n", script: "cut -d: -f2", want: "abc\nb\n"},
		{name: "-s", stdin: "abc\na:b\n", script: "cut -s -d: -f2", want: "b\n"},
		{name: "-c", stdin: "héllo\n", script: "cut -c2-3", want: "él\n"},
		{name: "-b", stdin: "hello\n", script: "cut -b1,5", want: "ho\n"},
		{name: "--output-delimiter", stdin: "a:b:c\n", script: "cut -d: -f1,3 --output-delimiter=,", want: "a,c\n"},
		{name: "field past the end", stdin: "a:b\n", script: "cut -d: -f5", want: "\n"},
		{name: "no list", script: "cut -d:", code: 2},
		{name: "zero field", script: "cut -f0", code: 2},
		{name: "decreasing", script: "cut -f3-1", code: 2},
		{name: "long delimiter", script: "cut -d ab -f1", code: 2},
	})
}
