package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/berth-dev/berth/cmd/internal/buildinfo"
)

// versionCommand is `berth version`.
func (c *commandLine) versionCommand() *ffcli.Command {
	fs := c.flagSet("version")
	asJSON := fs.Bool("json", false, "print JSON")
	return c.command(leaf{fs: fs, usage: "version [--json]", help: "print berth's version, commit and Go version",
		run: func(context.Context, []string) error {
			v := buildinfo.Current()
			if *asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			_, err := fmt.Fprintln(c.stdout, v.Line("berth"))
			return err
		}})
}

// version is the module version, for `berth status`.
func version() string {
	return buildinfo.Current().Version
}
