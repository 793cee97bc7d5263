package console_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/console"
)

// get asks the console for path as a browser (or a script, without
// html) would, with the header h.
func get(t testing.TB, srv http.Handler, path string, h map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return getFrom(t, srv, "192.0.2.1:1234", path, h)
}

// getFrom is get from the remote address remote.
func getFrom(t testing.TB, srv http.Handler, remote, path string, h map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = remote
	for k, v := range h {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w
}

// post submits a form.
func post(t testing.TB, srv http.Handler, path string, form url.Values, h map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return postFrom(t, srv, "192.0.2.1:1234", path, form, h)
}

// postFrom is post from the remote address remote.
func postFrom(t testing.TB, srv http.Handler, remote, path string, form url.Values, h map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.RemoteAddr = remote
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// cookie is a Cookie header that sends value as the login cookie of the
// install at home.
func cookie(home paths.Home, value string) map[string]string {
	return map[string]string{"Cookie": console.CookieName(home) + "=" + value}
}

// login logs in to srv with tok at the form, as a browser does, and
// returns the Cookie header the browser then sends.
func login(t testing.TB, srv http.Handler, tok string) map[string]string {
	t.Helper()
	w := post(t, srv, "/login", url.Values{"token": {tok}, "next": {"/"}}, nil)
	cs := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cs) != 1 {
		t.Fatalf("login: %d, cookies %v; want 303 and one", w.Code, cs)
	}
	return map[string]string{"Cookie": cs[0].Name + "=" + cs[0].Value}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token a page's form carries.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", body)
	}
	return m[1]
}

// protected are the console's pages and APIs, every one behind the token.
func protected(id string) []string {
	return []string{"/", "/api/overview", "/sessions", "/sessions/" + id, "/sessions/" + id + "/output",
		"/sessions/" + id + "/stop", "/sessions/" + id + "/reset", "/logs", "/logs/stream", "/groups"}
}

func TestAuth(t *testing.T) {
	in, tok := newInstall(t, options{sessions: 3, token: true})
	other, otherTok := newInstall(t, options{token: true})
	otherCookie := strings.SplitN(login(t, other.srv, otherTok)["Cookie"], "=", 2)[1]
	// Two installs on one host keep their cookies apart.
	if a, b := console.CookieName(in.home), console.CookieName(other.home); a == b || !strings.HasPrefix(a, "berth_console_") {
		t.Errorf("cookie names %q and %q: want one of each install's", a, b)
	}
	html := map[string]string{"Accept": "text/html"}
	for i, path := range protected(in.ids[0]) {
		// Each path from an address of its own: more wrong tokens than
		// the limit lets one address send (TestWrongTokensLimited).
		remote := fmt.Sprintf("192.0.2.%d:1234", 10+i)
		tests := []struct {
			name string
			h    map[string]string
			want int
		}{
			{"no token", nil, http.StatusUnauthorized},
			{"wrong token", bearer(console.TokenPrefix + "not-it"), http.StatusUnauthorized},
			{"another install's token", bearer(otherTok), http.StatusUnauthorized},
			{"another install's token as a cookie", cookie(in.home, otherTok), http.StatusUnauthorized},
			// The cookie is not the token: the token itself sent as one
			// opens nothing.
			{"the token as a cookie", cookie(in.home, tok), http.StatusUnauthorized},
			{"another install's cookie", cookie(in.home, otherCookie), http.StatusUnauthorized},
			{"the token as the cookie of the old name", map[string]string{"Cookie": "berth_console=" + tok}, http.StatusUnauthorized},
			{"empty bearer", bearer(""), http.StatusUnauthorized},
		}
		for _, tt := range tests {
			if w := getFrom(t, in.srv, remote, path, tt.h); w.Code != tt.want {
				t.Errorf("GET %s, %s: %d, want %d", path, tt.name, w.Code, tt.want)
			} else if strings.Contains(w.Body.String(), tok) {
				t.Errorf("GET %s, %s: the answer shows the token", path, tt.name)
			}
		}
		if w := post(t, in.srv, path, url.Values{}, nil); w.Code != http.StatusUnauthorized && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s without a token: %d, want 401", path, w.Code)
		}
	}
	// A browser asking for a page is sent to the login form.
	// The whole address asked for comes back after the login, query and all.
	if w := get(t, in.srv, "/sessions?group=team&state=closed", html); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != "/login?next="+url.QueryEscape("/sessions?group=team&state=closed") {
		t.Errorf("page without a token: %d to %q, want 303 to the login form", w.Code, w.Header().Get("Location"))
	}
	// The right token, as a bearer header or a cookie.
	for name, h := range map[string]map[string]string{"bearer": bearer(tok), "cookie": login(t, in.srv, tok)} {
		if w := get(t, in.srv, "/api/overview", h); w.Code != http.StatusOK {
			t.Errorf("%s: %d, want 200", name, w.Code)
		}
	}
	// The login form, its style and script need no token.
	for _, path := range []string{"/login", "/static/console.css", "/static/console.js"} {
		if w := get(t, in.srv, path, nil); w.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, w.Code)
		}
	}
}

