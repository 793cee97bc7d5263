package toolbox

import "testing"

func TestEnv(t *testing.T) {
	runCases(t, []shCase{
		{name: "prints exported variables", script: "export A=1; B=2; env | grep -E '^(A|B)='", want: "A=1\n"},
		{name: "assignments", script: "env X=1 Y=2 env | grep -E '^(X|Y)=' | sort", want: "X=1\nY=2\n"},
		{name: "-i", script: "env -i Z=3 env", want: "Z=3\n"},
		{name: "-u", script: "export A=1; env -u A env | grep -c '^A='", want: "0\n", code: 1},
		{name: "runs a command with its arguments", script: "env A=x sh -c 'echo $A $1' me 'two words' 2>/dev/null || echo fallback", want: "x two words\n"},
		{name: "a command's options are its own", stdin: "x\nX\n", script: "env grep -i -c x", want: "2\n"},
		{name: "not found", script: "env -i no-such-command-xyz", code: 127},
		{name: "bad option", script: "env -z", code: 2},
	})
}
