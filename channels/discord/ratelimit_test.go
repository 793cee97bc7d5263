package discord

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// discordgoWait is how discordgo v0.29 (ratelimit.go, Bucket.Release)
// turns X-RateLimit-Reset-After into a wait: the fraction truncated to
// whole milliseconds.
func discordgoWait(v string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	whole, frac := math.Modf(f)
	return time.Duration(whole)*time.Second + time.Duration(frac*1000)*time.Millisecond
}

// The padded header never lets discordgo wait less than Discord said.
func TestPadResetAfter(t *testing.T) {
	for _, v := range []string{"0.001", "0.999", "1.000", "4.999", "4.998", "2.357", "5.000", "0.000"} {
		h := http.Header{"X-Ratelimit-Reset-After": {v}}
		padResetAfter(h)
		said, _ := strconv.ParseFloat(v, 64)
		if got := discordgoWait(h.Get("X-RateLimit-Reset-After")); got < time.Duration(said*float64(time.Second)) {
			t.Errorf("Reset-After %s padded to %s: discordgo waits %v, less than said", v, h.Get("X-RateLimit-Reset-After"), got)
		}
	}
	for _, v := range []string{"", "soon", "-1"} {
		h := http.Header{}
		if v != "" {
			h.Set("X-RateLimit-Reset-After", v)
		}
		padResetAfter(h)
		if got := h.Get("X-RateLimit-Reset-After"); got != v {
			t.Errorf("Reset-After %q became %q, want it left alone", v, got)
		}
	}
}