func TestLogin(t *testing.T) {
	in, tok := newInstall(t, options{token: true})
	_, otherTok := newInstall(t, options{token: true})
	for _, wrong := range []string{"", "nope", otherTok} {
		w := post(t, in.srv, "/login", url.Values{"token": {wrong}, "next": {"/groups"}}, nil)
		if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
			t.Errorf("login with %q: %d, cookies %v; want 401 and none", wrong, w.Code, w.Result().Cookies())
		}
	}
	tests := []struct {
		name   string
		next   string
		proto  string
		where  string
		secure bool
	}{
		{"back to the page asked for", "/groups", "", "/groups", false},
		{"never to another site", "//evil.example/x", "", "/", false},
		// A browser drops tabs and newlines from a Location, and reads a
		// backslash as a slash: each of these would be //evil.example.
		{"never to another site past a tab", "/\t/evil.example/x", "", "/", false},
		{"never to another site past a newline", "/\n/evil.example/x", "", "/", false},
		{"never to another site past a backslash", "/\\evil.example/x", "", "/", false},
		{"never to another site by a scheme", "https://evil.example/x", "", "/", false},
		{"a query kept", "/sessions?group=a&state=closed", "", "/sessions?group=a&state=closed", false},
		{"behind a TLS proxy", "/", "https", "/", true},
	}
	for _, tt := range tests {
		h := map[string]string{}
		if tt.proto != "" {
			h["X-Forwarded-Proto"] = tt.proto
		}
		w := post(t, in.srv, "/login", url.Values{"token": {tok}, "next": {tt.next}}, h)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tt.where {
			t.Errorf("%s: %d to %q, want 303 to %q", tt.name, w.Code, w.Header().Get("Location"), tt.where)
			continue
		}
		cs := w.Result().Cookies()
		if len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Secure != tt.secure {
			t.Errorf("%s: cookie %+v, want one HttpOnly SameSite=Strict, Secure %v", tt.name, cs, tt.secure)
			continue
		}
		if g := get(t, in.srv, "/", map[string]string{"Cookie": cs[0].Name + "=" + cs[0].Value}); g.Code != http.StatusOK {
			t.Errorf("%s: the cookie opens nothing: %d", tt.name, g.Code)
		}
		if cs[0].Name != console.CookieName(in.home) || strings.Contains(cs[0].Value, tok) || strings.Contains(cs[0].Value, strings.TrimPrefix(tok, console.TokenPrefix)) {
			t.Errorf("%s: cookie %s=%s: want the install's name and not the token", tt.name, cs[0].Name, cs[0].Value)
		}
	}
	// A rotated token stops working at once, and so does every cookie
	// it logged in; the new one works.
	old := login(t, in.srv, tok)
	newTok, err := console.NewToken(in.home)
	if err != nil {
		t.Fatal(err)
	}
	if w := get(t, in.srv, "/", bearer(tok)); w.Code != http.StatusUnauthorized {
		t.Errorf("rotated token: %d, want 401", w.Code)
	}
	if w := get(t, in.srv, "/", old); w.Code != http.StatusUnauthorized {
		t.Errorf("cookie of a rotated token: %d, want 401", w.Code)
	}
	h := login(t, in.srv, newTok)
	if w := get(t, in.srv, "/", h); w.Code != http.StatusOK {
		t.Errorf("new token: %d, want 200", w.Code)
	}
	// Logging out needs the form's CSRF token, and clears the cookie.
	page := get(t, in.srv, "/", h)
	if w := post(t, in.srv, "/logout", url.Values{}, h); w.Code != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d, want 403", w.Code)
	}
	w := post(t, in.srv, "/logout", url.Values{"csrf": {csrf(t, page.Body.String())}}, h)
	if cs := w.Result().Cookies(); w.Code != http.StatusSeeOther || len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout: %d, cookies %+v; want 303 clearing the cookie", w.Code, cs)
	}
}

