package toolbox

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// head prints the first lines (-n N, default 10) or bytes (-c N) of
// files or standard input; "-N" is -n N. With more than one file each is
// headed "==> NAME <==" (-q: never, -v: always).
func head(c *call, args []string) int {
	o, files, err := getopt(numericShorthand(args), "n:c:qv", map[string]byte{
		"lines": 'n', "bytes": 'c', "quiet": 'q', "silent": 'q', "verbose": 'v'})
	if err != nil {
		return c.usage(err)
	}
	bytesMode := o.has('c') && o.last('c', "") != ""
	n, err := count(o.last('n', "10"))
	if bytesMode {
		n, err = count(o.last('c', ""))
	}
	if err != nil {
		return c.usage(err)
	}
	return eachFile(c, files, headed(o, files), func(out *outWriter, r io.Reader) error {
		if bytesMode {
			_, err := io.CopyN(out, r, n)
			if err == io.EOF {
				err = nil
			}
			return err
		}
		br := bufio.NewReaderSize(r, 64<<10)
		for i := int64(0); i < n && out.err == nil; i++ {
			line, err := br.ReadString('\n')
			out.WriteString(line)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// numericShorthand rewrites the old "-N" option as "-n N".
func numericShorthand(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "0123456789") == "" {
			out = append(out, "-n", a[1:])
			continue
		}
		out = append(out, a)
	}
	return out
}

// count parses a non-negative count.
func count(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return n, nil
}

// headed reports whether head or tail heads each file with its name:
// -v always, -q never, else when there is more than one.
func headed(o opts, files []string) bool {
	return o.has('v') || (len(files) > 1 && !o.has('q'))
}

// eachFile runs fn over each file operand (standard input when there is
// none, or for "-"), each headed "==> NAME <==" when headed, and returns
// the exit code: 1 if a file could not be read.
func eachFile(c *call, files []string, headed bool, fn func(out *outWriter, r io.Reader) error) int {
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := output(c.stdout)
	code := 0
	first := true
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
		if headed {
			if !first {
				out.WriteString("\n")
			}
			first = false
			shown := name
			if name == "-" {
				shown = "standard input"
			}
			out.WriteString("==> " + shown + " <==\n")
		}
		err = fn(out, f)
		f.Close()
		if err != nil && out.err == nil {
			c.errorf("%s: %v", name, err)
			code = 1
		}
	}
	return c.finish(out, code)
}
