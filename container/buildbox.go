package container

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	ctypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/berth-dev/berth/mounts"
)

// Box is a one-shot container that runs a tool berth trusts (a compiler)
// over input it may not (a group's runner source): it has no network, no
// capabilities, no new privileges, a read-only root, a bounded /tmp and
// the limits given, and is removed when it ends.
type Box struct {
	Name    string
	Image   string
	Cmd     []string
	Env     []string // never secrets
	User    string   // "uid:gid"
	WorkDir string
	Labels  map[string]string
	Mounts  []mounts.Mount
	Memory  int64 // bytes; also the bound of /tmp, which is memory
	CPUs    int64 // NanoCPUs
	Pids    int64
	TmpSize int64 // bytes of /tmp
}

// RunBox runs box until it ends, copying its output (stdout and stderr
// together) to out, and returns its exit code. The container is removed
// whatever happens, also when ctx ends first.
func (d *Docker) RunBox(ctx context.Context, box Box, out io.Writer) (int64, error) {
	pids := box.Pids
	if pids <= 0 {
		pids = DefaultPids
	}
	// No init process: the engine would mount its own at /sbin, which a
	// host whose /sbin is a symlink into the mounted /usr hides. The go
	// command waits for what it starts; the pids limit bounds the rest.
	hc := &ctypes.HostConfig{
		NetworkMode:    "none",
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		LogConfig:      ctypes.LogConfig{Type: "json-file", Config: map[string]string{"max-size": LogMaxSize, "max-file": LogMaxFiles}},
		Resources: ctypes.Resources{
			Memory: box.Memory, MemorySwap: box.Memory, NanoCPUs: box.CPUs, PidsLimit: &pids,
			Ulimits: []*ctypes.Ulimit{{Name: "nofile", Soft: NoFile, Hard: NoFile}},
		},
		Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: box.TmpSize}}},
	}
	for _, m := range box.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	cfg := &ctypes.Config{Image: box.Image, Cmd: box.Cmd, Env: box.Env, User: box.User, WorkingDir: box.WorkDir, Labels: box.Labels}
	resp, err := d.cli.ContainerCreate(ctx, cfg, hc, nil, nil, box.Name)
	if err != nil {
		return -1, fmt.Errorf("create build container %s: %w", box.Name, err)
	}
	id := resp.ID
	defer func() {
		// Removed even when the caller is going away: a build left
		// running would hold its name and its CPU.
		if err := d.Remove(context.WithoutCancel(ctx), id); err != nil && !errdefs.IsNotFound(err) {
			fmt.Fprintf(out, "\n(berth: remove build container %s: %v)\n", short(id), err)
		}
	}()
	waitc, errc := d.cli.ContainerWait(ctx, id, ctypes.WaitConditionNextExit)
	if err := d.cli.ContainerStart(ctx, id, ctypes.StartOptions{}); err != nil {
		return -1, fmt.Errorf("start build container %s: %w", box.Name, err)
	}
	var code int64 = -1
	select {
	case r := <-waitc:
		code = r.StatusCode
	case err := <-errc:
		return -1, fmt.Errorf("wait for build container %s: %w", box.Name, err)
	}
	rc, err := d.cli.ContainerLogs(ctx, id, ctypes.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return code, fmt.Errorf("output of build container %s: %w", box.Name, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(out, out, rc); err != nil {
		return code, fmt.Errorf("output of build container %s: %w", box.Name, err)
	}
	return code, nil
}

// BoxImage is what a box's image is made of: nothing but empty folders
// (mount points) and symlinks, since a box runs tools bind-mounted from
// the host, read-only. Links maps a path ("bin") to its target ("usr/bin").
type BoxImage struct {
	Dirs  []string
	Links map[string]string
}

// BuildBoxImage builds, locally and FROM scratch, the image tagged tag of
// img, skipping the build when an image of the same content exists.
func (d *Docker) BuildBoxImage(ctx context.Context, tag string, img BoxImage) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var werr error
	write := func(h *tar.Header) {
		if werr == nil {
			werr = tw.WriteHeader(h)
		}
	}
	files := map[string]string{
		"Dockerfile":        fmt.Sprintf("FROM scratch\nCOPY rootfs/ /\nUSER %d:%d\n", AgentUID, AgentUID),
		"rootfs/etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/nonexistent\nbuild:x:%d:%d:build:/tmp:/nonexistent\n", AgentUID, AgentUID),
		"rootfs/etc/group":  fmt.Sprintf("root:x:0:\nbuild:x:%d:\n", AgentUID),
	}
	write(&tar.Header{Name: "rootfs/", Mode: 0o755, Typeflag: tar.TypeDir})
	write(&tar.Header{Name: "rootfs/etc/", Mode: 0o755, Typeflag: tar.TypeDir})
	for _, dir := range slices.Sorted(slices.Values(img.Dirs)) {
		write(&tar.Header{Name: "rootfs/" + dir + "/", Mode: 0o755, Typeflag: tar.TypeDir})
	}
	for _, name := range slices.Sorted(maps.Keys(img.Links)) {
		write(&tar.Header{Name: "rootfs/" + name, Linkname: img.Links[name], Mode: 0o777, Typeflag: tar.TypeSymlink})
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		write(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		if werr == nil {
			_, werr = tw.Write([]byte(files[name]))
		}
	}
	if werr == nil {
		werr = tw.Close()
	}
	if werr != nil {
		return fmt.Errorf("build image %s: pack the build context: %w", tag, werr)
	}
	sum := sha256.Sum256(buf.Bytes())
	hash := hex.EncodeToString(sum[:])[:16]
	if got, err := d.cli.ImageInspect(ctx, tag); err == nil && got.Config != nil && got.Config.Labels[LabelImageHash] == hash {
		return nil
	} else if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	resp, err := d.cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
		Labels: map[string]string{LabelImageHash: hash, "berth.managed": "1"},
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	return nil
}