func TestOpenOnLoopbackOnly(t *testing.T) {
	open, _ := newInstall(t, options{sessions: 1, loopback: true})
	closed, _ := newInstall(t, options{sessions: 1})
	tests := []struct {
		name string
		srv  *console.Server
		host string
		h    map[string]string
		want int
	}{
		{"loopback, no token", open.srv, "127.0.0.1:7777", nil, http.StatusOK},
		{"loopback by name", open.srv, "localhost:7777", nil, http.StatusOK},
		{"loopback, IPv6", open.srv, "[::1]:7777", nil, http.StatusOK},
		{"another site's name (DNS rebinding)", open.srv, "evil.example:7777", nil, http.StatusUnauthorized},
		{"not loopback, no token", closed.srv, "127.0.0.1:7777", nil, http.StatusUnauthorized},
		// A reverse proxy on this host (which may well set Host to the
		// address it forwards to) serves whoever reaches it: not this host.
		{"through a proxy (X-Forwarded-For)", open.srv, "127.0.0.1:7777", map[string]string{"X-Forwarded-For": "203.0.113.9"}, http.StatusUnauthorized},
		{"through a proxy (Forwarded)", open.srv, "127.0.0.1:7777", map[string]string{"Forwarded": "for=203.0.113.9"}, http.StatusUnauthorized},
		{"through a proxy (X-Real-IP)", open.srv, "127.0.0.1:7777", map[string]string{"X-Real-IP": "203.0.113.9"}, http.StatusUnauthorized},
		{"through a proxy (X-Forwarded-Host)", open.srv, "127.0.0.1:7777", map[string]string{"X-Forwarded-Host": "berth.example"}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		for _, path := range protected(open.ids[0]) {
			if strings.HasSuffix(path, "/stream") || strings.HasSuffix(path, "/output") {
				continue // streams until the client leaves
			}
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Host = tt.host
			for k, v := range tt.h {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tt.srv.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("%s: GET %s: %d, want %d", tt.name, path, w.Code, tt.want)
			}
		}
	}
}

func TestCheckListen(t *testing.T) {
	noToken := paths.Home(t.TempDir())
	withToken := paths.Home(t.TempDir())
	if _, err := console.NewToken(withToken); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		home     paths.Home
		ip       string
		loopback bool
		ok       bool
	}{
		{"no token, loopback", noToken, "127.0.0.1", true, true},
		{"no token, IPv6 loopback", noToken, "::1", true, true},
		{"no token, every address", noToken, "0.0.0.0", false, false},
		{"no token, a LAN address", noToken, "192.168.1.10", false, false},
		{"token, every address", withToken, "0.0.0.0", false, true},
		{"token, loopback", withToken, "127.0.0.1", true, true},
	}
	for _, tt := range tests {
		lb, err := console.CheckListen(tt.home, &net.TCPAddr{IP: net.ParseIP(tt.ip), Port: 7777})
		if lb != tt.loopback || (err == nil) != tt.ok {
			t.Errorf("%s: loopback %v, err %v; want %v, ok %v", tt.name, lb, err, tt.loopback, tt.ok)
		}
	}
}

