package tasks_test

import "testing"

// TestSlackScheduleInTwoSeconds: `!schedule in 2s say hi` is answered at
// once, and about two seconds later the agent's answer to "say hi" comes
// in the same thread, from a real container; the task is done.
func TestSlackScheduleInTwoSeconds(t *testing.T) {
	t.Parallel()
	fake, g := slackGateway(t, nil)
	scheduleInTwoSeconds(t, fake, g)
}

// TestSlackFailedTaskIsTold: a run whose turn fails (the echo provider's
// "fail": a provider error in the real runner) is told in the thread,
// naming the task and mentioning its creator, and shows as the task's
// last result.
func TestSlackFailedTaskIsTold(t *testing.T) {
	t.Parallel()
	fake, g := slackGateway(t, nil)
	failedTaskIsTold(t, fake, g)
}
