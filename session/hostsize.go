package session

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
)

// DefaultMaxRunning is the running-container cap for this host when the
// operator sets none: 4 per CPU, but no more than the host's memory holds
// at perContainer bytes each (so that containers all at their memory
// limit still fit in RAM), and at least 1.
// Without /proc/meminfo (not Linux) only the CPU bound applies.
func DefaultMaxRunning(perContainer int64) int {
	n := 4 * runtime.NumCPU()
	if total := totalMemory(); total > 0 && perContainer > 0 {
		n = min(n, int(total/perContainer))
	}
	return max(n, 1)
}

// totalMemory reads MemTotal from /proc/meminfo, in bytes; 0 if unknown.
func totalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotal(b)
}

// parseMemTotal finds "MemTotal:   24684084 kB" in a meminfo file.
func parseMemTotal(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 || string(f[0]) != "MemTotal:" {
			continue
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil || v <= 0 {
			return 0
		}
		if len(f) >= 3 && string(f[2]) == "kB" {
			v *= 1024
		}
		return v
	}
	return 0
}
