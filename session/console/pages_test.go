package console_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/session/console"
)

// TestPages shows every page of an empty install and of a busy one, and
// checks each says what the install holds.
func TestPages(t *testing.T) {
	empty, etok := newInstall(t, options{token: true})
	busy, btok := newInstall(t, options{token: true, sessions: 120, logLines: 40})
	id := busy.ids[0]
	tests := []struct {
		name string
		in   *install
		tok  string
		path string
		want []string // in the page
		not  []string // never in it
	}{
		{"empty overview", empty, etok, "/", []string{"Overview", "No session yet", "No container is running", "slack", "connected", "none yet"}, nil},
		{"empty sessions", empty, etok, "/sessions", []string{"0 sessions", "No session matches"}, nil},
		{"empty logs", empty, etok, "/logs", []string{"No line matches yet"}, nil},
		{"empty groups", empty, etok, "/groups", []string{"No group yet"}, nil},
		{"empty api", empty, etok, "/api/overview", []string{`"Active": 0`, `"Cap": 4`}, nil},

		{"busy overview", busy, btok, "/", []string{"120", "ops, team", "Recent sessions", `href="/sessions/` + id + `"`,
			"o-failed", "berth-team-", "12.5%", "50.0 MiB", "1<small> pending</small>", "1 failed", "slack:general"}, nil},
		{"busy sessions, page 1", busy, btok, "/sessions", []string{"120 sessions", "page 1 of 3", "Older →", id[:12]}, []string{"← Newer"}},
		{"busy sessions, page 3", busy, btok, "/sessions?page=3", []string{"page 3 of 3", "← Newer"}, []string{"Older →"}},
		{"busy sessions by group", busy, btok, "/sessions?group=ops", []string{"60 sessions", "discord:general"}, []string{"slack:general"}},
		{"busy sessions by channel", busy, btok, "/sessions?channel=slack", []string{"60 sessions", "slack:general"}, []string{"discord:general"}},
		{"busy sessions by state", busy, btok, "/sessions?state=running", []string{"1 session<", id[:12]}, nil},
		{"busy sessions, unknown group", busy, btok, "/sessions?group=nope", []string{"0 sessions"}, nil},
		{"busy session", busy, btok, "/sessions/" + id, []string{"o-answered", "o-queued", "o-failed", "the model refused",
			"posted as <code>1700000000.000100</code>", "hello &lt;b&gt;there&lt;/b&gt;", "Ana", "berth-team-",
			`href="/sessions/` + id + `/stop"`, `href="/sessions/` + id + `/reset"`, "<dd>0 (no budget)</dd>", `data-stream="/sessions/` + id + `/output"`},
			[]string{"<b>there</b>"}},
		{"busy logs", busy, btok, "/logs", []string{"message routed", "send retried", `data-stream="/logs/stream?"`}, nil},
		{"busy logs by level", busy, btok, "/logs?level=warn", []string{"send retried"}, []string{"message routed"}},
		{"busy logs by group", busy, btok, "/logs?group=team", []string{"message routed"}, []string{"send retried"}},
		{"busy logs, bad level", busy, btok, "/logs?level=loud", []string{"use debug, info, warn or error"}, nil},
		{"busy groups", busy, btok, "/groups", []string{`id="g-team"`, `id="g-ops"`, "slack:general", "discord:general", "per-thread",
			"daily_budget_tokens", "memory", "default"}, nil},
		{"busy api", busy, btok, "/api/overview", []string{`"Active": 120`, `"Pending": 1`, `"Failed": 1`, `"CPUPercent": 12.5`}, nil},
		{"no such session", busy, btok, "/sessions/nope", []string{"There is no session nope"}, nil},
	}
	for _, tt := range tests {
		w := get(t, tt.in.srv, tt.path, bearer(tt.tok))
		body := w.Body.String()
		want := http.StatusOK
		if tt.name == "no such session" {
			want = http.StatusNotFound
		}
		if w.Code != want {
			t.Errorf("%s: %d, want %d:\n%s", tt.name, w.Code, want, body)
			continue
		}
		for _, s := range tt.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s: no %q in the page", tt.name, s)
			}
		}
		for _, s := range tt.not {
			if strings.Contains(body, s) {
				t.Errorf("%s: %q in the page", tt.name, s)
			}
		}
		if strings.Contains(body, tt.tok) {
			t.Errorf("%s: the page shows the token", tt.name)
		}
	}
}

