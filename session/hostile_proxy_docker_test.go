package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/container/credproxy"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// TestProxyConnectionFloodStaysInItsGroup: from inside its container an
// agent opens thousands of connections to its proxy socket and holds them
// (the red team's ~18,500 idle keep-alives took berth to its descriptor
// limit, and then every group was refused). Now the socket serves at most
// credproxy.DefaultLimits.MaxConns of them and closes the rest at once:
// the gateway's descriptors stay bounded, and another group's socket and
// turns are still answered.
func TestProxyConnectionFloodStaysInItsGroup(t *testing.T) {
	f := newFakeModel(t, func(int, map[string]any) (int, any) { return 200, anthropicText("model answer") })
	g, ch := startWithProvider(t, "anthropic", f, modelSecret)
	other := g.Wire("fake", "other", gatewaytest.Wire{Group: "other", IsDM: true})
	if err := g.Store.UpdateGroupConfig(context.Background(), other.AgentGroupID, "anthropic", "test-model", "{}"); err != nil {
		t.Fatal(err)
	}
	toOther := func(text string) {
		in := msg(text)
		in.PlatformID = "other"
		handle(t, g, in)
	}
	handle(t, g, msg("hello"))
	toOther("hello other")
	if got := ch.waitSent(t, 2, 90*time.Second); got[0].Text != "model answer" || got[1].Text != "model answer" {
		t.Fatalf("replies before the flood: %+v", got)
	}
	var attacker, victim string
	for _, s := range g.Sessions() {
		if s.AgentGroupID == other.AgentGroupID {
			victim = s.ID
		} else {
			attacker = s.ID
		}
	}
	// The victim's next turn needs a new container: waking one is what
	// ran out of descriptors before.
	g.Manager.StopSession(context.Background(), victim)
	otherSock := filepath.Join(paths.Home(g.Home).ProxyDir("other"), "proxy.sock")

	// The TEST-ONLY flood tool, built static, in the attacker's group folder.
	dir := g.GroupDir("main")
	tool := filepath.Join(dir, "hostiletool")
	build := exec.Command("go", "build", "-o", tool, "github.com/berth-dev/berth/session/gateway/gatewaytest/hostiletool")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the hostile tool: %v\n%s", err, out)
	}
	if err := os.Chmod(tool, 0o755); err != nil {
		t.Fatal(err)
	}

	base := openFDs(t)
	peak := base
	// The gateway's descriptor limit, lowered to well under the flood's
	// size (the red team's berth ran out at ~18,500; the container here
	// opens 3,000), so running out is what an unfixed proxy does, not
	// merely a large count.
	restore := lowerFDLimit(t, uint64(base+1000))
	defer restore()
	stopSampling := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Go(func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
				peak = max(peak, openFDs(t))
			}
		}
	})
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := g.Exec(attacker, "/workspace/group/hostiletool conns -n 3000 -ready /workspace/group/ready.json -release /workspace/group/release")
		done <- result{out, err}
	}()
	ready := filepath.Join(dir, "ready.json")
	deadline := time.Now().Add(100 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the flood tool ended early: %v\n%s", r.err, r.out)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the flood tool did not finish opening its connections")
		}
	}
	var sum struct{ Dialed, Answered, Refused, Stalled, DialErrors int }
	b, err := os.ReadFile(ready)
	if err == nil {
		err = json.Unmarshal(b, &sum)
	}
	if err != nil {
		// EMFILE here is the finding itself: the flood took the gateway's
		// descriptors. Go on, to show what that does to another group.
		t.Errorf("read the flood's summary: %v", err)
	}
	t.Logf("flood from inside the container: %s; gateway fds %d before", b, base)

	// While the flood's connections are held: another group's socket
	// answers, and its next turn (a new container) is answered through it.
	resp, err := unixGet(otherSock, "http://berth-proxy/anthropic/v1/models")
	if err != nil || resp != http.StatusOK {
		t.Errorf("another group's socket during the flood: %d %v", resp, err)
	}
	toOther("during the flood")
	got := ch.waitSent(t, 3, 90*time.Second)
	if got[2].Text != "model answer" || got[2].PlatformID != "other" {
		t.Errorf("another group's turn during the flood: %+v", got[2])
	}
	now := openFDs(t)
	close(stopSampling)
	sampled.Wait()
	peak = max(peak, now)
	t.Logf("gateway fds: %d before, %d while held, peak %d", base, now, peak)
	restore()

	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Errorf("flood tool: %v\n%s", r.err, r.out)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the flood tool did not end")
	}

	limit := credproxy.DefaultLimits.MaxConns
	if sum.Dialed+sum.DialErrors < 1000 && sum.Stalled == 0 {
		t.Errorf("the flood opened only %d connections; it must try thousands", sum.Dialed)
	}
	if sum.Answered > limit {
		t.Errorf("the socket served %d connections at once, past its cap of %d", sum.Answered, limit)
	}
	// The cap's share, plus what serving the other group costs (engine
	// and store connections, upstream calls).
	if grew := peak - base; grew > limit+60 {
		t.Errorf("the gateway's open descriptors grew by %d during the flood (cap %d)", grew, limit)
	}
	assertNoSecret(t, g, modelSecret)
}

// lowerFDLimit lowers this process's soft descriptor limit to n (when it
// is higher) and returns what restores it; calling that twice is safe.
func lowerFDLimit(t *testing.T, n uint64) func() {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Cur <= n {
		return func() {}
	}
	low := old
	low.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
				t.Errorf("restore the descriptor limit: %v", err)
			}
		})
	}
}

// openFDs counts this process's open descriptors: the gateway and its
// proxy run in the test process.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil { // it may run in the sampling goroutine: no Fatal
		t.Errorf("count open descriptors: %v", err)
	}
	return len(ents)
}

// unixGet makes one GET through a proxy socket, as a runner would.
func unixGet(sock, url string) (int, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 500 {
		return resp.StatusCode, errors.New(strings.TrimSpace(resp.Status))
	}
	return resp.StatusCode, nil
}
