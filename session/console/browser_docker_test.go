package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/console"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// requireChromium finds Debian's chromium (or $BERTH_CHROMIUM). Without
// one the test skips, unless BERTH_REQUIRE_DOCKER=1 (CI, whose .ci/run
// installs it), under which it fails.
func requireChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() && os.Getenv("BERTH_REQUIRE_DOCKER") != "1" {
		t.Skip("drives a browser and needs Docker; skipped under -short (BERTH_REQUIRE_DOCKER=1 runs it)")
	}
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("BERTH_CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
		t.Fatalf("no browser found (%s): apt-get install chromium, as .ci/run does", strings.Join(names, ", "))
	}
	t.Skipf("no browser found (%s); apt-get install chromium runs this test", strings.Join(names, ", "))
	return ""
}

// chatChannel is a Slack-shaped channel the test speaks through: it
// hands the gateway what the test says, and records the answers.
type chatChannel struct {
	mu      sync.Mutex // guards handle
	handle  channels.Handler
	ready   chan struct{}
	once    sync.Once
	sent    atomic.Int64
	replies chan string
}

func newChatChannel() *chatChannel {
	return &chatChannel{ready: make(chan struct{}), replies: make(chan string, 16)}
}

func (c *chatChannel) Type() string { return "slack" }

func (c *chatChannel) Run(ctx context.Context, h channels.Handler) error {
	c.mu.Lock()
	c.handle = h
	c.mu.Unlock()
	c.once.Do(func() { close(c.ready) })
	<-ctx.Done()
	return nil
}

func (c *chatChannel) Send(_ context.Context, out channels.Outbound) (string, error) {
	n := c.sent.Add(1)
	c.replies <- out.Text
	return fmt.Sprintf("1700000000.%06d", n), nil
}

func (c *chatChannel) Health() channels.Conn {
	return channels.Conn{Connected: true, LastEvent: time.Now()}
}

// say hands the gateway a message from a person.
func (c *chatChannel) say(t *testing.T, id, text string) {
	t.Helper()
	<-c.ready
	c.mu.Lock()
	h := c.handle
	c.mu.Unlock()
	in := channels.Inbound{ChannelType: "slack", PlatformID: "C1", MessageID: id, Sender: channels.User{ID: "U1", Name: "Ana"},
		Text: text, Mentioned: true, Time: time.Now()}
	if err := h(context.Background(), in); err != nil {
		t.Fatalf("hand in %q: %v", text, err)
	}
}

