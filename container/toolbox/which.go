package toolbox

import (
	"os"
	"path/filepath"
	"strings"
)

// which prints where each NAME would be run from: the first executable
// file of that name in PATH's folders (-a: every one). Exit code 1 when a
// name is found nowhere.
func which(c *call, args []string) int {
	o, names, err := getopt(args, "a", nil)
	if err != nil {
		return c.usage(err)
	}
	path, _ := c.lookupEnv("PATH")
	out := output(c.stdout)
	code := 0
	for _, name := range names {
		found := false
		for _, p := range candidates(c, name, path) {
			if isExecutable(p) {
				out.WriteString(p + "\n")
				found = true
				if !o.has('a') {
					break
				}
			}
		}
		if !found {
			code = 1
		}
	}
	return c.finish(out, code)
}

// candidates are the paths a command name may be run from: itself when it
// has a slash, else each PATH folder's entry of that name.
func candidates(c *call, name, path string) []string {
	if strings.Contains(name, "/") {
		return []string{c.path(name)}
	}
	var ps []string
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		ps = append(ps, filepath.Join(c.path(dir), name))
	}
	return ps
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
