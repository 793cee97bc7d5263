package mounts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Allowlist names the host folders that extra mounts may come from. It
// lives outside anything a container can see, so no agent can widen it.
type Allowlist struct {
	Roots            []Root   `json:"roots"`
	Blocked          []string `json:"blocked"`
	NonAdminReadOnly bool     `json:"non_admin_read_only"`
	protected        []string // berth's own folders: never mountable
}

// Root is one host folder extra mounts may come from. From a root that
// allows read-write, only its direct children are mounted as asked; the
// root itself is mounted read-only and deeper folders are refused (an
// agent writing one child could otherwise redirect the mount of another).
type Root struct {
	Path           string `json:"path"`
	AllowReadWrite bool   `json:"allow_read_write"`
	Description    string `json:"description"`
}

// Request is an extra mount a group's configuration asks for.
type Request struct {
	HostPath      string `json:"host_path"`
	ContainerPath string `json:"container_path"`
	ReadWrite     bool   `json:"read_write"`
}

// defaultBlocked are names no mount may contain anywhere in its path.
var defaultBlocked = []string{
	".ssh", ".gnupg", ".aws", ".azure", ".gcloud", ".kube", ".docker", ".env", ".netrc",
	"*.pem", "*.key", "id_*", "credentials", "docker.sock",
}

// blockedPrefixes are host folders never mounted, nor anything inside them.
var blockedPrefixes = []string{"/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/var/run", "/run"}

var validTarget = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,100}$`)

// Load reads an allowlist file. A missing file is an empty allowlist (no
// extra mounts at all), never an error. protected are berth's own folders
// (its state and config), always refused.
func Load(file string, protected ...string) (*Allowlist, error) {
	a := &Allowlist{NonAdminReadOnly: true}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		a.protected = resolveAll(protected)
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read mount allowlist: %w", err)
	}
	if err := json.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("mount allowlist %s: %w", file, err)
	}
	for i, r := range a.Roots {
		if !filepath.IsAbs(r.Path) {
			return nil, fmt.Errorf("mount allowlist %s: root %q is not an absolute path", file, r.Path)
		}
		a.Roots[i].Path = filepath.Clean(r.Path)
	}
	a.protected = resolveAll(protected)
	return a, nil
}

// Check validates one request for a group and returns the mount to add.
// A read-write request that the root or the group's role does not allow
// is downgraded to read-only, not refused.
func (a *Allowlist) Check(req Request, admin bool) (Mount, error) {
	refuse := func(why string, args ...any) (Mount, error) {
		return Mount{}, fmt.Errorf("mount %q refused: %s", truncate(req.HostPath, 200), fmt.Sprintf(why, args...))
	}
	if err := req.Validate(); err != nil {
		return refuse("%v", err)
	}
	target := path.Join("/workspace/extra", req.ContainerPath)
	// Judge the path the engine would really mount: symlinks resolved.
	real, err := filepath.EvalSymlinks(filepath.Clean(req.HostPath))
	if err != nil {
		return refuse("host path does not exist or cannot be resolved")
	}
	if p := blockedComponent(real, append(defaultBlocked, a.Blocked...)); p != "" {
		return refuse("matches blocked pattern %s", p)
	}
	for _, pre := range blockedPrefixes {
		if within(real, pre) {
			return refuse("%s is never mounted", pre)
		}
	}
	for _, p := range a.protected {
		if within(real, p) || within(p, real) {
			return refuse("berth's own folder %s is never mounted", p)
		}
	}
	rootOnly := false
	for _, r := range a.Roots {
		if !r.AllowReadWrite {
			continue
		}
		root, err := filepath.EvalSymlinks(r.Path)
		if err != nil || !within(real, root) {
			continue
		}
		// An agent may write any folder below a read-write root. The
		// engine resolves a mount's source on the host, after this check:
		// an agent that swapped a folder on the way to real for a symlink
		// would have the host mount whatever it names, for this or any
		// other group. So from such a root only its direct children are
		// mounted (their parent, the root, no agent can write: it is
		// mounted read-only at most), and nothing deeper.
		rel, _ := filepath.Rel(root, real)
		if rel == "." {
			rootOnly = true
			continue
		}
		if child, _, deeper := strings.Cut(rel, string(filepath.Separator)); deeper {
			return refuse("it lies inside %s, which an agent may write (root %s allows read-write); mount that folder itself",
				filepath.Join(root, child), r.Path)
		}
	}
	for _, r := range a.Roots {
		root, err := filepath.EvalSymlinks(r.Path)
		if err != nil || !within(real, root) {
			continue
		}
		rw := req.ReadWrite && r.AllowReadWrite && (admin || !a.NonAdminReadOnly) && !rootOnly
		return Mount{Source: real, Target: target, ReadOnly: !rw}, nil
	}
	return refuse("not inside any allowed root")
}

// Validate reports whether a request is well-formed, before any allowlist
// looks at it: an absolute host path without ':', and a relative container
// path of plain names (it is mounted under /workspace/extra/). Groups'
// configs are checked with it when they are read.
func (req Request) Validate() error {
	if !filepath.IsAbs(req.HostPath) {
		return errors.New("host path must be absolute")
	}
	if strings.ContainsAny(req.HostPath, ":\x00") {
		return errors.New("host path may not contain ':'")
	}
	return checkTarget(req.ContainerPath)
}

// checkTarget validates a container path.
func checkTarget(p string) error {
	switch {
	case p == "":
		return errors.New("container path is empty")
	case strings.HasPrefix(p, "/"):
		return errors.New("container path must be relative (it is mounted under /workspace/extra/)")
	case strings.Contains(p, ":"):
		return errors.New("container path may not contain ':'")
	case !validTarget.MatchString(p):
		return errors.New("container path may use only letters, digits, '.', '_', '-' and '/', at most 100")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || part == "." || part == "" {
			return errors.New("container path may not contain '.', '..' or empty parts")
		}
	}
	return nil
}

// blockedComponent returns the pattern some component of p matches, or "".
func blockedComponent(p string, patterns []string) string {
	for _, part := range strings.Split(p, string(filepath.Separator)) {
		if part == "" {
			continue
		}
		for _, pat := range patterns {
			if ok, _ := filepath.Match(pat, part); ok || strings.EqualFold(part, pat) {
				return pat
			}
		}
	}
	return ""
}

// within reports whether p is root or inside it, comparing whole path
// components: /srv/data2 is not inside /srv/data.
func within(p, root string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

func resolveAll(ps []string) []string {
	var out []string
	for _, p := range ps {
		if p == "" {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		out = append(out, filepath.Clean(p))
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
