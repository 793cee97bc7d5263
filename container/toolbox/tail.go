package toolbox

import (
	"bufio"
	"io"
	"strings"
)

// tail prints the last lines (-n N, default 10) or bytes (-c N) of files
// or standard input; -n +N (and -c +N) start at line (byte) N instead.
// "-N" is -n N. Headers as head's.
func tail(c *call, args []string) int {
	o, files, err := getopt(numericShorthand(args), "n:c:qv", map[string]byte{
		"lines": 'n', "bytes": 'c', "quiet": 'q', "silent": 'q', "verbose": 'v'})
	if err != nil {
		return c.usage(err)
	}
	spec, bytesMode := o.last('n', "10"), false
	if o.has('c') {
		spec, bytesMode = o.last('c', ""), true
	}
	fromStart := strings.HasPrefix(spec, "+")
	n, err := count(strings.TrimPrefix(strings.TrimPrefix(spec, "+"), "-"))
	if err != nil {
		return c.usage(err)
	}
	return eachFile(c, files, headed(o, files), func(out *outWriter, r io.Reader) error {
		switch {
		case bytesMode && fromStart:
			if n > 1 {
				if _, err := io.CopyN(io.Discard, r, n-1); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
			_, err := io.Copy(out, r)
			return err
		case bytesMode:
			return tailBytes(out, r, n)
		case fromStart:
			br := bufio.NewReaderSize(r, 64<<10)
			for i := int64(1); i < n; i++ {
				if _, err := br.ReadString('\n'); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
			_, err := io.Copy(out, br)
			return err
		default:
			return tailLines(out, r, n)
		}
	})
}

// tailLines keeps the last n lines in a ring.
func tailLines(out *outWriter, r io.Reader, n int64) error {
	if n == 0 {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	ring := make([]string, 0, min(n, 1024))
	next := 0
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if int64(len(ring)) < n {
				ring = append(ring, line)
			} else {
				ring[next] = line
				next = (next + 1) % len(ring)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	for i := range ring {
		out.WriteString(ring[(next+i)%len(ring)])
	}
	return nil
}

// tailBytes keeps the last n bytes.
func tailBytes(out *outWriter, r io.Reader, n int64) error {
	var keep []byte
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		keep = append(keep, buf[:k]...)
		if int64(len(keep)) > n {
			keep = append(keep[:0], keep[int64(len(keep))-n:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err := out.Write(keep)
	return err
}
