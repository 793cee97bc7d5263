package toolbox

import "testing"

func TestTr(t *testing.T) {
	runCases(t, []shCase{
		{name: "ranges", stdin: "Hello\n", script: "tr a-z A-Z", want: "HELLO\n"},
		{name: "classes", stdin: "Hello 42\n", script: "tr '[:lower:]' '[:upper:]'", want: "HELLO 42\n"},
		{name: "shorter second set repeats its last", stdin: "abcd\n", script: "tr abcd xy", want: "xyyy\n"},
		{name: "-d", stdin: "a1b2c3\n", script: "tr -d 0-9", want: "abc\n"},
		{name: "-d class", stdin: "a b\tc\n", script: "tr -d '[:space:]'", want: "abc"},
		{name: "-s", stdin: "aaabbb  c\n", script: "tr -s 'a '", want: "abbb c\n"},
		{name: "-s with translation", stdin: "a,,b,,,c\n", script: "tr -s , ' '", want: "a b c\n"},
		{name: "-c -d", stdin: "a1-b2\n", script: "tr -cd 0-9", want: "12"},
		{name: "escapes", stdin: "a b\n", script: `tr ' ' '\n'`, want: "a\nb\n"},
		{name: "octal", stdin: "a:b\n", script: `tr : '\011'`, want: "a\tb\n"},
		{name: "dash at the end is literal", stdin: "a-b\n", script: "tr a- xy", want: "xyb\n"},
		{name: "reverse range", script: "tr z-a x", code: 2},
		{name: "missing set", script: "tr a", code: 2},
	})
}
