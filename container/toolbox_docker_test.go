package container_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/toolbox"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

// agentShell runs script the way the agents' bash tool does, with
// /bin/sh -c, as the image's unprivileged user, in a fresh container of
// the test image confined as agent containers are (no network, no
// capabilities, memory and pids limits). It returns the combined output
// and the exit code.
func agentShell(t *testing.T, script string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "none",
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--memory", "128m", "--pids-limit", "64", "--tmpfs", "/tmp:size=16m",
		"--entrypoint", "/bin/sh", gatewaytest.Image, "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() != 125:
		return out.String(), exitErr.ExitCode()
	default:
		t.Fatalf("docker run: %v: %s", err, out.String())
		return "", 0
	}
}

// With no busybox given, the agent's shell is the runner's toolbox, and
// a pipeline of the common commands gives exactly the output a POSIX
// shell and coreutils would.
func TestToolboxShellInContainer(t *testing.T) {
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	if os.Getenv("BERTH_BUSYBOX") != "" {
		t.Skip("BERTH_BUSYBOX is set: the test image's shell is that busybox, not the toolbox")
	}

	t.Run("pipeline", func(t *testing.T) {
		// /tmp is the container's one writable folder here, as
		// /workspace/group (a mount) is for an agent.
		script := `set -e
cd /tmp
mkdir -p proj/src proj/doc
printf 'alpha 3\nbeta 1\ngamma 2\nbeta 1\n' > proj/src/data.txt
echo 'hello world' > proj/doc/readme.md
cp proj/src/data.txt proj/src/copy.txt
mv proj/src/copy.txt proj/doc/moved.txt
test -f proj/doc/moved.txt && test ! -e proj/src/copy.txt
ls proj/doc
find proj -name '*.txt' | sort
cat proj/src/data.txt | grep -v gamma | sort -u | wc -l
grep -n beta proj/src/data.txt | tail -n 1
sed -n 's/^\(alpha\) \([0-9]\)$/\2:\1/p' proj/src/data.txt
sort -k2 -n -r proj/src/data.txt | head -n 2
printf '%s=%d\n' lines "$(wc -l < proj/doc/moved.txt)"
rm -r proj/doc
[ -d proj/doc ] || echo doc gone
/bin/grep -c a proj/src/data.txt
ls proj
`
		out, code := agentShell(t, script)
		want := `moved.txt
readme.md
proj/doc/moved.txt
proj/src/data.txt
2
4:beta 1
3:alpha
alpha 3
gamma 2
lines=4
doc gone
4
src
`
		if code != 0 || out != want {
			t.Fatalf("exit %d, output:\n%s\nwant exit 0, output:\n%s", code, out, want)
		}
	})

	for _, tc := range []struct {
		name, script string
		code         int
		output       string // a part of the output
	}{
		{"grep no match", `grep -q nomatch /etc/passwd`, 1, ""},
		{"missing file", `cat /no/such/file`, 1, "no such file"},
		{"unknown command", `no-such-command`, 127, "no-such-command"},
		{"exit code", `false || exit 7`, 7, ""},
		{"pipeline status is the last command's", `false | true`, 0, ""},
		{"pipefail", `set -o pipefail; false | true`, 1, ""},
		{"read-only root", `echo x > /bin/x`, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := agentShell(t, tc.script)
			if code != tc.code || !strings.Contains(strings.ToLower(out), tc.output) {
				t.Fatalf("exit %d, output %q; want exit %d, output containing %q", code, out, tc.code, tc.output)
			}
		})
	}

	t.Run("image holds no busybox", func(t *testing.T) {
		links := imageFiles(t, d)
		if _, ok := links["bin/busybox"]; ok {
			t.Fatal("the image has /bin/busybox, but none was given")
		}
		for _, name := range toolbox.Names() {
			if got := links["bin/"+name]; got != "/usr/local/bin/berth-runner" {
				t.Errorf("/bin/%s links to %q, want the runner", name, got)
			}
		}
	})
}

// imageFiles lists the test image's files, mapped to their link targets
// ("" for what is not a symbolic link), from the engine's export of a
// container made from it.
func imageFiles(t *testing.T, d *container.Docker) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := exec.CommandContext(ctx, "docker", "create", gatewaytest.Image).Output()
	if err != nil {
		t.Fatalf("docker create: %v", err)
	}
	ctr := strings.TrimSpace(string(id))
	t.Cleanup(func() {
		if err := d.Remove(context.Background(), ctr); err != nil {
			t.Errorf("remove container: %v", err)
		}
	})
	export := exec.CommandContext(ctx, "docker", "export", ctr)
	stream, err := export.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := export.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(stream)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read export: %v", err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = h.Linkname
	}
	if err := export.Wait(); err != nil {
		t.Fatalf("docker export: %v", err)
	}
	return files
}
