package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/session"
)

// TestStatusShowsRunningContainer checks status lists a live agent
// container with its age, CPU and memory.
func TestStatusShowsRunningContainer(t *testing.T) {
	t.Parallel()
	g, sid := startOps(t, func(c *session.Config) { c.IdleTimeout = time.Hour })
	var out bytes.Buffer
	if err := writeStatus(context.Background(), config{Home: g.Home}, &out, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"1 active: 1 running", "0 pending, 0 failed", "1 running", "berth-main-", sid, "MiB"} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "  ?  ") {
		t.Errorf("no stats for the container:\n%s", got)
	}
}
