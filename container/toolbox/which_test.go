package toolbox

import "testing"

func TestWhich(t *testing.T) {
	runCases(t, []shCase{
		{name: "found", files: map[string]string{"bin/x": ""}, script: "chmod 755 bin/x; PATH=$PWD/bin:/nonexistent which x | sed \"s|$PWD|.|\"", want: "./bin/x\n"},
		{name: "not executable", files: map[string]string{"bin/x": ""}, script: "PATH=$PWD/bin which x", code: 1},
		{name: "-a", files: map[string]string{"a/x": "", "b/x": ""}, script: "chmod 755 a/x b/x; PATH=$PWD/a:$PWD/b which -a x | sed \"s|$PWD/||\"", want: "a/x\nb/x\n"},
		{name: "a path", files: map[string]string{"x": ""}, script: "chmod 755 x; which ./x | sed \"s|$PWD|.|\"", want: "./x\n"},
		{name: "one missing", files: map[string]string{"bin/x": ""}, script: "chmod 755 bin/x; PATH=$PWD/bin which x nope >/dev/null", code: 1},
	})
}