func TestToken(t *testing.T) {
	home := paths.Home(t.TempDir())
	if has, err := console.HasToken(home); has || err != nil {
		t.Fatalf("fresh install: has %v, %v", has, err)
	}
	tok, err := console.NewToken(home)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, console.TokenPrefix) || len(tok) < len(console.TokenPrefix)+43 {
		t.Errorf("token %q: want the prefix and 256 random bits", tok)
	}
	b, fi := readFile(t, home.ConsoleToken())
	if strings.Contains(b, strings.TrimPrefix(tok, console.TokenPrefix)) {
		t.Error("the token file holds the token, not its hash")
	}
	if fi&0o077 != 0 {
		t.Errorf("token file mode %o, want 0600", fi)
	}
	again, err := console.NewToken(home)
	if err != nil || again == tok {
		t.Errorf("rotate: %q, %v; want a new token", again, err)
	}
}

// The login form, opened with a token already shown, goes back to next
// only when it is a path of the console's own.
func TestLoginPageNext(t *testing.T) {
	in, tok := newInstall(t, options{token: true})
	h := login(t, in.srv, tok)
	tests := []struct{ next, where string }{
		{"/groups", "/groups"},
		{"//evil.example/x", "/"},
		{"/%09/evil.example/x", "/"},
		{"/%0A/evil.example/x", "/"},
		{"/%5Cevil.example/x", "/"},
	}
	for _, tt := range tests {
		w := get(t, in.srv, "/login?next="+tt.next, h)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tt.where {
			t.Errorf("GET /login?next=%s with the token: %d to %q, want 303 to %q", tt.next, w.Code, w.Header().Get("Location"), tt.where)
		}
	}
}

// TestOpenConsoleRefusedSaysWhy: a request the open console does not
// answer (through a proxy, under another name) is told there is no token
// to log in with, instead of going round between the login form and the
// page it asked for.
func TestOpenConsoleRefusedSaysWhy(t *testing.T) {
	open, _ := newInstall(t, options{loopback: true})
	proxied := map[string]string{"X-Forwarded-For": "203.0.113.9"}
	r := httptest.NewRequest(http.MethodGet, "/login?next=/groups", nil)
	r.Host = "127.0.0.1:7777"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	w := httptest.NewRecorder()
	open.srv.ServeHTTP(w, r)
	if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, "no console token") || strings.Contains(body, `name="token"`) {
		t.Errorf("GET /login through a proxy: %d, want the page saying there is no token, without a form:\n%s", w.Code, body)
	}
	p := post(t, open.srv, "/login", url.Values{"token": {"x"}, "next": {"/groups"}}, proxied)
	if p.Code != http.StatusForbidden || p.Header().Get("Location") != "" {
		t.Errorf("POST /login through a proxy: %d to %q, want 403 and no redirect back to a page that refuses it", p.Code, p.Header().Get("Location"))
	}
	// Directly from this host, the login form sends the browser on.
	r = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"next": {"/groups"}}.Encode()))
	r.Host = "127.0.0.1:7777"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	d := httptest.NewRecorder()
	open.srv.ServeHTTP(d, r)
	if d.Code != http.StatusSeeOther || d.Header().Get("Location") != "/groups" {
		t.Errorf("POST /login directly: %d to %q, want 303 to /groups", d.Code, d.Header().Get("Location"))
	}
}

