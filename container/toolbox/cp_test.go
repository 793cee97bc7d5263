package toolbox

import "testing"

func TestCp(t *testing.T) {
	tree := map[string]string{"s/f": "1", "s/d/g": "2", "x": "x"}
	runCases(t, []shCase{
		{name: "file", files: tree, script: "cp x y && cat y", want: "x"},
		{name: "overwrites", files: tree, script: "cp x s/f && cat s/f", want: "x"},
		{name: "into a folder", files: tree, script: "cp x s/d && cat s/d/x", want: "x"},
		{name: "several into a folder", files: tree, script: "cp x s/f s/d && ls s/d", want: "f\ng\nx\n"},
		{name: "several, not a folder", files: tree, script: "cp x s/f y", code: 2},
		{name: "folder needs -r", files: tree, script: "cp s t", code: 1, stderr: "-r not specified"},
		{name: "-r", files: tree, script: "cp -r s t && find t | sort", want: "t\nt/d\nt/d/g\nt/f\n"},
		{name: "-r into an existing folder", files: tree, script: "mkdir t && cp -r s t && find t/s -type f | sort", want: "t/s/d/g\nt/s/f\n"},
		{name: "-r into itself", files: tree, script: "cp -r s s/d", code: 1, stderr: "into itself"},
		{name: "-a keeps links and modes", files: tree, script: "ln -s f s/l && chmod 600 s/f && cp -a s t && ls -l t/l | grep -c -- '-> f' && ls -l t/f | cut -c1-10", want: "1\n-rw-------\n"},
		{name: "-r copies links as links", files: tree, script: "ln -s ../x s/l && cp -r s t && find t -type l", want: "t/l\n"},
		{name: "a link named is followed", files: tree, script: "ln -s x l && cp l y && find y -type f", want: "y\n"},
		{name: "-n", files: tree, script: "cp -n x s/f && cat s/f", want: "1"},
		{name: "-p keeps times", files: tree, script: "touch -d 2001-02-03T04:05:06Z x 2>/dev/null; cp -p x y && find y -newer x | wc -l", want: "0\n"},
		{name: "-v", files: tree, script: "cp -v x y", want: "'x' -> 'y'\n"},
		{name: "missing source", files: tree, script: "cp nope y", code: 1},
		{name: "no destination", files: tree, script: "cp x", code: 2},
	})
}
