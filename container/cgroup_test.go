package container

import "testing"

func TestCounter(t *testing.T) {
	for _, c := range []struct {
		in, name string
		want     int64
	}{
		{"max 3\n", "max", 3},
		{"max 0", "max", 0},
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "oom_kill", 2},
		{"low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n", "oom_kill", 1},
		{"oom_kill_disable 5\n", "oom_kill", 0},
		{"max x\n", "max", 0},
		{"", "max", 0},
	} {
		if got := counter([]byte(c.in), c.name); got != c.want {
			t.Errorf("counter(%q, %q) = %d, want %d", c.in, c.name, got, c.want)
		}
	}
}
