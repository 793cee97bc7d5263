package container

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
)

// DefaultImage is the tag of the agent image berth builds.
const DefaultImage = "berth-agent:latest"

// AgentUID is the unprivileged user agent containers run as when berth
// itself runs as root.
const AgentUID = 65532

// LabelImageHash records what an image was built from, so an unchanged
// build is skipped.
const LabelImageHash = "berth.image-hash"

// ImageSource is what the agent image is built from: a static
// berth-runner, which is also the agent's shell and commands
// (container/toolbox), and optionally a static busybox.
type ImageSource struct {
	Runner string // a static berth-runner
	// Busybox, when set, is a static busybox added to the image and
	// preferred for /bin/sh and its applets. "" leaves it out: the image
	// then holds nothing from the host but what berth built.
	Busybox string
}

// BuildImage builds the agent image tagged tag from src, locally, with no
// registry: FROM scratch, the runner, and /bin/sh and /bin/<command>
// linked to it (to busybox for busybox's applets, when src has one). It
// skips the build when an image with the same content already exists.
// Progress goes to progress.
func (d *Docker) BuildImage(ctx context.Context, tag string, src ImageSource, progress io.Writer) error {
	// A busybox named but missing is a mistake to report, never a reason
	// to build without it.
	if src.Busybox != "" {
		if _, err := os.Stat(src.Busybox); err != nil {
			return fmt.Errorf("build image: the busybox given (%s) is not usable: %w", src.Busybox, err)
		}
	}
	if err := requireStatic(src.Runner); err != nil {
		return fmt.Errorf("build image: berth-runner: %w", err)
	}
	runnerBin, err := os.ReadFile(src.Runner)
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	var busybox []byte
	var applets []string
	if src.Busybox != "" {
		if err := requireStatic(src.Busybox); err != nil {
			return fmt.Errorf("build image: busybox: %w", err)
		}
		if busybox, err = os.ReadFile(src.Busybox); err != nil {
			return fmt.Errorf("build image: %w", err)
		}
		if applets, err = busyboxApplets(src.Busybox); err != nil {
			return fmt.Errorf("build image: %w", err)
		}
	}
	dockerfile := fmt.Sprintf(`FROM scratch
COPY rootfs/ /
USER %d:%d
ENV HOME=/home/agent PATH=/usr/local/bin:/bin
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/berth-runner"]
`, AgentUID, AgentUID)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var werr error
	write := func(h *tar.Header, b []byte) {
		if werr == nil {
			werr = tw.WriteHeader(h)
		}
		if werr == nil && len(b) > 0 {
			_, werr = tw.Write(b)
		}
	}
	add := func(name string, mode int64, b []byte) {
		write(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}, b)
	}
	dir := func(name string, mode int64, uid int) {
		write(&tar.Header{Name: name + "/", Mode: mode, Typeflag: tar.TypeDir, Uid: uid, Gid: uid}, nil)
	}
	add("Dockerfile", 0o644, []byte(dockerfile))
	for _, d := range []string{"rootfs", "rootfs/bin", "rootfs/usr", "rootfs/usr/local", "rootfs/usr/local/bin", "rootfs/etc", "rootfs/workspace", "rootfs/app"} {
		dir(d, 0o755, 0)
	}
	dir("rootfs/home", 0o755, 0)
	dir("rootfs/home/agent", 0o755, AgentUID)
	add("rootfs/usr/local/bin/berth-runner", 0o755, runnerBin)
	names, err := toolboxNames(src.Runner)
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	links := map[string]string{}
	for _, name := range names {
		links[name] = "/usr/local/bin/berth-runner"
	}
	if busybox != nil {
		add("rootfs/bin/busybox", 0o755, busybox)
		for _, a := range applets {
			if a == "busybox" || strings.ContainsAny(a, "/ ") {
				continue
			}
			links[a] = "busybox"
		}
	}
	for _, name := range slices.Sorted(maps.Keys(links)) {
		write(&tar.Header{Name: "rootfs/bin/" + name, Typeflag: tar.TypeSymlink, Linkname: links[name], Mode: 0o777}, nil)
	}
	add("rootfs/etc/passwd", 0o644, []byte(fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nagent:x:%d:%d:agent:/home/agent:/bin/sh\n", AgentUID, AgentUID)))
	add("rootfs/etc/group", 0o644, []byte(fmt.Sprintf("root:x:0:\nagent:x:%d:\n", AgentUID)))
	if werr == nil {
		werr = tw.Close()
	}
	if werr != nil {
		return fmt.Errorf("build image: pack the build context: %w", werr)
	}
	// The context is all the image is made of, and packing it is
	// deterministic (no times), so its hash names the content.
	sum := sha256.Sum256(buf.Bytes())
	hash := hex.EncodeToString(sum[:])[:16]
	if img, err := d.cli.ImageInspect(ctx, tag); err == nil && img.Config != nil && img.Config.Labels[LabelImageHash] == hash {
		fmt.Fprintf(progress, "image %s is up to date (%s)\n", tag, hash)
		return nil
	}
	shell := "berth-runner's toolbox"
	if busybox != nil {
		shell = fmt.Sprintf("busybox, %d KiB", len(busybox)>>10)
	}
	fmt.Fprintf(progress, "building image %s (runner %d KiB; shell: %s)…\n", tag, len(runnerBin)>>10, shell)
	resp, err := d.cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
		Labels: map[string]string{LabelImageHash: hash, "berth.managed": "1"},
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	// Build errors arrive in the stream, not as an HTTP status.
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, progress, 0, false, nil); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	return nil
}

