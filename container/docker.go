// Package container runs agent containers through the Docker Engine API:
// create and start with labels and limits, adopt what already runs, stop,
// list by label, follow logs, and build the agent image with no registry.
package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	ctypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/berth-dev/berth/mounts"
)

// Labels every berth container carries.
const (
	LabelSession = "berth.session"
	LabelGroup   = "berth.group"
	LabelHome    = "berth.home"
)

// Spec describes one agent container.
type Spec struct {
	Name     string
	Image    string
	Cmd      []string
	Env      []string // never secrets
	User     string   // "uid:gid"
	Labels   map[string]string
	Mounts   []mounts.Mount
	Memory   int64 // bytes; 0: no limit
	NanoCPUs int64 // 1e9 = one CPU; 0: no limit
	Pids     int64 // 0 or less: DefaultPids
	// There is no network field: an agent container never has a network.
}

// Limits every agent container gets, whatever its spec says.
const (
	// DefaultPids caps the processes of a container whose spec names none.
	DefaultPids = 256
	// NoFile caps the open files of each process in a container: one
	// container must not be able to hold thousands of connections to the
	// credential proxy, whose file descriptors are berth's.
	NoFile = 1024
	// LogMaxSize and LogMaxFiles cap what the engine keeps of a
	// container's output: at most 2×10 MB, whatever the agent prints.
	LogMaxSize  = "10m"
	LogMaxFiles = "2"
)

// Exit is how a container ended.
type Exit struct {
	Code      int64 // exit code; -1 when the engine could not say
	OOMKilled bool  // the kernel killed a process for the memory limit
	Memory    int64 // its memory limit, bytes (0: none)
}

// Info is what the engine reports of one container.
type Info struct {
	ID      string
	Name    string
	Labels  map[string]string
	State   string // "created", "running", "exited", "removing", …
	Created time.Time
}

// Running reports whether the container is running.
func (i Info) Running() bool { return i.State == "running" }

// Docker is the runtime backed by a Docker engine.
type Docker struct {
	cli *client.Client
}

// NewDocker connects to the engine named by host ("" means the
// environment's DOCKER_HOST or the default socket), negotiating the API version.
func NewDocker(host string) (*Docker, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Docker{cli: cli}, nil
}

// Close releases the client.
func (d *Docker) Close() error { return d.cli.Close() }

// Ping checks the engine is reachable and returns its API version.
func (d *Docker) Ping(ctx context.Context) (string, error) {
	p, err := d.cli.Ping(ctx)
	if err != nil {
		return "", fmt.Errorf("docker unreachable at %s: %w", d.cli.DaemonHost(), err)
	}
	return p.APIVersion, nil
}

// ErrNameTaken is why Ensure gave up: for NameWait the session's
// container name stayed held by a container that was still being created
// or removed. The engine is slow, not broken: the caller may try again.
var ErrNameTaken = errors.New("name stayed taken")

// NameWait bounds how long Ensure waits for a container that holds the
// name while it is being created or removed. Generous: under heavy load
// the engine takes many seconds to create or remove a container, and
// giving up early fails a wake that only had to wait.
const NameWait = 2 * time.Minute

// maxNamePause caps the pause between looks at a held name.
const maxNamePause = time.Second

