package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/mounts"
	"github.com/berth-dev/berth/session/census"
	"github.com/berth-dev/berth/session/gateway"
)

// minFreeDisk is the free space under BERTH_HOME below which doctor warns.
const minFreeDisk = 1 << 30

// Outcomes of a doctor check.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "FAIL"
	checkSkip = "skip"
)

// checkResult is one line of `berth doctor`: what was checked, how it
// went and, when it did not go well, how to fix it.
type checkResult struct {
	name   string
	status string
	detail string
	fix    string
}

// doctorCommand is `berth doctor`.
func (c *commandLine) doctorCommand() *ffcli.Command {
	fs := c.flagSet("doctor")
	var cfg config
	cfg.settings(fs, append([]string{flagHome, flagDockerHost, flagImage}, runtimeSettings...)...)
	return c.command(leaf{fs: fs, usage: "doctor [flags]", help: "check Docker, the image, the store, tokens, allowlist and disk; say how to fix", cfg: &cfg,
		run: func(ctx context.Context, _ []string) error { return doctorReport(ctx, cfg, c.stdout) }})
}

// doctorReport prints every check, and how to fix what failed.
func doctorReport(ctx context.Context, cfg config, stdout io.Writer) error {
	results := doctor(ctx, cfg)
	failed := 0
	for _, r := range results {
		fmt.Fprintf(stdout, "%-4s  %-10s  %s\n", r.status, r.name, r.detail)
		if r.fix != "" && (r.status == checkFail || r.status == checkWarn) {
			for _, line := range strings.Split(r.fix, "\n") {
				fmt.Fprintf(stdout, "%-4s  %-10s  fix: %s\n", "", "", line)
			}
		}
		if r.status == checkFail {
			failed++
		}
	}
	if failed > 0 {
		return exitError{code: 1, err: fmt.Errorf("%d of %d checks failed", failed, len(results))}
	}
	fmt.Fprintln(stdout, "all checks passed")
	return nil
}

// doctor runs every check against the install cfg describes.
func doctor(ctx context.Context, cfg config) []checkResult {
	var out []checkResult
	if cfg.Kube.Runtime == runtimeKubernetes {
		out = append(out, kubeDoctor(ctx, cfg)...)
	} else {
		docker, r := checkDocker(ctx, cfg)
		out = append(out, r)
		if docker != nil {
			defer docker.Close()
		}
		out = append(out, checkImage(ctx, cfg, docker))
	}
	out = append(out, checkStateFolder(cfg.Home))
	out = append(out, checkStore(ctx, cfg.Home))
	tokens := checkTokens(cfg)
	out = append(out, tokens...)
	out = append(out, checkAuth(ctx, cfg, tokens)...)
	out = append(out, checkAllowlist(allowlistPath(), cfg.Home))
	out = append(out, checkDisk(cfg.Home))
	out = append(out, checkRunnerBuild(ctx))
	return out
}

func checkDocker(ctx context.Context, cfg config) (*container.Docker, checkResult) {
	r := checkResult{name: "docker"}
	// The same check, and so the same fix, as berth chat and berth run.
	d, api, err := gateway.ConnectEngine(ctx, cfg.DockerHost)
	if e, ok := errors.AsType[*gateway.EngineError](err); ok {
		r.status, r.detail, r.fix = checkFail, e.Detail(), e.Fix()
		return nil, r
	}
	if err != nil {
		r.status, r.detail = checkFail, err.Error()
		r.fix = "check the engine with docker info, or name another with --docker-host or DOCKER_HOST"
		return nil, r
	}
	r.status, r.detail = checkOK, "reachable, API version "+api
	return d, r
}

func checkImage(ctx context.Context, cfg config, d *container.Docker) checkResult {
	r := checkResult{name: "image"}
	if d == nil {
		r.status, r.detail = checkSkip, "needs Docker"
		return r
	}
	ok, err := d.ImageExists(ctx, cfg.Image)
	switch {
	case err != nil:
		r.status, r.detail, r.fix = checkFail, fmt.Sprintf("look for %s: %v", cfg.Image, err), "check that the Docker engine answers (docker images)"
	case !ok:
		r.status, r.detail = checkFail, cfg.Image+" is not present"
		r.fix = "berth image build"
		if cfg.Image != container.DefaultImage {
			r.fix = "berth image build --image " + cfg.Image + "   (or docker pull / docker load it)"
		}
	default:
		r.status, r.detail = checkOK, cfg.Image+" is present"
	}
	return r
}

