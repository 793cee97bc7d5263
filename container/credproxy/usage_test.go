package credproxy

import (
	"encoding/json"
	"testing"
)

func TestJSONUsageScanner(t *testing.T) {
	tests := []struct {
		body    string
		in, out int64
		ok      bool
	}{
		{`{"usage":{"input_tokens":1,"output_tokens":2}}`, 1, 2, true},
		{`{"id":"x","content":[{"usage":{"input_tokens":50}}],"usage" : {"prompt_tokens":3,"completion_tokens":4}}`, 3, 4, true},
		{`{"text":"a \"usage\": {\"input_tokens\": 9} \\","usage":{"input_tokens":5}}`, 5, 0, true},
		{`{"nested":{"usage":{"input_tokens":9}}}`, 0, 0, false},
		{`{"usage":null}`, 0, 0, false},
		{`[{"usage":{"input_tokens":9}}]`, 0, 0, false},
		{`not json`, 0, 0, false},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 3, 1000} { // the body arrives in pieces
			var s jsonUsage
			for i := 0; i < len(tt.body); i += step {
				s.feed([]byte(tt.body[i:min(i+step, len(tt.body))]))
			}
			u, ok := s.usage()
			if ok != tt.ok || u.input() != tt.in || u.output() != tt.out {
				b, _ := json.Marshal(u)
				t.Errorf("%s (in steps of %d): %s %v", tt.body, step, b, ok)
			}
		}
	}
}