// Ensure makes sure the container named spec.Name is running, creating and
// starting it if needed. The engine's name uniqueness is what guarantees one
// container per session across goroutines, restarts and processes: a create
// that conflicts adopts the container that holds the name. It reports
// whether an existing container was adopted. A holder still being created
// or removed is waited for, NameWait at most (then ErrNameTaken).
func (d *Docker) Ensure(ctx context.Context, spec Spec) (Info, bool, error) {
	deadline := time.Now().Add(NameWait)
	var held error // why the holder could not be removed, last time
	for attempt := 0; ; attempt++ {
		id, err := d.create(ctx, spec)
		if err == nil {
			if err := d.cli.ContainerStart(ctx, id, ctypes.StartOptions{}); err != nil {
				if rerr := d.Remove(context.WithoutCancel(ctx), id); rerr != nil {
					err = errors.Join(err, rerr)
				}
				return Info{}, false, fmt.Errorf("start container %s: %w", spec.Name, err)
			}
			info, err := d.Inspect(ctx, id)
			return info, false, err
		}
		if !errdefs.IsConflict(err) {
			return Info{}, false, fmt.Errorf("create container %s: %w", spec.Name, err)
		}
		if !time.Now().Before(deadline) {
			if held != nil {
				return Info{}, false, fmt.Errorf("create container %s: %w (waited %v): %w", spec.Name, ErrNameTaken, NameWait, held)
			}
			return Info{}, false, fmt.Errorf("create container %s: %w (waited %v)", spec.Name, ErrNameTaken, NameWait)
		}
		info, err := d.Inspect(ctx, spec.Name)
		if errdefs.IsNotFound(err) {
			// The engine reserves a name before the container can be
			// inspected (a create under way, maybe by a process that
			// has since died), and frees it once a removal is done:
			// wait and try again.
			pause := min(time.Duration(attempt+1)*20*time.Millisecond, maxNamePause)
			select {
			case <-ctx.Done():
				return Info{}, false, ctx.Err()
			case <-time.After(pause):
			}
			continue
		}
		if err != nil {
			return Info{}, false, fmt.Errorf("inspect holder of %s: %w", spec.Name, err)
		}
		switch info.State {
		case "running":
			return info, true, nil
		case "created":
			// Another process created it and is about to start it;
			// starting twice is harmless.
			if err := d.cli.ContainerStart(ctx, info.ID, ctypes.StartOptions{}); err != nil && !errdefs.IsNotModified(err) {
				return Info{}, false, fmt.Errorf("start adopted container %s: %w", spec.Name, err)
			}
			info, err := d.Inspect(ctx, info.ID)
			return info, true, err
		default:
			// Exited or being removed: its name frees up once it is
			// gone. Remove waits for a removal already under way.
			// A removal the engine could not finish (a busy mount
			// under load) is tried again until the deadline.
			if err := d.Remove(ctx, info.ID); err != nil {
				held = err
				select {
				case <-ctx.Done():
					return Info{}, false, ctx.Err()
				case <-time.After(maxNamePause):
				}
			}
		}
	}
}

func (d *Docker) create(ctx context.Context, spec Spec) (string, error) {
	init := true
	pids := spec.Pids
	if pids <= 0 {
		pids = DefaultPids
	}
	hc := &ctypes.HostConfig{
		// Not AutoRemove: Wait reads how the container ended (an OOM kill)
		// before it removes it.
		Init:        &init,
		NetworkMode: "none",
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges"},
		LogConfig:   ctypes.LogConfig{Type: "json-file", Config: map[string]string{"max-size": LogMaxSize, "max-file": LogMaxFiles}},
		Resources: ctypes.Resources{
			Memory:    spec.Memory,
			NanoCPUs:  spec.NanoCPUs,
			PidsLimit: &pids,
			Ulimits:   []*ctypes.Ulimit{{Name: "nofile", Soft: NoFile, Hard: NoFile}},
		},
		Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20}}},
	}
	if spec.Memory > 0 {
		hc.Resources.MemorySwap = spec.Memory
	}
	for _, m := range spec.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	cfg := &ctypes.Config{
		Image:      spec.Image,
		Cmd:        spec.Cmd,
		Env:        spec.Env,
		User:       spec.User,
		Labels:     spec.Labels,
		WorkingDir: "/workspace",
	}
	resp, err := d.cli.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name)
	return resp.ID, err
}