// TestWrongTokensLimited: wrong tokens at the login form and as bearer
// headers share one limit per remote address and one for all, answered
// 429 with Retry-After (a right token too, while it holds, so the answer
// does not tell a right guess); the log says so at most once a minute,
// with how many came.
func TestWrongTokensLimited(t *testing.T) {
	in, tok := newInstall(t, options{token: true})
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	console.SetNow(in.srv, func() time.Time { return now })
	const a, b = "198.51.100.1:4000", "198.51.100.2:4000"
	wrongBearer := bearer(console.TokenPrefix + "not-it")
	wrongForm := url.Values{"token": {console.TokenPrefix + "not-it"}}
	// Ten wrong ones from a, bearer and form alike, are told so.
	for i := range 10 {
		var code int
		if i%2 == 0 {
			code = getFrom(t, in.srv, a, "/api/overview", wrongBearer).Code
		} else {
			code = postFrom(t, in.srv, a, "/login", wrongForm, nil).Code
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i+1, code)
		}
	}
	// Then a is refused, whatever token it sends, the right one too.
	for name, do := range map[string]func() *httptest.ResponseRecorder{
		"wrong bearer": func() *httptest.ResponseRecorder { return getFrom(t, in.srv, a, "/api/overview", wrongBearer) },
		"right bearer": func() *httptest.ResponseRecorder { return getFrom(t, in.srv, a, "/api/overview", bearer(tok)) },
		"wrong login":  func() *httptest.ResponseRecorder { return postFrom(t, in.srv, a, "/login", wrongForm, nil) },
		"right login": func() *httptest.ResponseRecorder {
			return postFrom(t, in.srv, a, "/login", url.Values{"token": {tok}}, nil)
		},
	} {
		w := do()
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "6" {
			t.Errorf("%s from a over the limit: %d, Retry-After %q; want 429, 6", name, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if w := getFrom(t, in.srv, b, "/api/overview", bearer(tok)); w.Code != http.StatusOK {
		t.Errorf("right bearer from b: %d, want 200", w.Code)
	}
	// One more after wrongEvery, then refused again.
	now = now.Add(6 * time.Second)
	if w := getFrom(t, in.srv, a, "/api/overview", wrongBearer); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong bearer from a 6 s later: %d, want 401", w.Code)
	}
	if w := getFrom(t, in.srv, a, "/api/overview", wrongBearer); w.Code != http.StatusTooManyRequests {
		t.Errorf("the next: %d, want 429", w.Code)
	}
	// All addresses together: 100 (refilled 5 a second: whole again
	// after the 6 s), then everyone waits.
	for i := range 99 {
		if w := getFrom(t, in.srv, fmt.Sprintf("203.0.113.%d:1", i), "/api/overview", wrongBearer); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong bearer %d from an address of its own: %d, want 401", i, w.Code)
		}
	}
	if w := getFrom(t, in.srv, b, "/api/overview", bearer(tok)); w.Code != http.StatusTooManyRequests {
		t.Errorf("right bearer from b past the global limit: %d, want 429", w.Code)
	}
	// One line in the minute, then one with the count.
	if n := wrongLines(t, in); len(n) != 1 || n[0] != [2]int{1, 0} {
		t.Errorf("log lines (wrong, refused) in the first minute: %v, want one [1 0]", n)
	}
	now = now.Add(time.Minute)
	getFrom(t, in.srv, "203.0.113.200:1", "/api/overview", wrongBearer)
	if n := wrongLines(t, in); len(n) != 2 || n[1] != [2]int{110, 6} {
		t.Errorf("log lines (wrong, refused) after a minute: %v; want a second, [110 6]: what came since the first", n)
	}
}

// wrongLines are the wrong and refused counts of the log's lines about
// wrong tokens.
func wrongLines(t *testing.T, in *install) [][2]int {
	t.Helper()
	var out [][2]int
	for _, line := range strings.Split(strings.TrimSpace(in.logs.String()), "\n") {
		var l struct {
			Msg            string
			Wrong, Refused int
		}
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l.Msg == "console: wrong token" {
			out = append(out, [2]int{l.Wrong, l.Refused})
		}
	}
	return out
}
