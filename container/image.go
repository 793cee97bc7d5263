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
	"os"
	"os/exec"
	"path/filepath"
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

// ImageSource is what the agent image is built from: two static binaries.
type ImageSource struct {
	Runner  string // a static berth-runner
	Busybox string // a static busybox, for a shell
}

// BuildImage builds the agent image tagged tag from src, locally, with no
// registry: FROM scratch, the runner, busybox and its applet links. It
// skips the build when an image with the same content already exists.
// Progress goes to progress.
func (d *Docker) BuildImage(ctx context.Context, tag string, src ImageSource, progress io.Writer) error {
	for name, p := range map[string]string{"berth-runner": src.Runner, "busybox": src.Busybox} {
		if err := requireStatic(p); err != nil {
			return fmt.Errorf("build image: %s: %w", name, err)
		}
	}
	runnerBin, err := os.ReadFile(src.Runner)
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	busybox, err := os.ReadFile(src.Busybox)
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	applets, err := busyboxApplets(src.Busybox)
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	dockerfile := fmt.Sprintf(`FROM scratch
COPY rootfs/ /
USER %d:%d
ENV HOME=/home/agent PATH=/usr/local/bin:/bin
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/berth-runner"]
`, AgentUID, AgentUID)
	h := sha256.New()
	h.Write(runnerBin)
	h.Write(busybox)
	h.Write([]byte(dockerfile))
	hash := hex.EncodeToString(h.Sum(nil))[:16]

	if img, err := d.cli.ImageInspect(ctx, tag); err == nil && img.Config != nil && img.Config.Labels[LabelImageHash] == hash {
		fmt.Fprintf(progress, "image %s is up to date (%s)\n", tag, hash)
		return nil
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	dir := func(name string, mode int64, uid int) {
		tw.WriteHeader(&tar.Header{Name: name + "/", Mode: mode, Typeflag: tar.TypeDir, Uid: uid, Gid: uid})
	}
	add("Dockerfile", 0o644, []byte(dockerfile))
	for _, d := range []string{"rootfs", "rootfs/bin", "rootfs/usr", "rootfs/usr/local", "rootfs/usr/local/bin", "rootfs/etc", "rootfs/workspace", "rootfs/app"} {
		dir(d, 0o755, 0)
	}
	dir("rootfs/home", 0o755, 0)
	dir("rootfs/home/agent", 0o755, AgentUID)
	add("rootfs/usr/local/bin/berth-runner", 0o755, runnerBin)
	add("rootfs/bin/busybox", 0o755, busybox)
	for _, a := range applets {
		if a == "busybox" || strings.ContainsAny(a, "/ ") {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: "rootfs/bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	add("rootfs/etc/passwd", 0o644, []byte(fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nagent:x:%d:%d:agent:/home/agent:/bin/sh\n", AgentUID, AgentUID)))
	add("rootfs/etc/group", 0o644, []byte(fmt.Sprintf("root:x:0:\nagent:x:%d:\n", AgentUID)))
	if err := tw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(progress, "building image %s (runner %d KiB, busybox %d KiB)…\n", tag, len(runnerBin)>>10, len(busybox)>>10)
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

func busyboxApplets(path string) ([]string, error) {
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// FindBusybox returns a static busybox: $BERTH_BUSYBOX if given, else the
// one Debian's busybox-static package installs.
func FindBusybox(given string) (string, error) {
	for _, p := range []string{given, "/bin/busybox", "/usr/bin/busybox"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil && requireStatic(p) == nil {
			return p, nil
		}
	}
	return "", errors.New("no static busybox found: install it (apt-get install busybox-static) or set BERTH_BUSYBOX")
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
