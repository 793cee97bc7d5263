package toolbox

import "testing"

func TestSort(t *testing.T) {
	f := map[string]string{
		"w":   "pear\napple\nfig\napple\n",
		"n":   "10\n9\n-1\n2.5\nx\n",
		"k":   "b 2\na 10\nc 1\n",
		"csv": "x,3\ny,1\nz,2\n",
	}
	runCases(t, []shCase{
		{name: "lines", files: f, script: "sort w", want: "apple\napple\nfig\npear\n"},
		{name: "-r", files: f, script: "sort -r w", want: "pear\nfig\napple\napple\n"},
		{name: "-u", files: f, script: "sort -u w", want: "apple\nfig\npear\n"},
		{name: "-n", files: f, script: "sort -n n", want: "-1\nx\n2.5\n9\n10\n"},
		{name: "-rn", files: f, script: "sort -rn n | head -n 2", want: "10\n9\n"},
		{name: "bytes, not locale", stdin: "b\nB\na\nA\n", script: "sort", want: "A\nB\na\nb\n"},
		{name: "-f", stdin: "b\nB\na\n", script: "sort -f", want: "a\nB\nb\n"},
		{name: "-k", files: f, script: "sort -k2 k", want: "c 1\na 10\nb 2\n"},
		{name: "-k -n", files: f, script: "sort -k 2 -n k", want: "c 1\nb 2\na 10\n"},
		{name: "-k2,2n is -k2,2 -n", files: f, script: "sort -k2,2n -n k", want: "c 1\nb 2\na 10\n"},
		{name: "-t", files: f, script: "sort -t, -k2 csv", want: "y,1\nz,2\nx,3\n"},
		{name: "-u by key", stdin: "a 1\nb 1\nc 2\n", script: "sort -u -k2", want: "a 1\nc 2\n"},
		{name: "ties by the whole line", stdin: "b 1\na 1\n", script: "sort -k2", want: "a 1\nb 1\n"},
		{name: "several files", files: f, script: "sort k csv | head -n 2", want: "a 10\nb 2\n"},
		{name: "-o may be an input", files: f, script: "sort -o w w && cat w", want: "apple\napple\nfig\npear\n"},
		{name: "no final newline", stdin: "b\na", script: "sort", want: "a\nb\n"},
		{name: "missing file", script: "sort nope", code: 2},
		{name: "bad key", script: "sort -k x < /dev/null", code: 2},
	})
}