// ImageExists reports whether the engine has the image.
func (d *Docker) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := d.cli.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// RemoveImage deletes an image (tests, operators).
func (d *Docker) RemoveImage(ctx context.Context, ref string) error {
	_, err := d.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	return err
}

// requireStatic refuses a binary that needs a dynamic loader: the image
// has no libc.
func requireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a usable binary: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the agent image needs a static binary", path)
		}
	}
	return nil
}

// toolboxNames asks the runner at path which names its toolbox answers to
// (container/toolbox): the image links each in /bin to it.
func toolboxNames(path string) ([]string, error) {
	cmd := exec.Command(path, "--list")
	cmd.Args[0] = toolboxListName
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list the runner's toolbox commands: %w", err)
	}
	names := strings.Fields(string(out))
	if !slices.Contains(names, "sh") {
		return nil, fmt.Errorf("list the runner's toolbox commands: %s has no sh; is it berth-runner?", path)
	}
	for _, n := range names {
		if strings.ContainsAny(n, "/\x00") || n == "." || n == ".." {
			return nil, fmt.Errorf("list the runner's toolbox commands: %q is not a file name", n)
		}
	}
	return names, nil
}

// toolboxListName is toolbox.ListName, which this package does not import
// so that the host binary does not link the toolbox (container/toolbox's
// tests check the two agree).
const toolboxListName = "berth-toolbox"

func busyboxApplets(path string) ([]string, error) {
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// BuildRunner compiles a static berth-runner from the berth source tree
// at srcDir into out, printing progress.
func BuildRunner(ctx context.Context, srcDir, out string, progress io.Writer) error {
	fmt.Fprintf(progress, "compiling static berth-runner from %s…\n", srcDir)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-tags", "osusergo netgo sqlite_omit_load_extension",
		"-ldflags", `-s -w -linkmode external -extldflags "-static"`,
		"-o", out, "./cmd/berth-runner")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = progress, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compile berth-runner: %w: %s", err, strings.TrimSpace(lastLines(stderr.String(), 10)))
	}
	return nil
}

// SourceDir finds the berth source tree: start, or a folder above it,
// whose go.mod declares the berth module.
func SourceDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/berth-dev/berth\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("berth source tree not found: run from the berth checkout, or give a prebuilt static runner with --runner-bin")
		}
		dir = parent
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TagImage gives an existing image another tag.
func (d *Docker) TagImage(ctx context.Context, src, dst string) error {
	if err := d.cli.ImageTag(ctx, src, dst); err != nil {
		return fmt.Errorf("tag image %s as %s: %w", src, dst, err)
	}
	return nil
}
