package toolbox

import "testing"

func TestXargs(t *testing.T) {
	runCases(t, []shCase{
		{name: "echo by default", stdin: "a b\nc\n", script: "xargs", want: "a b c\n"},
		{name: "command and arguments", stdin: "x\ny\n", script: "xargs printf '<%s>'", want: "<x><y>"},
		{name: "-n", stdin: "a b c\n", script: "xargs -n 2 echo", want: "a b\nc\n"},
		{name: "-n1 attached", stdin: "a b\n", script: "xargs -n1 echo", want: "a\nb\n"},
		{name: "-I", stdin: "one\n  two\n", script: "xargs -I{} echo '[{}]'", want: "[one]\n[two]\n"},
		{name: "-L", stdin: "a b\nc\nd\n", script: "xargs -L 2 echo", want: "a b c\nd\n"},
		{name: "quotes", stdin: `'a b' "c d" e\ f` + "\n", script: "xargs -n 1 echo", want: "a b\nc d\ne f\n"},
		{name: "-0", stdin: "a b\x00c\x00", script: "xargs -0 -n 1 echo", want: "a b\nc\n"},
		{name: "-d", stdin: "a,b,c", script: "xargs -d, echo", want: "a b c\n"},
		{name: "empty runs once", script: "xargs echo x", want: "x\n"},
		{name: "-r", script: "xargs -r echo x", want: ""},
		{name: "in-process commands", files: map[string]string{"a": "hit\n", "b": "miss\n"}, stdin: "a b\n", script: "xargs grep -l hit", want: "a\n"},
		{name: "find | xargs", files: map[string]string{"d/a.go": "x\n", "d/b.go": "y\n"}, script: "find d -name '*.go' | sort | xargs cat", want: "x\ny\n"},
		{name: "-t", stdin: "a\n", script: "xargs -t echo 2>&1", want: "echo a\na\n"},
		{name: "failing command", stdin: "a\n", script: "xargs false", code: 123},
		{name: "missing command", stdin: "a\n", script: "xargs no-such-command-xyz", code: 127},
		{name: "unmatched quote", stdin: "'a\n", script: "xargs", code: 1},
		{name: "bad option", script: "xargs -Z", code: 2},
	})
}
