package toolbox

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseSleep(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"2m", 2 * time.Minute, true},
		{"1h", time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"3s", 3 * time.Second, true},
		{"-1", 0, false},
		{"x", 0, false},
		{"NaN", 0, false},
	} {
		got, err := parseSleep(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseSleep(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// A cancelled shell (the bash tool's time limit) ends a sleep at once.
func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	c := &call{ctx: ctx, name: "sleep", stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	if code := sleep(c, []string{"1d"}); code != 1 {
		t.Fatalf("sleep 1d, cancelled: exit %d, want 1", code)
	}
	if code := sleep(c, []string{"x"}); code != 2 {
		t.Fatalf("sleep x: exit %d, want 2", code)
	}
	if code := sleep(&call{ctx: context.Background(), name: "sleep", stderr: &out}, []string{"0.01", "0.01"}); code != 0 {
		t.Fatalf("sleep 0.01 0.01: exit %d, want 0", code)
	}
}
