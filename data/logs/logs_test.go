package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.log")
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, `{"time":"2026-01-02T15:04:05.%03dZ","level":"INFO","msg":"line %03d"}`+"\n", i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	lineLen := int64(len(b.String()) / 100)
	tests := []struct {
		name  string
		tail  int64
		first string
		n     int
	}{
		{"whole file", 0, "line 000", 100},
		{"more than the file", 1 << 20, "line 000", 100},
		{"on a line's start", 3 * lineLen, "line 097", 3},
		{"inside a line", 3*lineLen - 5, "line 098", 2},
	}
	for _, tt := range tests {
		s := NewSource(path, "", Filter{})
		if tt.tail > 0 {
			s.FromTail(tt.tail)
		}
		var got []Entry
		for e, ok := s.Take(); ok; e, ok = s.Take() {
			got = append(got, e)
		}
		s.Close()
		if len(got) != tt.n || got[0].Msg != tt.first || !got[0].Parsed {
			t.Errorf("%s: %d lines from %+v, want %d from %q", tt.name, len(got), got[0], tt.n, tt.first)
		}
	}
}
