package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Refusals counts what a running container's cgroup refused it: forks
// past its pids limit, and processes the kernel killed for memory.
type Refusals struct {
	Pids     int64 // forks refused by the pids limit
	OOMKills int64 // processes killed by the memory limit
}

// cgroupFiles are where a container's cgroup keeps those counters, for
// the layouts the engine uses: cgroup v1 with the cgroupfs driver, and
// cgroup v2 with the systemd or the cgroupfs driver.
var cgroupFiles = []struct{ pids, memory string }{
	{"/sys/fs/cgroup/pids/docker/%s/pids.events", "/sys/fs/cgroup/memory/docker/%s/memory.oom_control"},
	{"/sys/fs/cgroup/system.slice/docker-%s.scope/pids.events", "/sys/fs/cgroup/system.slice/docker-%s.scope/memory.events"},
	{"/sys/fs/cgroup/docker/%s/pids.events", "/sys/fs/cgroup/docker/%s/memory.events"},
}

// Refused reports what the running container id was refused so far. ok
// is false when berth cannot see the container's cgroup (a remote engine,
// another layout): the engine's API reports neither counter while a
// container runs.
func (d *Docker) Refused(id string) (r Refusals, ok bool) {
	if id == "" || !isHex(id) {
		return r, false
	}
	for _, f := range cgroupFiles {
		pids, err := os.ReadFile(fmt.Sprintf(f.pids, id))
		if err != nil {
			continue
		}
		r.Pids = counter(pids, "max")
		if mem, err := os.ReadFile(fmt.Sprintf(f.memory, id)); err == nil {
			r.OOMKills = counter(mem, "oom_kill")
		}
		return r, true
	}
	return r, false
}

// counter reads the value of the "name value" line of a cgroup file.
func counter(b []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte(name+" ")); ok {
			n, _ := strconv.ParseInt(string(v), 10, 64) // a malformed count reads as none
			return n
		}
	}
	return 0
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
