package container

import (
	"math"
	"testing"

	ctypes "github.com/docker/docker/api/types/container"
)

func TestStatsOf(t *testing.T) {
	sample := func(total, system uint64) ctypes.CPUStats {
		return ctypes.CPUStats{CPUUsage: ctypes.CPUUsage{TotalUsage: total}, SystemUsage: system, OnlineCPUs: 4}
	}
	tests := []struct {
		name string
		in   ctypes.StatsResponse
		cpu  float64
		mem  uint64
	}{
		{"half a CPU of four, cgroup v2 cache",
			ctypes.StatsResponse{CPUStats: sample(1_500, 10_000), PreCPUStats: sample(1_000, 6_000),
				MemoryStats: ctypes.MemoryStats{Usage: 100 << 20, Stats: map[string]uint64{"inactive_file": 30 << 20}}},
			50, 70 << 20},
		{"cgroup v1 cache",
			ctypes.StatsResponse{CPUStats: sample(2_000, 10_000), PreCPUStats: sample(2_000, 6_000),
				MemoryStats: ctypes.MemoryStats{Usage: 50 << 20, Stats: map[string]uint64{"total_inactive_file": 10 << 20}}},
			0, 40 << 20},
		{"one sample only", ctypes.StatsResponse{CPUStats: sample(1_500, 10_000), MemoryStats: ctypes.MemoryStats{Usage: 1 << 20}},
			0, 1 << 20},
		{"cache larger than usage", ctypes.StatsResponse{MemoryStats: ctypes.MemoryStats{Usage: 5, Stats: map[string]uint64{"inactive_file": 9}}},
			0, 5},
	}
	for _, tt := range tests {
		got := statsOf(tt.in)
		if math.Abs(got.CPUPercent-tt.cpu) > 1e-9 || got.MemoryBytes != tt.mem {
			t.Errorf("%s: %+v, want cpu %v mem %d", tt.name, got, tt.cpu, tt.mem)
		}
	}
}
