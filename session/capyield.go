package session

import "time"

// yieldIdle is how long a container with nothing to do keeps its running
// slot while another session waits for one. Without it, under the cap,
// an idle container would hold its slot for the whole idle timeout and
// starve every conversation past the cap for that long.
const yieldIdle = 5 * time.Second

// waiting reports how many sessions wait for a running slot.
func (s *slots) waiting() int {
	if s.max <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

// idleStop reports whether a running session with no open work, last
// active idleFor ago, should stop now: past its idle timeout, or past
// yieldIdle while *yield sessions still wait for a slot (each stop
// counts one of them down).
func idleStop(idleFor, timeout time.Duration, yield *int) bool {
	if idleFor > timeout {
		return true
	}
	if *yield > 0 && idleFor > yieldIdle {
		*yield--
		return true
	}
	return false
}