// Inspect reports one container by id or name.
func (d *Docker) Inspect(ctx context.Context, idOrName string) (Info, error) {
	c, err := d.cli.ContainerInspect(ctx, idOrName)
	if err != nil {
		return Info{}, err
	}
	info := Info{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/")}
	if c.Config != nil {
		info.Labels = c.Config.Labels
	}
	if c.State != nil {
		info.State = c.State.Status
	}
	info.Created, _ = time.Parse(time.RFC3339Nano, c.Created)
	return info, nil
}

// List returns the containers (running or not) that carry all the labels.
func (d *Docker) List(ctx context.Context, labels map[string]string) ([]Info, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	list, err := d.cli.ContainerList(ctx, ctypes.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]Info, 0, len(list))
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Info{ID: c.ID, Name: name, Labels: c.Labels, State: c.State, Created: time.Unix(c.Created, 0)})
	}
	return out, nil
}

// Stop asks the container to stop (SIGTERM), killing it after grace, and
// removes it.
func (d *Docker) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace / time.Second)
	err := d.cli.ContainerStop(ctx, id, ctypes.StopOptions{Timeout: &secs})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", short(id), err)
	}
	return d.Remove(ctx, id)
}

// Remove force-removes a container; when another removal is under way,
// it waits (a while) for that one.
func (d *Docker) Remove(ctx context.Context, id string) error {
	err := d.cli.ContainerRemove(ctx, id, ctypes.RemoveOptions{Force: true})
	switch {
	case err == nil || errdefs.IsNotFound(err):
		return nil
	case errdefs.IsConflict(err):
		d.waitGone(ctx, id)
		return nil
	}
	return fmt.Errorf("remove container %s: %w", short(id), err)
}

// Wait blocks until the container stops, reads how it ended, and removes
// it. A container already gone reports code -1.
func (d *Docker) Wait(ctx context.Context, id string) (Exit, error) {
	ch, errc := d.cli.ContainerWait(ctx, id, ctypes.WaitConditionNotRunning)
	exit := Exit{Code: -1}
	select {
	case r := <-ch:
		exit.Code = r.StatusCode
	case err := <-errc:
		if !errdefs.IsNotFound(err) {
			return exit, err
		}
		return exit, nil
	}
	// Remove even when the caller is going away: a stopped container
	// left behind would hold its name.
	rctx := context.WithoutCancel(ctx)
	c, err := d.cli.ContainerInspect(rctx, id)
	if err == nil {
		if c.State != nil {
			exit.OOMKilled = c.State.OOMKilled
		}
		if c.HostConfig != nil {
			exit.Memory = c.HostConfig.Memory
		}
	}
	if err := d.Remove(rctx, id); err != nil {
		return exit, err
	}
	return exit, nil
}

// waitGone waits, a while at most, until a container is removed.
func (d *Docker) waitGone(ctx context.Context, id string) {
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ch, errc := d.cli.ContainerWait(wctx, id, ctypes.WaitConditionRemoved)
	select {
	case <-ch:
	case <-errc:
	}
}

// Logs copies the container's stdout and stderr (demultiplexed) to w,
// following until the container exits or ctx is done.
func (d *Docker) Logs(ctx context.Context, id string, stdout, stderr io.Writer) error {
	rc, err := d.cli.ContainerLogs(ctx, id, ctypes.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return fmt.Errorf("logs of container %s: %w", short(id), err)
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(stdout, stderr, rc)
	return err
}

// Stats is a container's resource use.
type Stats struct {
	CPUPercent  float64
	MemoryBytes uint64
}

// IsNotFound reports whether err means the container or image does not exist.
func IsNotFound(err error) bool { return errdefs.IsNotFound(err) }

// IsUnavailable reports whether err means the engine could not be reached.
func IsUnavailable(err error) bool {
	return client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// InspectRaw returns the engine's full JSON description of a container
// (for audits: what its environment, arguments and mounts are).
func (d *Docker) InspectRaw(ctx context.Context, id string) ([]byte, error) {
	_, raw, err := d.cli.ContainerInspectWithRaw(ctx, id, false)
	return raw, err
}
