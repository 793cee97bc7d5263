package tasks_test

import (
	"testing"

	"github.com/berth-dev/berth/container/containertest"
)

// The end-to-end task tests through the TEST-ONLY in-process runtime (the
// real runner and echo provider, no Docker), so -short runs them too.

func TestSlackScheduleInTwoSecondsInProcess(t *testing.T) {
	t.Parallel()
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	fake, g := slackGateway(t, rt)
	scheduleInTwoSeconds(t, fake, g)
}

func TestSlackFailedTaskIsToldInProcess(t *testing.T) {
	t.Parallel()
	rt := containertest.New(containertest.Options{})
	t.Cleanup(rt.Close)
	fake, g := slackGateway(t, rt)
	failedTaskIsTold(t, fake, g)
}
