package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	ctypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Stats reports a running container's CPU and memory use. The engine
// takes two samples about a second apart so that the CPU figure is a
// current rate, not a lifetime average; call it concurrently for many
// containers.
func (d *Docker) Stats(ctx context.Context, id string) (Stats, error) {
	r, err := d.cli.ContainerStats(ctx, id, false)
	if err != nil {
		return Stats{}, fmt.Errorf("stats of container %s: %w", short(id), err)
	}
	defer r.Body.Close()
	var s ctypes.StatsResponse
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&s); err != nil {
		return Stats{}, fmt.Errorf("stats of container %s: %w", short(id), err)
	}
	return statsOf(s), nil
}

// statsOf computes what `docker stats` shows: CPU use as a percentage of
// one CPU, and memory in use less the reclaimable page cache.
func statsOf(s ctypes.StatsResponse) Stats {
	var out Stats
	cpu := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sys := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if s.PreCPUStats.SystemUsage > 0 && cpu > 0 && sys > 0 {
		out.CPUPercent = cpu / sys * cpus * 100
	}
	out.MemoryBytes = s.MemoryStats.Usage
	cache := s.MemoryStats.Stats["inactive_file"] // cgroup v2
	if v, ok := s.MemoryStats.Stats["total_inactive_file"]; ok {
		cache = v // cgroup v1
	}
	if cache < out.MemoryBytes {
		out.MemoryBytes -= cache
	}
	return out
}

// LogsSince is Logs for output written after since (all of it when since
// is zero): a capture that starts again after a restart does not copy
// what it already has.
func (d *Docker) LogsSince(ctx context.Context, id string, since time.Time, stdout, stderr io.Writer) error {
	opts := ctypes.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	rc, err := d.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return fmt.Errorf("logs of container %s: %w", short(id), err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil {
		return fmt.Errorf("logs of container %s: %w", short(id), err)
	}
	return nil
}
