package console

import "time"

// SetNow makes s's limit on wrong tokens read the time from now: tests
// move it on instead of waiting.
func SetNow(s *Server, now func() time.Time) { s.wrong.now = now }