// TestActions stops a session's container and resets a session from
// their confirmation pages, and checks a post without the page's CSRF
// token does nothing.
func TestActions(t *testing.T) {
	in, tok := newInstall(t, options{token: true, sessions: 3})
	id := in.ids[0]
	h := login(t, in.srv, tok)
	confirm := get(t, in.srv, "/sessions/"+id+"/stop", h)
	if confirm.Code != http.StatusOK || !strings.Contains(confirm.Body.String(), `action="/sessions/`+id+`/stop"`) {
		t.Fatalf("confirmation page: %d\n%s", confirm.Code, confirm.Body.String())
	}
	token := csrf(t, confirm.Body.String())
	other := newServerCSRF(t)
	for _, bad := range []struct{ name, csrf string }{{"no CSRF token", ""}, {"a wrong one", "x" + token}, {"another install's", other}} {
		for _, action := range []string{"stop", "reset"} {
			w := post(t, in.srv, "/sessions/"+id+"/"+action, url.Values{"csrf": {bad.csrf}}, h)
			if w.Code != http.StatusForbidden {
				t.Errorf("%s with %s: %d, want 403", action, bad.name, w.Code)
			}
		}
	}
	if in.rt.running() != 1 || in.sessions.wasReset(id) {
		t.Fatal("a refused action did something")
	}
	if !strings.Contains(in.logs.String(), "action refused") {
		t.Error("refused actions are not logged")
	}

	w := post(t, in.srv, "/sessions/"+id+"/stop", url.Values{"csrf": {token}}, h)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/sessions/"+id+"?done=stopped" {
		t.Fatalf("stop: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if in.rt.running() != 0 {
		t.Error("stop left the container running")
	}
	if l := in.logs.String(); !strings.Contains(l, `"msg":"console: container stopped"`) || !strings.Contains(l, `"session":"`+id+`"`) {
		t.Errorf("stop not logged with the session: %s", l)
	}
	if page := get(t, in.srv, "/sessions/"+id+"?done=stopped", h); !strings.Contains(page.Body.String(), "The container was stopped") ||
		strings.Contains(page.Body.String(), `id="stop"`) {
		t.Error("the session page does not say the container was stopped, or still offers to stop it")
	}
	if w := post(t, in.srv, "/sessions/"+id+"/stop", url.Values{"csrf": {token}}, h); w.Header().Get("Location") != "/sessions/"+id+"?done=none" {
		t.Errorf("stop with nothing running: to %q", w.Header().Get("Location"))
	}

	w = post(t, in.srv, "/sessions/"+id+"/reset", url.Values{"csrf": {token}}, h)
	if w.Code != http.StatusSeeOther || !in.sessions.wasReset(id) {
		t.Fatalf("reset: %d, reset %v", w.Code, in.sessions.wasReset(id))
	}
	if s, err := in.store.Session(context.Background(), id); err != nil || s.Status != data.SessionClosed {
		t.Errorf("after reset the session is %v, %v", s.Status, err)
	}
	if !strings.Contains(in.logs.String(), `"msg":"console: session reset"`) {
		t.Error("reset not logged")
	}
	if w := post(t, in.srv, "/sessions/"+id+"/reset", url.Values{"csrf": {token}}, h); w.Code != http.StatusConflict {
		t.Errorf("reset of a closed session: %d, want 409", w.Code)
	}
	if w := get(t, in.srv, "/sessions/"+id+"/reset", h); w.Code != http.StatusConflict {
		t.Errorf("confirming the reset of a closed session: %d, want 409", w.Code)
	}
	for _, path := range []string{"/sessions/nope/stop", "/sessions/" + id + "/explode"} {
		if w := get(t, in.srv, path, h); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.Code)
		}
	}
}

// TestStoreFailureIsNotNotFound: a session that does not exist is 404 on
// the confirmation page, the action and the output stream; a store that
// fails is 500 and a line in the log, not "no such session".
func TestStoreFailureIsNotNotFound(t *testing.T) {
	in, tok := newInstall(t, options{token: true, sessions: 1})
	id := in.ids[0]
	h := login(t, in.srv, tok)
	token := csrf(t, get(t, in.srv, "/sessions/"+id+"/stop", h).Body.String())
	ask := func(method, path string) int {
		if method == http.MethodPost {
			return post(t, in.srv, path, url.Values{"csrf": {token}}, h).Code
		}
		return get(t, in.srv, path, h).Code
	}
	reqs := []struct{ method, path string }{
		{http.MethodGet, "/sessions/%s/stop"}, {http.MethodGet, "/sessions/%s/reset"},
		{http.MethodPost, "/sessions/%s/stop"}, {http.MethodPost, "/sessions/%s/reset"},
		{http.MethodGet, "/sessions/%s/output"},
	}
	for _, rq := range reqs {
		if code := ask(rq.method, fmt.Sprintf(rq.path, "nope")); code != http.StatusNotFound {
			t.Errorf("%s %s of no session: %d, want 404", rq.method, rq.path, code)
		}
	}
	if err := in.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, rq := range reqs {
		if code := ask(rq.method, fmt.Sprintf(rq.path, id)); code != http.StatusInternalServerError {
			t.Errorf("%s %s with the store failing: %d, want 500", rq.method, rq.path, code)
		}
	}
	if n := strings.Count(in.logs.String(), `"msg":"console: read session"`); n != len(reqs) {
		t.Errorf("%d log lines about the store failing, want %d:\n%s", n, len(reqs), in.logs.String())
	}
}

// newServerCSRF is the CSRF token another install's console gives its
// own pages, for its own token.
func newServerCSRF(t *testing.T) string {
	in, tok := newInstall(t, options{token: true})
	return csrf(t, get(t, in.srv, "/", login(t, in.srv, tok)).Body.String())
}