func checkStateFolder(home string) checkResult {
	r := checkResult{name: "state"}
	for _, dir := range []string{home, paths.Home(home).Logs()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			r.status, r.detail, r.fix = checkFail, err.Error(), "make "+home+" writable by this user, or set BERTH_HOME"
			return r
		}
		f, err := os.CreateTemp(dir, ".doctor-*")
		if err == nil {
			_, err = f.WriteString("ok")
			f.Close()
			os.Remove(f.Name())
		}
		if err != nil {
			r.status, r.detail, r.fix = checkFail, fmt.Sprintf("%s is not writable: %v", dir, err),
				"make "+dir+" writable by this user (chown/chmod), or set BERTH_HOME"
			return r
		}
	}
	r.status, r.detail = checkOK, home+" is writable"
	return r
}

func checkStore(ctx context.Context, home string) checkResult {
	r := checkResult{name: "store"}
	file := paths.Home(home).Store()
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		r.status, r.detail = checkOK, "not created yet (berth run or berth chat creates it)"
		return r
	}
	// Opening applies migrations not yet applied, as the gateway would.
	s, err := data.Open(ctx, file)
	if err != nil {
		r.status, r.detail, r.fix = checkFail, err.Error(), "check "+file+" is readable and writable; restore it from a backup if it is damaged"
		return r
	}
	defer s.Close()
	applied, known, err := s.SchemaVersion(ctx)
	switch {
	case err != nil:
		r.status, r.detail, r.fix = checkFail, err.Error(), "restore "+file+" from a backup"
	case applied > known:
		r.status, r.detail = checkFail, fmt.Sprintf("schema version %d is newer than this berth knows (%d)", applied, known)
		r.fix = "upgrade berth to the version that last ran on this state folder"
	case applied < known:
		r.status, r.detail, r.fix = checkFail, fmt.Sprintf("schema version %d, expected %d", applied, known), "run berth run once to migrate"
	default:
		r.status, r.detail = checkOK, fmt.Sprintf("schema version %d, current", applied)
	}
	return r
}

// Token shapes: Slack bot and app-level tokens, and a Discord bot token's
// three base64url parts.
var (
	slackBotShape = regexp.MustCompile(`^xoxb-[0-9A-Za-z-]{10,}$`)
	slackAppShape = regexp.MustCompile(`^xapp-[0-9A-Za-z-]{10,}$`)
	discordShape  = regexp.MustCompile(`^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$`)
)

// checkAuth makes each configured channel's cheap authenticated call,
// when its tokens are well formed. Errors name the token, never show it.
func checkAuth(ctx context.Context, cfg config, shapes []checkResult) []checkResult {
	for _, r := range shapes {
		if r.status == checkFail {
			return nil
		}
	}
	chans, err := configuredChannels(cfg, nil)
	if err != nil {
		return []checkResult{{name: "channel auth", status: checkFail, detail: err.Error()}}
	}
	var out []checkResult
	for _, ch := range chans {
		c, ok := ch.(interface{ Check(context.Context) error })
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.Check(cctx)
		cancel()
		r := checkResult{name: ch.Type() + " auth", status: checkOK, detail: "the platform accepted the token"}
		if err != nil {
			r.status, r.detail = checkFail, err.Error()
			r.fix = "check the token named above; berth run will refuse to start with it"
		}
		out = append(out, r)
	}
	return out
}

// checkTokens checks each configured channel's tokens by shape. It never
// prints a token.
func checkTokens(cfg config) []checkResult {
	var out []checkResult
	if cfg.SlackBotToken != "" || cfg.SlackAppToken != "" {
		r := checkResult{name: "slack", status: checkOK, detail: "bot and app tokens are well formed"}
		switch {
		case cfg.SlackBotToken == "" || cfg.SlackAppToken == "":
			r.status, r.detail = checkFail, "Socket Mode needs both tokens; one is missing"
			r.fix = "set SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, with connections:write) in the environment or $BERTH_HOME/config"
		case !slackBotShape.MatchString(cfg.SlackBotToken):
			r.status, r.detail = checkFail, "SLACK_BOT_TOKEN does not look like a bot token (xoxb-…)"
			r.fix = "copy the Bot User OAuth Token from the app's OAuth & Permissions page"
		case !slackAppShape.MatchString(cfg.SlackAppToken):
			r.status, r.detail = checkFail, "SLACK_APP_TOKEN does not look like an app-level token (xapp-…)"
			r.fix = "create an app-level token with connections:write under Basic Information, and enable Socket Mode"
		}
		out = append(out, r)
	}
	if cfg.DiscordToken != "" {
		r := checkResult{name: "discord", status: checkOK, detail: "bot token is well formed"}
		if !discordShape.MatchString(strings.TrimPrefix(cfg.DiscordToken, "Bot ")) {
			r.status, r.detail = checkFail, "DISCORD_BOT_TOKEN does not look like a bot token"
			r.fix = "copy the token from the Developer Portal (Bot → Reset Token) into DISCORD_BOT_TOKEN"
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		out = append(out, checkResult{name: "channels", status: checkOK,
			detail: "none configured (berth chat needs none; berth run needs Slack or Discord tokens)"})
	}
	return out
}

// allowlistPath is $XDG_CONFIG_HOME/berth/mount-allowlist.json.
func allowlistPath() string {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		h, _ := os.UserHomeDir()
		base = filepath.Join(h, ".config")
	}
	return filepath.Join(base, "berth", "mount-allowlist.json")
}

