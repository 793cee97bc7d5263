package toolbox

import "testing"

func TestSed(t *testing.T) {
	f := map[string]string{"f": "one\ntwo\nthree\nfour\nfive\n"}
	runCases(t, []shCase{
		{name: "s", files: f, script: "sed s/o/0/ f", want: "0ne\ntw0\nthree\nf0ur\nfive\n"},
		{name: "s///g", stdin: "aaa\n", script: "sed 's/a/b/g'", want: "bbb\n"},
		{name: "s N-th", stdin: "aaaa\n", script: "sed 's/a/b/3'", want: "aaba\n"},
		{name: "s N-th and on", stdin: "aaaa\n", script: "sed 's/a/b/2g'", want: "abbb\n"},
		{name: "s & and groups", stdin: "john smith\n", script: `sed 's/\([a-z]*\) \([a-z]*\)/\2, \1 (&)/'`, want: "smith, john (john smith)\n"},
		{name: "s -E groups", stdin: "key=value\n", script: `sed -E 's/(.*)=(.*)/\2=\1/'`, want: "value=key\n"},
		{name: "s other delimiter", stdin: "/usr/bin\n", script: "sed 's|/usr|/opt|'", want: "/opt/bin\n"},
		{name: "s escaped delimiter", stdin: "a/b\n", script: `sed 's/\//-/'`, want: "a-b\n"},
		{name: "s i flag", stdin: "Hello\n", script: "sed 's/hello/bye/I'", want: "bye\n"},
		{name: "s newline in replacement", stdin: "a,b\n", script: `sed 's/,/\n/'`, want: "a\nb\n"},
		{name: "-n p", files: f, script: "sed -n 2p f", want: "two\n"},
		{name: "s///p with -n", files: f, script: "sed -n 's/t/T/p' f", want: "Two\nThree\n"},
		{name: "d", files: f, script: "sed 2d f", want: "one\nthree\nfour\nfive\n"},
		{name: "last line", files: f, script: "sed -n '$p' f", want: "five\n"},
		{name: "regex address", files: f, script: "sed '/^t/d' f", want: "one\nfour\nfive\n"},
		{name: "range of lines", files: f, script: "sed -n '2,4p' f", want: "two\nthree\nfour\n"},
		{name: "range to last", files: f, script: "sed -n '4,$p' f", want: "four\nfive\n"},
		{name: "range of regexes", files: f, script: "sed -n '/two/,/four/p' f", want: "two\nthree\nfour\n"},
		{name: "range end before start", files: f, script: "sed -n '3,1p' f", want: "three\n"},
		{name: "negation", files: f, script: "sed -n '2!p' f", want: "one\nthree\nfour\nfive\n"},
		{name: "q", files: f, script: "sed 2q f", want: "one\ntwo\n"},
		{name: "q code", files: f, script: "sed '1q5' f", want: "one\n", code: 5},
		{name: "several commands", files: f, script: "sed -e 's/one/1/' -e '3d' f", want: "1\ntwo\nfour\nfive\n"},
		{name: "semicolons", files: f, script: "sed -n '1p;5p' f", want: "one\nfive\n"},
		{name: "block", files: f, script: "sed -n '/t/{s/t/T/;p}' f", want: "Two\nThree\n"},
		{name: "= a i c", stdin: "x\ny\n", script: "sed -e '1i\\top' -e '1a after' -e '2c\\changed' -e '$='", want: "top\nx\nafter\nchanged\n"},
		{name: "files are one stream", files: map[string]string{"a": "1\n2\n", "b": "3\n"}, script: "sed -n '$p;2p' a b", want: "2\n3\n"},
		{name: "no final newline kept", stdin: "a\nb", script: "sed s/b/c/", want: "a\nc"},
		{name: "-i", files: f, script: "sed -i 's/one/ONE/;5d' f && cat f", want: "ONE\ntwo\nthree\nfour\n"},
		{name: "-i with backup", files: f, script: "sed -i.bak 1d f && head -n 1 f f.bak", want: "==> f <==\ntwo\n\n==> f.bak <==\none\n"},
		{name: "-i per file", files: map[string]string{"a": "1\n2\n", "b": "3\n4\n"}, script: "sed -i '$d' a b && cat a b", want: "1\n3\n"},
		{name: "-i keeps the mode", files: f, script: "chmod 600 f && sed -i s/x/y/ f && ls -l f | cut -c1-10", want: "-rw-------\n"},
		{name: "-ni is -n -i", files: f, script: "sed -ni 1p f && cat f", want: "one\n"},
		{name: "empty regex reuses the last", stdin: "ab\n", script: "sed '/a/s//X/'", want: "Xb\n"},
		{name: "bracket with delimiter", stdin: "a/b\n", script: "sed 's/[/]/_/'", want: "a_b\n"},
		{name: "missing file", script: "sed p nope", code: 2, stderr: "nope"},
		{name: "unknown command", script: "sed k", code: 1, stderr: "unknown command"},
		{name: "unterminated s", script: "sed s/a/b", code: 1, stderr: "unterminated"},
		{name: "bad reference", script: `sed 's/a/\1/'`, code: 1, stderr: "invalid reference"},
		{name: "unmatched brace", script: "sed '{p'", code: 1},
	})
}
