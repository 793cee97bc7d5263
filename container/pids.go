package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// pidsEvents are where a container's cgroup counts the forks its pids
// limit refused, for the layouts the engine uses: cgroup v1 with the
// cgroupfs driver, and cgroup v2 with the systemd or the cgroupfs driver.
var pidsEvents = []string{
	"/sys/fs/cgroup/pids/docker/%s/pids.events",
	"/sys/fs/cgroup/system.slice/docker-%s.scope/pids.events",
	"/sys/fs/cgroup/docker/%s/pids.events",
}

// PidsLimitHits reports how many times the running container id was
// refused a new process by its pids limit. ok is false when berth cannot
// see the container's cgroup (a remote engine, another layout): the
// engine's API does not report this.
func (d *Docker) PidsLimitHits(id string) (hits int64, ok bool) {
	if filepath.Base(id) != id || id == "" {
		return 0, false
	}
	for _, pattern := range pidsEvents {
		b, err := os.ReadFile(fmt.Sprintf(pattern, id))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, found := bytes.CutPrefix(sc.Bytes(), []byte("max ")); found {
				n, err := strconv.ParseInt(string(v), 10, 64)
				return n, err == nil
			}
		}
		return 0, true
	}
	return 0, false
}
