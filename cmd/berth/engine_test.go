package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/session/gateway"
)

// TestNoEngine runs the berth binary against a Docker socket that does
// not exist: chat and run stop with one sentence that says what to do,
// exit 1, and doctor's docker line names the same fix.
func TestNoEngine(t *testing.T) {
	bin := berthBinary(t)
	host := "unix://" + filepath.Join(t.TempDir(), "missing.sock")
	want := &gateway.EngineError{Problem: gateway.EngineMissing, Host: host}
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantStderr string // exactly
		wantStdout []string
	}{
		{name: "chat", args: []string{"chat"}, wantStderr: "berth: " + want.Error() + "\n"},
		{name: "run", args: []string{"run"}, env: []string{"DISCORD_BOT_TOKEN=MTEwMDAwMDAwMDAwMDAwMDAw.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"},
			wantStderr: "berth: " + want.Error() + "\n"},
		{name: "doctor", args: []string{"doctor"}, wantStdout: []string{"FAIL  docker      " + want.Detail() + "\n", "fix: " + want.Fix() + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(cleanEnv(), "BERTH_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "DOCKER_HOST="+host)
			cmd.Env = append(cmd.Env, tt.env...)
			cmd.Stdin = strings.NewReader("hello\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want code 1\nstderr: %s", err, stderr.String())
			}
			if tt.wantStderr != "" && stderr.String() != tt.wantStderr {
				t.Errorf("stderr = %q\nwant     %q", stderr.String(), tt.wantStderr)
			}
			if tt.wantStdout == nil && stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
	if !strings.Contains(want.Error(), "install Docker Engine") {
		t.Errorf("the sentence does not say to install Docker: %s", want.Error())
	}
}

// cleanEnv is this process's environment without what would point berth
// elsewhere: the engine, the state folder, the channels' tokens.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BERTH_") || strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "SLACK_") ||
			strings.HasPrefix(k, "DISCORD_") || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