// sensitiveDirs, under the user's home, may never be an allowed root,
// nor hold one.
var sensitiveDirs = []string{".ssh", ".gnupg", ".aws", ".kube", ".docker", ".config"}

// checkAllowlist reads the mount allowlist as the gateway does
// (mounts.Load) and looks for roots that would expose too much.
func checkAllowlist(path, home string) checkResult {
	r := checkResult{name: "allowlist"}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		r.status, r.detail = checkOK, "none at "+path+": no extra mounts are allowed"
		return r
	}
	al, err := mounts.Load(path, home, filepath.Dir(path))
	if err != nil {
		r.status, r.detail = checkFail, err.Error()
		r.fix = "make " + path + ` readable and valid; its shape is {"roots": [{"path": "/home/me/projects", "allow_read_write": false}], "blocked": []}`
		return r
	}
	var problems, warnings []string
	hd, _ := os.UserHomeDir()
	for _, root := range al.Roots {
		p := root.Path
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		} else {
			warnings = append(warnings, root.Path+" does not exist")
		}
		if p == "/" || p == hd || within(home, p) || within(p, home) {
			problems = append(problems, root.Path+" would expose the whole disk, the home folder or berth's state")
		}
		for _, s := range sensitiveDirs {
			if d := filepath.Join(hd, s); within(d, p) || within(p, d) {
				problems = append(problems, fmt.Sprintf("%s overlaps %s", root.Path, d))
			}
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o022 != 0 {
		problems = append(problems, fmt.Sprintf("%s is writable by others (mode %v)", path, fi.Mode().Perm()))
	}
	switch {
	case len(problems) > 0:
		r.status, r.detail = checkFail, strings.Join(problems, "; ")
		r.fix = "edit " + path + ": name only project folders as roots, and chmod 600 it"
	case len(warnings) > 0:
		r.status, r.detail = checkWarn, fmt.Sprintf("%d allowed roots; %s", len(al.Roots), strings.Join(warnings, "; "))
		r.fix = "create the folders or remove them from " + path
	default:
		r.status, r.detail = checkOK, fmt.Sprintf("%d allowed roots in %s", len(al.Roots), path)
	}
	return r
}

// within reports whether path is dir or under it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func checkDisk(home string) checkResult {
	r := checkResult{name: "disk"}
	var st syscall.Statfs_t
	if err := syscall.Statfs(home, &st); err != nil {
		r.status, r.detail = checkWarn, fmt.Sprintf("cannot tell free space: %v", err)
		return r
	}
	free := st.Bavail * uint64(st.Bsize)
	r.detail = census.Bytes(free) + " free under " + home
	if free < minFreeDisk {
		r.status = checkWarn
		r.fix = "free some space (old agent images: docker image prune; old logs under " + paths.Home(home).Logs() + "), or move BERTH_HOME"
		return r
	}
	r.status = checkOK
	return r
}

// checkRunnerBuild reports whether a group's changed runner source can be
// built here: the host's Go and gcc, and berth's own source. Without them
// berth still runs, every group on the stock runner: a warning.
func checkRunnerBuild(ctx context.Context) checkResult {
	r := checkResult{name: "runner-src"}
	env, err := runnerbuild.FindEnv(ctx, "")
	if err != nil {
		r.status, r.detail = checkWarn, "a group's changed runner-src/ cannot be built: "+err.Error()
		r.fix = "install Go " + strings.TrimPrefix(runtime.Version(), "go") + " or later and gcc with the static C library (Debian: apt-get install golang build-essential),\n" +
			"and run berth from its checkout or install it with go install; until then every group runs the stock runner"
		return r
	}
	r.status, r.detail = checkOK, "a group's changed runner-src/ is built in a build container ("+env.Describe()+")"
	return r
}
