package main

import (
	"fmt"
	"time"

	"github.com/berth-dev/berth/channels/slack/slacktest"
)

// echoCount counts, of the want messages m000, m001, … the crash tests
// post, how many the echo provider answered ("echo: mNNN" posted) and how
// many of those more than once; counts is every posted text's count.
func echoCount(posted []slacktest.Post, want int) (answered, doubled int, counts map[string]int) {
	counts = map[string]int{}
	for _, p := range posted {
		counts[p.Text]++
	}
	for i := 0; i < want; i++ {
		switch counts[fmt.Sprintf("echo: m%03d", i)] {
		case 0:
		case 1:
			answered++
		default:
			answered++
			doubled++
		}
	}
	return answered, doubled, counts
}

// waitAnswered waits until count says all want are answered, or limit
// has passed, then a second more: a late duplicate would show by then.
func waitAnswered(count func() (int, int, map[string]int), want int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		if a, _, _ := count(); a == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
}
