package gateway_test

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
	"syscall"
	"testing"

	"github.com/berth-dev/berth/session/gateway"
)

// helperEnv, set, makes the test binary a helper that connects to the
// socket it names and prints what ConnectEngine said (TEST-ONLY: it lets
// the permission case run as an unprivileged user when the tests run as
// root, which no file mode stops).
const helperEnv = "BERTH_TEST_ENGINE_HELPER"

// helperResult is what the helper prints.
type helperResult struct {
	Problem string `json:"problem"`
	Message string `json:"message"`
}

func TestMain(m *testing.M) {
	if sock := os.Getenv(helperEnv); sock != "" {
		_, _, err := gateway.ConnectEngine(context.Background(), "unix://"+sock)
		r := helperResult{Message: "<nil>"}
		if err != nil {
			r.Message = err.Error()
		}
		if e, ok := errors.AsType[*gateway.EngineError](err); ok {
			r.Problem = string(e.Problem)
		}
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// engineDir is a folder for sockets that any user may enter.
func engineDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "berth-engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeEngine serves /_ping on a unix socket in dir as an engine speaking
// API version api would (TEST-ONLY: an engine of another age than the
// machine's). status is its answer's HTTP status.
func fakeEngine(t *testing.T, dir, api string, status int) string {
	sock := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			http.Error(w, "no such page", status)
			return
		}
		switch {
		case r.URL.Path == "/_ping":
			w.Header().Set("Api-Version", api)
			w.Header().Set("Ostype", "linux")
			_, _ = io.WriteString(w, "OK")
		case strings.HasSuffix(r.URL.Path, "/version"):
			_ = json.NewEncoder(w).Encode(map[string]string{"ApiVersion": api, "MinAPIVersion": "1.12", "Version": "17.06.0-ce"})
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return sock
}

// deadSocket is a socket file nobody listens on.
func deadSocket(t *testing.T, dir string) string {
	sock := filepath.Join(dir, "dead.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return sock
}

// lockedSocket is a listening socket with mode 000.
func lockedSocket(t *testing.T, dir string) string {
	sock := fakeEngine(t, dir, gateway.MinAPIVersion, http.StatusOK)
	if err := os.Chmod(sock, 0); err != nil {
		t.Fatal(err)
	}
	return sock
}

// connectAsUser runs ConnectEngine on sock as a user the socket's mode
// applies to: this process, or, for root, a helper run as nobody.
func connectAsUser(t *testing.T, dir, sock string) helperResult {
	if os.Geteuid() != 0 {
		_, _, err := gateway.ConnectEngine(context.Background(), "unix://"+sock)
		r := helperResult{Message: "<nil>"}
		if err != nil {
			r.Message = err.Error()
		}
		if e, ok := errors.AsType[*gateway.EngineError](err); ok {
			r.Problem = string(e.Problem)
		}
		return r
	}
	// The test binary's own folder is root's alone: copy it where nobody
	// may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{helperEnv + "=" + sock, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper as nobody: %v", err)
	}
	var r helperResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("helper said %q: %v", out, err)
	}
	return r
}

// TestConnectEngine checks each engine problem a person can fix is told
// apart, from the errors a real client gets, with its fix in the message.
func TestConnectEngine(t *testing.T) {
	tests := []struct {
		name    string
		socket  func(t *testing.T, dir string) string // "" host: DOCKER_HOST names it
		viaEnv  bool
		asUser  bool
		problem gateway.EngineProblem // "": no EngineError
		fails   bool
		want    []string // in the message
	}{
		{name: "missing socket", socket: func(_ *testing.T, dir string) string { return filepath.Join(dir, "missing.sock") },
			problem: gateway.EngineMissing, fails: true, want: []string{"no Docker engine at unix://", "missing.sock", "install Docker Engine", "DOCKER_HOST"}},
		{name: "missing socket from DOCKER_HOST", socket: func(_ *testing.T, dir string) string { return filepath.Join(dir, "missing.sock") },
			viaEnv: true, problem: gateway.EngineMissing, fails: true, want: []string{"missing.sock", "install Docker Engine"}},
		{name: "nobody listening", socket: deadSocket, problem: gateway.EngineDown, fails: true,
			want: []string{"dead.sock does not answer", "start it (sudo systemctl start docker)"}},
		{name: "permission denied", socket: lockedSocket, asUser: true, problem: gateway.EngineDenied, fails: true,
			want: []string{"permission denied", "add yourself to the docker group", "DOCKER_HOST"}},
		{name: "too old", socket: func(t *testing.T, dir string) string { return fakeEngine(t, dir, "1.30", http.StatusOK) },
			problem: gateway.EngineTooOld, fails: true, want: []string{"speaks API 1.30, older than the " + gateway.MinAPIVersion, "upgrade Docker Engine to 20.10"}},
		{name: "new enough", socket: func(t *testing.T, dir string) string { return fakeEngine(t, dir, "1.47", http.StatusOK) }},
		{name: "oldest allowed", socket: func(t *testing.T, dir string) string { return fakeEngine(t, dir, gateway.MinAPIVersion, http.StatusOK) }},
		// Something answers that is not an engine: not one of the
		// problems above, so no made-up fix.
		{name: "not an engine", socket: func(t *testing.T, dir string) string { return fakeEngine(t, dir, "", http.StatusNotFound) },
			fails: true, want: []string{"no such page"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := engineDir(t)
			sock := tt.socket(t, dir)
			if tt.asUser {
				r := connectAsUser(t, dir, sock)
				t.Log(r.Message)
				if r.Problem != string(tt.problem) {
					t.Fatalf("problem = %q, want %q (%s)", r.Problem, tt.problem, r.Message)
				}
				for _, w := range tt.want {
					if !strings.Contains(r.Message, w) {
						t.Errorf("message lacks %q: %s", w, r.Message)
					}
				}
				return
			}
			host := "unix://" + sock
			if tt.viaEnv {
				t.Setenv("DOCKER_HOST", host)
				host = ""
			}
			d, api, err := gateway.ConnectEngine(context.Background(), host)
			if (err != nil) != tt.fails {
				t.Fatalf("err = %v, want failure %v", err, tt.fails)
			}
			if err == nil {
				defer d.Close()
				if api == "" {
					t.Error("no API version")
				}
				return
			}
			msg := err.Error()
			t.Log(msg)
			e, ok := errors.AsType[*gateway.EngineError](err)
			switch {
			case !ok && tt.problem != "":
				t.Fatalf("err = %v (%T), want an EngineError", err, err)
			case ok && e.Problem != tt.problem:
				t.Fatalf("problem = %q, want %q (%v)", e.Problem, tt.problem, err)
			case ok && e.Err != nil && strings.Contains(msg, e.Err.Error()):
				// The client's words are for the log, not the sentence.
				t.Errorf("message repeats the client's error: %s", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message is more than one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
		})
	}
}
