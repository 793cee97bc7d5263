package toolbox

import "testing"

func TestDd(t *testing.T) {
	f := map[string]string{"f": "0123456789"}
	runCases(t, []shCase{
		{name: "copy", files: f, script: "dd if=f of=g status=none && cat g", want: "0123456789"},
		{name: "stdin to stdout", stdin: "abc", script: "dd status=none", want: "abc"},
		{name: "bs count", files: f, script: "dd if=f bs=3 count=2 status=none", want: "012345"},
		{name: "skip", files: f, script: "dd if=f bs=2 skip=4 status=none", want: "89"},
		{name: "skip on a pipe", stdin: "0123456789", script: "dd bs=2 skip=4 status=none", want: "89"},
		{name: "seek", files: f, script: "printf abcdef > g && dd if=f of=g bs=1 seek=2 count=2 conv=notrunc status=none && cat g", want: "ab01ef"},
		{name: "seek truncates", files: f, script: "printf abcdef > g && dd if=f of=g bs=1 seek=2 count=2 status=none && cat g", want: "ab01"},
		{name: "records", files: f, script: "dd if=f of=/dev/null bs=4 2>&1 | head -n 2", want: "2+1 records in\n2+1 records out\n"},
		{name: "units", script: "dd if=/dev/zero bs=1K count=3 status=none | wc -c", want: "3072\n"},
		{name: "status=noxfer", files: f, script: "dd if=f of=/dev/null status=noxfer 2>&1", want: "0+1 records in\n0+1 records out\n"},
		{name: "missing input", script: "dd if=nope status=none", code: 1},
		{name: "bad operand", script: "dd foo", code: 2},
		{name: "bad size", script: "dd bs=x", code: 2},
		{name: "zero block", script: "dd bs=0", code: 2},
	})
}

func TestDdSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512", 512, true}, {"1k", 1024, true}, {"1K", 1024, true}, {"1kB", 1000, true}, {"2M", 2 << 20, true},
		{"1MB", 1000000, true}, {"1G", 1 << 30, true}, {"3b", 1536, true}, {"2w", 4, true}, {"7c", 7, true},
		{"-1", 0, false}, {"x", 0, false}, {"99999999999G", 0, false},
	} {
		got, err := ddSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ddSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
