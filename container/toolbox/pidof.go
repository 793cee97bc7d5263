package toolbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// pidof prints the ids of the processes running each NAME, matched
// against the base name of their argv[0] (or their kernel name), space
// separated, highest first; -s prints one. Exit code 1 when none is
// found.
func pidof(c *call, args []string) int {
	o, names, err := getopt(args, "sx", nil)
	if err != nil {
		return c.usage(err)
	}
	if len(names) == 0 {
		return c.usage(errors.New("usage: pidof [-s] NAME..."))
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if slices.Contains(names, procName(pid)) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return 1
	}
	slices.Sort(pids)
	slices.Reverse(pids)
	if o.has('s') {
		pids = pids[:1]
	}
	strs := make([]string, len(pids))
	for i, p := range pids {
		strs[i] = strconv.Itoa(p)
	}
	out := output(c.stdout)
	out.WriteString(strings.Join(strs, " ") + "\n")
	return c.finish(out, 0)
}

// procName is the base name of a process's argv[0], or its kernel name
// (comm) when it has no command line (a kernel thread, a zombie); "" when
// it is gone.
func procName(pid int) string {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
		argv0, _, _ := bytes.Cut(b, []byte{0})
		return filepath.Base(string(argv0))
	}
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
