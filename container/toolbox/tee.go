package toolbox

import (
	"io"
	"os"
)

// tee copies standard input to standard output and to each file,
// truncating them (-a: appending). A file that cannot be opened is
// reported, exit code 1, and the copy goes on to the others.
func tee(c *call, args []string) int {
	o, files, err := getopt(args, "ai", map[string]byte{"append": 'a', "ignore-interrupts": 'i'})
	if err != nil {
		return c.usage(err)
	}
	code := 0
	writers := []io.Writer{c.stdout}
	var opened []*os.File
	for _, name := range files {
		f, err := createFile(c, name, o.has('a'))
		if err != nil {
			c.errorf("%v", err)
			code = 1
			continue
		}
		opened = append(opened, f)
		writers = append(writers, f)
	}
	// Unbuffered, so what tee passes on arrives as it comes.
	if _, err := io.Copy(io.MultiWriter(writers...), c.stdin); err != nil {
		c.errorf("%v", err)
		code = 1
	}
	for _, f := range opened {
		if err := f.Close(); err != nil {
			c.errorf("%v", err)
			code = 1
		}
	}
	return code
}

// createFile opens a file operand for writing, created 0666 (less the
// umask), truncated or, with appendTo, appended to.
func createFile(c *call, name string, appendTo bool) (*os.File, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	return os.OpenFile(c.path(name), flag, 0o666)
}
