package credproxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOnlyTheProvidersCallsAreForwarded: the host's key goes only with the
// calls berth's agents make; file deletion, batches, admin endpoints and
// everything else are refused before they leave the host.
func TestOnlyTheProvidersCallsAreForwarded(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer up.Close()
	rg := newRig(t, up.URL, Limits{})
	sock := rg.serve(t, "team")
	tests := []struct {
		method, path string
		hdr          map[string]string
		want         int
		upstream     string // what the upstream saw; "" when refused
	}{
		{"POST", "/anthropic/v1/messages", nil, 200, "POST /v1/messages"},
		{"POST", "/anthropic/v1/messages?beta=true", nil, 200, "POST /v1/messages"},
		{"POST", "/anthropic/v1/messages/count_tokens", nil, 200, "POST /v1/messages/count_tokens"},
		{"GET", "/anthropic/v1/models", nil, 200, "GET /v1/models"},
		{"GET", "/anthropic/v1/models/claude-sonnet-4-5", nil, 200, "GET /v1/models/claude-sonnet-4-5"},
		{"POST", "/openai/chat/completions", nil, 200, "POST /v1/chat/completions"},
		{"GET", "/openai/models", nil, 200, "GET /v1/models"},
		{"GET", "/openai/models/llama3.2:3b", nil, 200, "GET /v1/models/llama3.2:3b"},

		{"DELETE", "/anthropic/v1/files/file_011CNha8iCJcU1wXNR6q4V8w", nil, 403, ""},
		{"GET", "/anthropic/v1/files", nil, 403, ""},
		{"POST", "/anthropic/v1/messages/batches", nil, 403, ""},
		{"GET", "/anthropic/v1/organizations/api_keys", nil, 403, ""},
		{"POST", "/anthropic/v1/organizations/invites", nil, 403, ""},
		{"GET", "/anthropic/v1/messages", nil, 403, ""},
		{"DELETE", "/anthropic/v1/messages", nil, 403, ""},
		{"PUT", "/anthropic/v1/messages", nil, 403, ""},
		{"POST", "/anthropic//v1/messages", nil, 403, ""},
		{"POST", "/anthropic/v1/messages/", nil, 403, ""},
		{"GET", "/anthropic/v1/models/a/b", nil, 403, ""},
		{"GET", "/anthropic/v1/models/..", nil, 403, ""},
		{"GET", "/anthropic/v1/models%2F..%2Ffiles", nil, 403, ""},
		{"POST", "/anthropic/v1/messages", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}, 403, ""},
		{"POST", "/openai/files", nil, 403, ""},
		{"DELETE", "/openai/models/ft:gpt-4o:acme:1", nil, 403, ""},
		{"GET", "/openai/organization/costs", nil, 403, ""},
		{"POST", "/openai/v1/chat/completions", nil, 403, ""},
		{"POST", "/openai/fine_tuning/jobs", nil, 403, ""},
		{"POST", "/evil.example.com/steal", nil, 403, ""},
	}
	for _, tt := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		code, _, body := call(t, sock, tt.method, tt.path, "{}", tt.hdr)
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if code != tt.want || got != tt.upstream {
			t.Errorf("%s %s: %d, upstream saw %q; want %d, %q (body %q)", tt.method, tt.path, code, got, tt.want, tt.upstream, body)
		}
	}
}

// TestRefusalsAreLoggedAtMostOncePerWindow: an agent can send refused
// calls in a loop; each group gets one log line per window, and the next
// line counts the ones left out.
func TestRefusalsAreLoggedAtMostOncePerWindow(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer up.Close()
	rg := newRig(t, up.URL, Limits{})
	rg.p.refusals.every = time.Second
	a, b := rg.serve(t, "alpha"), rg.serve(t, "beta")
	for i := 0; i < 30; i++ {
		if code, _, _ := call(t, a, "DELETE", "/anthropic/v1/files/f1", "", nil); code != 403 {
			t.Fatalf("DELETE forwarded: %d", code)
		}
	}
	call(t, b, "GET", "/anthropic/v1/organizations/users", "", nil)
	lines := func(group string) []string {
		var n []string
		for _, l := range strings.Split(rg.log.String(), "\n") {
			if strings.Contains(l, "group="+group) && strings.Contains(l, "refused") {
				n = append(n, l)
			}
		}
		return n
	}
	if n := lines("alpha"); len(n) != 1 {
		t.Fatalf("30 refusals gave %d log lines for alpha: %q", len(n), n)
	}
	if n := lines("beta"); len(n) != 1 {
		t.Fatalf("beta's refusal was not logged on its own: %q", n)
	}
	time.Sleep(1100 * time.Millisecond)
	call(t, a, "POST", "/anthropic/v1/files", "", nil)
	n := lines("alpha")
	if len(n) != 2 || !strings.Contains(n[1], "suppressed=29") {
		t.Fatalf("after the window: %q", n)
	}
}