// TestLogsStream follows the gateway log: the last lines first, then a
// line written after the stream began.
func TestLogsStream(t *testing.T) {
	in, tok := newInstall(t, options{token: true, logLines: 6})
	ts := httptest.NewServer(in.srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/logs/stream?level=warn", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readEvents(resp.Body)
	want := []string{"reset", "line send retried n=1", "line send retried n=3", "line send retried n=5"}
	for _, w := range want {
		if got := <-events; !strings.HasPrefix(got, strings.Fields(w)[0]) || !containsAll(got, strings.Fields(w)[1:]) {
			t.Fatalf("event %q, want %q", got, w)
		}
	}
	f, err := os.OpenFile(in.home.GatewayLog(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(f, nil))
	log.Info("not shown: below the level")
	log.Error("written while followed", "group", "team")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-events; !strings.Contains(got, "written while followed") {
		t.Fatalf("followed event %q", got)
	}
}

// TestOutputStream follows a session's container output: from the engine,
// or from the file berth run captures it into; a runner's JSON line is
// shown as a log line, a control character never reaches the page.
func TestOutputStream(t *testing.T) {
	for _, captured := range []bool{false, true} {
		in, tok := newInstall(t, options{token: true, sessions: 2, captured: captured})
		id := in.ids[0]
		if captured {
			line := time.Now().UTC().Format(time.RFC3339Nano) + ` stderr {"time":"2026-01-02T15:04:05Z","level":"INFO","msg":"runner started","provider":"echo"}` + "\n" +
				time.Now().UTC().Format(time.RFC3339Nano) + " stdout plain \x1b[31mred\n"
			if err := os.MkdirAll(filepath.Dir(in.home.SessionLog(id)), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(in.home.SessionLog(id), []byte(line), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ts := httptest.NewServer(in.srv)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/sessions/"+id+"/output", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		events := readEvents(resp.Body)
		if got := <-events; !strings.HasPrefix(got, "reset") {
			t.Errorf("captured %v: first event %q, want reset", captured, got)
		}
		if got := <-events; !strings.HasPrefix(got, "line") || !strings.Contains(got, `"m":"runner started"`) {
			t.Errorf("captured %v: event %q, want the runner's line", captured, got)
		}
		if captured {
			if got := <-events; !strings.Contains(got, "plain") || strings.Contains(got, "\\u001b") {
				t.Errorf("captured: event %q, want the plain line without its escape", got)
			}
		} else if got := <-events; !strings.HasPrefix(got, "idle") {
			t.Errorf("engine: event %q, want idle once the container's output ends", got)
		}
		cancel()
		resp.Body.Close()
		ts.Close()
		// A session with no container: said, and the stream ends.
		if !captured {
			w := get(t, in.srv, "/sessions/"+in.ids[1]+"/output", bearer(tok))
			if !strings.Contains(w.Body.String(), "event: idle") {
				t.Errorf("no container: %q", w.Body.String())
			}
		}
	}
}

// readEvents sends each event of an SSE stream as "name data".
func readEvents(r io.Reader) <-chan string {
	out := make(chan string, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		name, data := "", ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && name != "":
				out <- fmt.Sprintf("%s %s", name, data)
				name, data = "", ""
			}
		}
	}()
	return out
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestStreamsEndWhenTokenRotated: a stream opened with a token sends
// nothing more once the token is rotated, as every page refuses it.
func TestStreamsEndWhenTokenRotated(t *testing.T) {
	in, tok := newInstall(t, options{token: true, logLines: 2})
	ts := httptest.NewServer(in.srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/logs/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := readEvents(resp.Body)
	for range 3 { // reset and the two lines there are
		if _, ok := <-events; !ok {
			t.Fatal("the stream ended before its backlog")
		}
	}
	if _, err := console.NewToken(in.home); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(in.home.GatewayLog(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	slog.New(slog.NewJSONHandler(f, nil)).Error("written after the rotation")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		if strings.Contains(ev, "written after the rotation") {
			t.Fatalf("a stream of a rotated token sent %q", ev)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the stream of a rotated token did not end")
	}
}

// TestEngineDown: a runtime that cannot list its containers is said on
// the session's output stream and logged, never taken for "no container".
func TestEngineDown(t *testing.T) {
	in, tok := newInstall(t, options{token: true, sessions: 1})
	in.rt.failList(errors.New("engine down"))
	w := get(t, in.srv, "/sessions/"+in.ids[0]+"/output", bearer(tok))
	if body := w.Body.String(); !strings.Contains(body, "event: idle") || strings.Contains(body, "no container is running") {
		t.Errorf("output stream with the engine down: %q, want idle saying the containers cannot be listed", body)
	}
	in.srv.Refresh(context.Background())
	logged := in.logs.String()
	for _, msg := range []string{"console: list the session's containers", "console: list containers for their figures"} {
		if !strings.Contains(logged, msg) || !strings.Contains(logged, "engine down") {
			t.Errorf("log %q, want %q with the engine's error", logged, msg)
		}
	}
}
