package toolbox

import "testing"

func TestMkdir(t *testing.T) {
	runCases(t, []shCase{
		{name: "one", script: "mkdir d && test -d d", code: 0},
		{name: "exists", script: "mkdir d; mkdir d", code: 1, stderr: "cannot create directory d"},
		{name: "no parent", script: "mkdir a/b", code: 1},
		{name: "-p", script: "mkdir -p a/b/c && mkdir -p a/b && find a", want: "a\na/b\na/b/c\n"},
		{name: "-p over a file", files: map[string]string{"f": ""}, script: "mkdir -p f/g", code: 1},
		{name: "-m", script: "mkdir -m 700 d && ls -ld d | cut -c1-10", want: "drwx------\n"},
		{name: "-v", script: "mkdir -v d", want: "mkdir: created directory \"d\"\n"},
		{name: "several, one failing", script: "mkdir a no/b c; echo $?; ls", want: "1\na\nc\n"},
		{name: "bad mode", script: "mkdir -m u+x d", code: 2},
		{name: "no operand", script: "mkdir", code: 2},
	})
}
