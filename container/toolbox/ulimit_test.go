package toolbox

import (
	"strconv"
	"syscall"
	"testing"
)

func TestUlimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	show := func(v uint64) string {
		if v == rlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	runCases(t, []shCase{
		{name: "-n", script: "ulimit -n", want: show(lim.Cur) + "\n"},
		{name: "-Hn", script: "ulimit -H -n", want: show(lim.Max) + "\n"},
		{name: "-a", script: "ulimit -a | grep -c 'open files (-n)'", want: "1\n"},
		{name: "bad option", script: "ulimit -z", code: 2},
		{name: "bad limit", script: "ulimit -n lots", code: 2},
		{name: "two to set", script: "ulimit -n -s 5", code: 2},
	})
}