// artifacts is the folder screenshots go to: $BERTH_ARTIFACTS, else a
// new folder the test names in its log; it is kept after the test.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BERTH_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "berth-console-"); err != nil {
			t.Fatal(err)
		}
	} else {
		dir = filepath.Join(dir, "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// TestConsoleInABrowser drives the console in a real headless browser
// against a real gateway whose agent runs in a real container: it logs
// in, watches a message being answered on the overview without reloading
// it, follows the live log and a container's live output, stops the
// container from the session's page and checks the engine no longer runs
// it. It saves a screenshot of each page at 1280x800 and at 390 px wide.
func TestConsoleInABrowser(t *testing.T) {
	browser := requireChromium(t)
	home := t.TempDir()
	tok, err := console.NewToken(paths.Home(home))
	if err != nil {
		t.Fatal(err)
	}
	ch := newChatChannel()
	g := gatewaytest.Start(t, gatewaytest.Options{Home: home, Channels: []channels.Channel{ch}, HTTPAddr: "127.0.0.1:0", GatewayLog: true})
	g.Wire("slack", "C1", gatewaytest.Wire{Group: "team"})
	base := "http://" + g.HTTPAddr()
	shots := artifacts(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start %s: %v", browser, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Minute))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	eval := func(expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// No token: the console sends the browser to its login form.
	do("open the console", chromedp.Navigate(base+"/"), visible("#token"))
	where, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(where, "/login") {
		t.Fatalf("without a token the browser is at %s (%v), want the login form", where, err)
	}
	shot("login-1280")
	do("log in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "berth_console_wrong"), chromedp.Submit(chromedp.CSS("#token")),
		visible(".error"))
	do("log in", chromedp.SendKeys(chromedp.CSS("#token"), tok), chromedp.Submit(chromedp.CSS("#token")), visible("#active-sessions"))
	if n := text("#active-sessions"); n != "0" {
		t.Fatalf("a fresh gateway shows %s active sessions", n)
	}
	shot("overview-empty-1280")

	// A message that takes a while to answer, while the overview is open:
	// the page, never reloaded, shows its session, then it answered.
	eval(`window.berthNotReloaded = true`)
	ch.say(t, "1700000000.000001", "sleep 3s hello console")
	do("the session appears", visible("#recent tr[data-session]"))
	first := text("#recent tr[data-session] td:nth-child(5)")
	do("the outcome changes to answered", visible("#recent .o-answered"))
	if !eval(`window.berthNotReloaded === true`) {
		t.Fatal("the overview was reloaded; it should update in place")
	}
	t.Logf("the overview showed the message %s, then answered", first)
	if r := <-ch.replies; r != "echo: hello console" {
		t.Fatalf("the channel was sent %q", r)
	}
	do("the container shows, with its CPU and memory as the engine measures them",
		poll(`(document.querySelector('#containers tbody td:nth-child(4)') || {}).textContent?.includes('%')`))
	shot("overview-1280")

	sessions := g.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	id := sessions[0].ID

	// The live log: what the gateway logs shows as it is written.
	do("open the log", chromedp.Navigate(base+"/logs"), visible("#log[data-following]"))
	ch.say(t, "1700000000.000002", "second message")
	// Its reply is the channel's second post, 1700000000.000002: the line
	// saying it was delivered comes after the page was opened.
	do("a new line shows", poll(`[...document.querySelectorAll('#log li')].some(li => li.textContent.includes('delivered') && li.textContent.includes('platform_message=1700000000.000002'))`))
	<-ch.replies
	shot("logs-1280")

	// The session's page: its messages with their outcome, its container's live output.
	do("open the session", chromedp.Navigate(base+"/sessions/"+id), visible("#messages .o-answered"),
		poll(`document.querySelectorAll('#output li:not(.hint)').length > 0`))
	shot("session-1280")

	do("open sessions", chromedp.Navigate(base+"/sessions"), visible("#sessions"))
	shot("sessions-1280")
	do("open groups", chromedp.Navigate(base+"/groups"), visible("#g-team"))
	shot("groups-1280")

	// The phone-sized screen: every page at 390 px.
	do("narrow", chromedp.EmulateViewport(390, 844))
	for _, p := range []struct{ name, path, sel string }{
		{"overview", "/", "#active-sessions"}, {"sessions", "/sessions", "#sessions"}, {"session", "/sessions/" + id, "#messages"},
		{"logs", "/logs", "#log[data-following]"}, {"groups", "/groups", "#g-team"},
	} {
		do("open "+p.name+" narrow", chromedp.Navigate(base+p.path), visible(p.sel))
		shot(p.name + "-390")
	}
	do("wide", chromedp.EmulateViewport(1280, 800))

	// Stop the container from the session's page, after confirming.
	if n := running(t, g, id); n != 1 {
		t.Fatalf("%d running containers for the session before the stop, want 1", n)
	}
	do("ask to stop", chromedp.Navigate(base+"/sessions/"+id), visible("#stop"), chromedp.Click(chromedp.CSS("#stop")), visible("#confirm"))
	shot("confirm-1280")
	do("confirm", chromedp.Click(chromedp.CSS("#confirm")), visible(".notice"))
	if n := text(".notice"); !strings.Contains(n, "stopped") {
		t.Fatalf("after the stop the page says %q", n)
	}
	if n := running(t, g, id); n != 0 {
		t.Fatalf("%d containers of the session still run after the stop", n)
	}
	do("the page shows none", visible("#no-container"))
	shot("stopped-1280")
	do("narrow confirm", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/sessions/"+id+"/reset"), visible("#confirm"))
	shot("confirm-390")
	do("log out", chromedp.Click(chromedp.CSS(".logout button")), visible("#token"))
	shot("login-390")
}

// running counts the session's running containers, as the engine says.
func running(t *testing.T, g *gatewaytest.Gateway, sessionID string) int {
	t.Helper()
	n := 0
	for _, c := range g.Containers(sessionID) {
		if c.Running() {
			n++
		}
	}
	return n
}
