package toolbox

import (
	"bufio"
	"fmt"
	"io"
)

// cat writes files (standard input when there are none, or for "-") to
// standard output in order: -n numbers every line, -b only the non-blank
// ones. A file that cannot be read is reported, exit code 1, and the
// others are still written.
func cat(c *call, args []string) int {
	o, files, err := getopt(args, "nbuvAeEstT", map[string]byte{"number": 'n', "number-nonblank": 'b'})
	if err != nil {
		return c.usage(err)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	number := o.has('n') || o.has('b')
	out := output(c.stdout)
	code := 0
	line := 0
	atStart := true
	for _, name := range files {
		if out.err != nil {
			break
		}
		f, err := c.open(name)
		if err != nil {
			c.errorf("%v", err)
			code = 1
			continue
		}
		if !number {
			_, err = io.Copy(out, f)
		} else {
			br := bufio.NewReaderSize(f, 64<<10)
			for out.err == nil {
				var s string
				s, err = br.ReadString('\n')
				if s == "" {
					break
				}
				if atStart && !(o.has('b') && s == "\n") {
					line++
					fmt.Fprintf(out, "%6d\t", line)
				}
				out.WriteString(s)
				atStart = s[len(s)-1] == '\n'
			}
		}
		f.Close()
		if err != nil && err != io.EOF && out.err == nil {
			c.errorf("%s: %v", name, err)
			code = 1
		}
	}
	return c.finish(out, code)
}
