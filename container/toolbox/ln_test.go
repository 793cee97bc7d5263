package toolbox

import "testing"

func TestLn(t *testing.T) {
	f := map[string]string{"f": "data", "d/.keep": ""}
	runCases(t, []shCase{
		{name: "-s keeps the target as written", files: f, script: "ln -s f l && cat l && find l -type l", want: "datal\n"},
		{name: "-s relative to the link", files: f, script: "ln -s ../f d/l && cat d/l", want: "data"},
		{name: "hard", files: f, script: "ln f h && echo more >> h && cat f", want: "datamore\n"},
		{name: "into a folder", files: f, script: "ln -s ../f d && cat d/f", want: "data"},
		{name: "in the current folder", files: f, script: "cd d && ln -s ../f && cat f", want: "data"},
		{name: "exists", files: f, script: "ln -s f f", code: 1},
		{name: "-f replaces", files: map[string]string{"f": "data", "g": "old"}, script: "ln -sf f g && cat g", want: "data"},
		{name: "-sfn replaces a link to a folder", files: f, script: "ln -s d l && ln -sfn f l && cat l", want: "data"},
		{name: "-v", files: f, script: "ln -sv f l", want: "'l' -> 'f'\n"},
		{name: "no operand", script: "ln", code: 2},
	})
}
