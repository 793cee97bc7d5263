package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/container/runnerbuild"
	"github.com/berth-dev/berth/data/paths"
	"github.com/berth-dev/berth/groups"
)

// runnerJSON is what a group's containers run, as `groups show` prints it.
type runnerJSON struct {
	// State is stock, built, failed, refused or unavailable (see
	// runnerbuild.State), or "changed" for a source no container has
	// run since it changed (it is built at the next one).
	State   string `json:"state"`
	Hash    string `json:"hash,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// runnerSrc is the folder of a group's runner source.
func (a *admin) runnerSrc(folder string) string {
	return filepath.Join(a.layout().Dir(folder), groups.RunnerSrc)
}

// runnerStatus is what the group's next container runs: the stock runner,
// its own build, or the stock one because its source did not build.
func (a *admin) runnerStatus(folder string) runnerJSON {
	src, err := runnerbuild.Read(a.runnerSrc(folder))
	if err != nil {
		return runnerJSON{State: string(runnerbuild.StateRefused), Problem: err.Error()}
	}
	hash := src.Hash()
	if hash == runnerbuild.StockHash() {
		return runnerJSON{State: string(runnerbuild.StateStock), Hash: hash}
	}
	st, ok, err := runnerbuild.ReadStatus(paths.Home(a.cfg.Home), folder)
	switch {
	case err != nil:
		return runnerJSON{State: "changed", Hash: hash, Problem: err.Error()}
	case !ok || st.Hash != hash:
		return runnerJSON{State: "changed", Hash: hash}
	}
	return runnerJSON{State: string(st.State), Hash: hash, Problem: st.Problem}
}

// runnerRows are the lines `groups show` prints of the group's runner.
func (r runnerJSON) rows() [][]string {
	what := map[string]string{
		"stock":       "stock (runner-src/ is berth's own source)",
		"built":       "the group's own (runner-src/ changed, and built)",
		"failed":      "stock: the group's runner-src/ does not compile",
		"refused":     "stock: the group's runner-src/ was refused",
		"unavailable": "stock: berth could not build the group's runner-src/",
		"changed":     "runner-src/ changed: built at the next container",
	}[r.State]
	rows := [][]string{{"runner", what}}
	if r.Hash != "" && r.State != "stock" {
		rows = append(rows, []string{"runner source", r.Hash[:min(12, len(r.Hash))]})
	}
	if r.Problem != "" {
		rows = append(rows, []string{"runner problem", r.Problem})
	}
	return rows
}

// groupsRunner is `berth groups runner diff|reset`.
func (a *admin) groupsRunner(c *commandLine) *ffcli.Command {
	cmd := c.group("runner", "groups runner <verb>", "a group's own runner source: diff, reset", a.runnerDiff(c), a.runnerReset(c))
	// Its usage line names it under groups.
	line := "berth groups runner diff|reset [flags]"
	cmd.UsageFunc = func(*ffcli.Command) string { return "usage: " + line }
	cmd.Exec = func(_ context.Context, args []string) error {
		if len(args) > 0 {
			fmt.Fprintf(c.stderr, "berth: unknown command %q\n", "groups runner "+args[0])
		}
		fmt.Fprintf(c.stderr, "usage: %s\n", line)
		return errUsage
	}
	return cmd
}

func (a *admin) runnerDiff(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "diff")
	cmd := a.verb(c, fs, "groups runner diff <group> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		g, err := a.group(ctx, pos[0])
		if err != nil {
			return err
		}
		src, err := runnerbuild.Read(a.runnerSrc(g.Folder))
		if err != nil {
			return exitError{code: 1, err: err}
		}
		d, err := runnerbuild.Diff(runnerbuild.Stock(), src)
		if err != nil {
			return err
		}
		if a.json {
			return a.emit(map[string]any{"stock": d == "", "hash": src.Hash(), "diff": d}, nil, nil)
		}
		if d == "" {
			return a.say(nil, "the runner source of %s is berth's stock source", g.Folder)
		}
		_, err = fmt.Fprint(a.stdout, d)
		return err
	})
	cmd.ShortHelp = "how the group's runner-src/ differs from berth's stock runner source (a unified diff)"
	return cmd
}

func (a *admin) runnerReset(c *commandLine) *ffcli.Command {
	fs := a.flags(c, "reset")
	cmd := a.verb(c, fs, "groups runner reset <group> [--json]", 1, 1, func(ctx context.Context, pos []string) error {
		g, err := a.group(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := runnerbuild.Reset(a.runnerSrc(g.Folder), a.layout().UID); err != nil {
			return err
		}
		return a.say(map[string]any{"group": g.Folder, "reset": true},
			"restored berth's stock runner source in %s; the group's next container runs the stock runner", a.runnerSrc(g.Folder))
	})
	cmd.ShortHelp = "put berth's stock runner source back in the group's runner-src/ (its Go files; other files stay)"
	return cmd
}
