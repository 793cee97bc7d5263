package channels

import "testing"

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"999", "1000", -1}, // snowflakes: a longer number is newer
		{"1000", "999", 1},
		{"1700000000.000200", "1700000000.000100", 1},
		{"1700000000.000100", "1700000000.000100", 0},
		{"", "1", -1},
	}
	for _, tt := range tests {
		if got := CompareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// State names the connection as readiness, status and the console show it.
func TestConnState(t *testing.T) {
	for _, tt := range []struct {
		c    Conn
		want string
	}{
		{Conn{Connected: true, LastError: "old"}, "connected"},
		{Conn{}, "connecting"},
		{Conn{LastError: "invalid_auth"}, "disconnected: invalid_auth"},
	} {
		if got := tt.c.State(); got != tt.want {
			t.Errorf("%+v.State() = %q, want %q", tt.c, got, tt.want)
		}
	}
}
