package toolbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// dd copies blocks: `dd [if=FILE] [of=FILE] [bs=N] [ibs=N] [obs=N]
// [count=N] [skip=N] [seek=N] [conv=notrunc,fsync] [status=none|noxfer]`.
// Sizes take c w b kB K KB M MB G GB suffixes. Each block is one read,
// so a short read makes a partial record, as in POSIX dd. The records
// summary goes to standard error. A block is bs bytes of memory, as
// asked: the container's memory limit is what bounds it.
func dd(c *call, args []string) int {
	bs, count := int64(512), int64(-1)
	var skip, seek int64
	inName, outName, status := "", "", ""
	notrunc, fsync := false, false
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return c.usage(fmt.Errorf("unrecognized operand %q", a))
		}
		var err error
		switch key {
		case "if":
			inName = val
		case "of":
			outName = val
		case "bs", "ibs", "obs":
			bs, err = ddSize(val)
			if err == nil && bs == 0 {
				err = errors.New("invalid block size 0")
			}
		case "count":
			count, err = ddSize(val)
		case "skip":
			skip, err = ddSize(val)
		case "seek":
			seek, err = ddSize(val)
		case "conv":
			for conv := range strings.SplitSeq(val, ",") {
				switch conv {
				case "notrunc":
					notrunc = true
				case "fsync", "fdatasync":
					fsync = true
				case "sync", "noerror", "":
				default:
					err = fmt.Errorf("invalid conversion %q", conv)
				}
			}
		case "status":
			status = val
		case "iflag", "oflag":
		default:
			err = fmt.Errorf("unrecognized operand %q", a)
		}
		if err != nil {
			return c.usage(err)
		}
	}
	in := c.stdin
	if inName != "" {
		f, err := os.Open(c.path(inName))
		if err != nil {
			c.errorf("failed to open %q: %v", inName, unwrapPath(err))
			return 1
		}
		defer f.Close()
		in = f
		// What cannot seek (a pipe, a device) is read past instead.
		if _, err := f.Seek(skip*bs, io.SeekStart); skip > 0 && err == nil {
			skip = 0
		}
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, in, skip*bs); err != nil && err != io.EOF {
			c.errorf("cannot skip: %v", err)
			return 1
		}
	}
	out := c.stdout
	var outFile *os.File
	if outName != "" {
		flag := os.O_WRONLY | os.O_CREATE
		if !notrunc && seek == 0 {
			flag |= os.O_TRUNC
		}
		f, err := os.OpenFile(c.path(outName), flag, 0o666)
		if err != nil {
			c.errorf("failed to open %q: %v", outName, unwrapPath(err))
			return 1
		}
		outFile, out = f, f
		if seek > 0 {
			if _, err := f.Seek(seek*bs, io.SeekStart); err != nil {
				c.errorf("cannot seek: %v", err)
				f.Close()
				return 1
			}
			if !notrunc {
				if err := f.Truncate(seek * bs); err != nil && !errors.Is(err, os.ErrInvalid) {
					c.errorf("cannot truncate %q: %v", outName, err)
				}
			}
		}
	}
	began := time.Now()
	buf := make([]byte, bs)
	var fullIn, partIn, fullOut, partOut, total int64
	code := 0
	for count < 0 || fullIn+partIn < count {
		if err := c.ctx.Err(); err != nil {
			code = 1
			break
		}
		n, err := in.Read(buf)
		if n > 0 {
			if int64(n) == bs {
				fullIn++
			} else {
				partIn++
			}
			w, werr := out.Write(buf[:n])
			total += int64(w)
			switch {
			case int64(w) == bs:
				fullOut++
			case w > 0:
				partOut++
			}
			if werr != nil {
				c.errorf("error writing %q: %v", cmpOr(outName, "standard output"), unwrapPath(werr))
				code = 1
				break
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			c.errorf("error reading %q: %v", cmpOr(inName, "standard input"), unwrapPath(err))
			code = 1
			break
		}
	}
	if outFile != nil {
		if fsync {
			if err := outFile.Sync(); err != nil {
				c.errorf("fsync failed: %v", err)
				code = 1
			}
		}
		if err := outFile.Close(); err != nil {
			c.errorf("close %q: %v", outName, err)
			code = 1
		}
	}
	if status != "none" {
		fmt.Fprintf(c.stderr, "%d+%d records in\n%d+%d records out\n", fullIn, partIn, fullOut, partOut)
		if status != "noxfer" {
			secs := time.Since(began).Seconds()
			fmt.Fprintf(c.stderr, "%d bytes copied, %.6f s, %.1f MB/s\n", total, secs, float64(total)/1e6/max(secs, 1e-9))
		}
	}
	return code
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ddSize parses a dd number with its optional unit suffix.
func ddSize(s string) (int64, error) {
	units := []struct {
		suffix string
		n      int64
	}{
		{"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"c", 1}, {"w", 2}, {"b", 512}, {"k", 1 << 10}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (n > 0 && mult > (1<<62)/n) {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return n * mult, nil
}
