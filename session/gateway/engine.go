package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/container"
)

// MinAPIVersion is the oldest Docker Engine API berth uses: that of Docker
// Engine 20.10, the oldest engine berth is tested on.
const MinAPIVersion = "1.41"

// minEngine names the Docker Engine release that speaks MinAPIVersion.
const minEngine = "20.10"

// engineTimeout bounds the first ping: an address that accepts and never
// answers must not hang `berth chat`.
const engineTimeout = 10 * time.Second

// EngineProblem is what stops berth from using a Docker engine.
type EngineProblem string

// The engine problems ConnectEngine tells apart.
const (
	EngineMissing EngineProblem = "missing" // no socket at the address: Docker is not installed, or never started
	EngineDown    EngineProblem = "down"    // nothing answers at the address
	EngineDenied  EngineProblem = "denied"  // the engine's socket refuses this user
	EngineTooOld  EngineProblem = "too old" // it speaks an API older than MinAPIVersion
)

// EngineError is a Docker engine berth cannot use. Its message is one
// sentence, what is wrong and what to do, for a person; what the client
// said is kept in Err for errors.Is and the log, not in the message.
type EngineError struct {
	Problem EngineProblem
	Host    string // the engine's address, as DOCKER_HOST spells it
	API     string // the API version the engine speaks (EngineTooOld)
	Err     error  // what the Docker client said; nil for EngineTooOld
}

// Error is Detail, then Fix.
func (e *EngineError) Error() string { return e.Detail() + ": " + e.Fix() }

// Unwrap is what the Docker client said.
func (e *EngineError) Unwrap() error { return e.Err }

// Detail says what is wrong.
func (e *EngineError) Detail() string {
	switch e.Problem {
	case EngineMissing:
		return "no Docker engine at " + e.Host
	case EngineDown:
		return "the Docker engine at " + e.Host + " does not answer"
	case EngineDenied:
		return "this user may not use the Docker engine at " + e.Host + " (permission denied)"
	case EngineTooOld:
		return fmt.Sprintf("the Docker engine at %s speaks API %s, older than the %s berth needs", e.Host, e.API, MinAPIVersion)
	}
	return fmt.Sprintf("the Docker engine at %s: %s", e.Host, e.Problem)
}

// Fix says what to do about it.
func (e *EngineError) Fix() string {
	switch e.Problem {
	case EngineMissing:
		return "install Docker Engine (https://docs.docker.com/engine/install/) and start it, or set DOCKER_HOST to a running one"
	case EngineDown:
		return "start it (sudo systemctl start docker), or set DOCKER_HOST to a running one"
	case EngineDenied:
		return "add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), or set DOCKER_HOST to an engine you may use"
	case EngineTooOld:
		return "upgrade Docker Engine to " + minEngine + " or newer"
	}
	return "check it with docker info"
}

// ConnectEngine connects to the Docker engine at host ("": $DOCKER_HOST,
// else the local socket) and checks that berth can use it, returning the
// API version it speaks. An engine that is missing, down, refuses this
// user or is too old is an *EngineError; `berth chat`, `berth run` and
// `berth doctor` all come here, so they name the same fix.
func ConnectEngine(ctx context.Context, host string) (*container.Docker, string, error) {
	d, err := container.NewDocker(host)
	if err != nil {
		return nil, "", err
	}
	pctx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	api, err := d.Ping(pctx)
	if err == nil && api != "" && versions.LessThan(api, MinAPIVersion) {
		err = &EngineError{Problem: EngineTooOld, Host: engineHost(host), API: api}
	} else if err != nil {
		err = classifyEngine(ctx, engineHost(host), err)
	}
	if err != nil {
		return nil, "", errors.Join(err, closeEngine(d))
	}
	return d, api, nil
}

// closeEngine closes a client that is not handed out.
func closeEngine(d *container.Docker) error {
	if err := d.Close(); err != nil {
		return fmt.Errorf("close engine client: %w", err)
	}
	return nil
}

// classifyEngine turns a failed ping of the engine at host into an
// *EngineError when it is one of the problems a person can fix, and
// returns any other error as it is. ctx is the caller's: its end is not
// the engine's fault.
func classifyEngine(ctx context.Context, host string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e := &EngineError{Host: host, Err: err}
	switch {
	case errors.Is(err, fs.ErrPermission):
		// The client keeps the dial's EACCES in the chain.
		e.Problem = EngineDenied
	case socketMissing(host):
		// The client reports a socket that does not exist as a failed
		// connection with nothing behind it: look at the path.
		e.Problem = EngineMissing
	case client.IsErrConnectionFailed(err), errors.Is(err, context.DeadlineExceeded):
		e.Problem = EngineDown
	default:
		return err
	}
	return e
}

// socketMissing reports whether host is a unix socket whose file does not
// exist.
func socketMissing(host string) bool {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return false
	}
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// engineHost is the address container.NewDocker dials for host.
func engineHost(host string) string {
	if host != "" {
		return host
	}
	if h := os.Getenv(client.EnvOverrideHost); h != "" {
		return h
	}
	return client.DefaultDockerHost
}
