package toolbox

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ls lists folders and files, one name a line (the output is never a
// terminal here): `ls [-1aAdFhlnpRrSt] [FILE…]`. -l long form (mode,
// links, owner, group, size, time, name, link target), -a/-A with dot
// files, -d folders themselves, -R recursively, -t by time, -S by size,
// -r reversed, -h human sizes, -n numeric ids, -F/-p type marks. Names
// sort bytewise. Exit code 2 when an operand cannot be read.
func ls(c *call, args []string) int {
	args = dropArgs(args, func(a string) bool { return a == "--color" || strings.HasPrefix(a, "--color=") })
	o, names, err := getopt(args, "1aAdFhlnpRrStUc", map[string]byte{
		"all": 'a', "almost-all": 'A', "directory": 'd', "classify": 'F', "human-readable": 'h',
		"recursive": 'R', "reverse": 'r'})
	if err != nil {
		return c.usage(err)
	}
	l := &lister{c: c, o: o, out: output(c.stdout), long: o.has('l') || o.has('n'), now: time.Now(),
		users: map[uint32]string{}, groups: map[uint32]string{}}
	operands := names
	if len(operands) == 0 {
		operands = []string{"."}
	}
	var files, dirs []lsEntry
	for _, name := range operands {
		fi, err := os.Lstat(c.path(name))
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 && !l.long && !o.has('d') {
			// Without -l a link named on the command line is followed.
			if target, serr := os.Stat(c.path(name)); serr == nil {
				fi = target
			}
		}
		if err != nil {
			c.errorf("cannot access '%s': %v", name, unwrapPath(err))
			l.code = 2
			continue
		}
		e := lsEntry{name: name, path: c.path(name), info: fi}
		if fi.IsDir() && !o.has('d') {
			dirs = append(dirs, e)
		} else {
			files = append(files, e)
		}
	}
	l.sort(files)
	l.print(files)
	l.sort(dirs)
	headed := len(operands) > 1 || o.has('R')
	for i, d := range dirs {
		if i > 0 || len(files) > 0 {
			l.out.WriteString("\n")
		}
		l.dir(d, headed)
	}
	return c.finish(l.out, l.code)
}

type lsEntry struct {
	name string // as shown
	path string // to read
	info fs.FileInfo
}

type lister struct {
	c             *call
	o             opts
	out           *outWriter
	long          bool
	now           time.Time
	code          int
	users, groups map[uint32]string // names by id, looked up once
}

func (l *lister) dir(d lsEntry, headed bool) {
	if headed {
		l.out.WriteString(d.name + ":\n")
	}
	des, err := os.ReadDir(d.path)
	if err != nil {
		l.c.errorf("cannot open directory '%s': %v", d.name, unwrapPath(err))
		l.code = 2
		return
	}
	var entries []lsEntry
	if l.o.has('a') {
		for _, dot := range []string{".", ".."} {
			if fi, err := os.Lstat(filepath.Join(d.path, dot)); err == nil {
				entries = append(entries, lsEntry{name: dot, path: filepath.Join(d.path, dot), info: fi})
			}
		}
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") && !l.o.has('a') && !l.o.has('A') {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // gone since the folder was read
		}
		entries = append(entries, lsEntry{name: de.Name(), path: filepath.Join(d.path, de.Name()), info: fi})
	}
	l.sort(entries)
	if l.long {
		var blocks int64
		for _, e := range entries {
			if st, ok := e.info.Sys().(*syscall.Stat_t); ok {
				blocks += st.Blocks
			}
		}
		l.out.WriteString("total " + strconv.FormatInt(blocks/2, 10) + "\n")
	}
	l.print(entries)
	if l.o.has('R') {
		for _, e := range entries {
			if e.info.IsDir() && e.name != "." && e.name != ".." {
				l.out.WriteString("\n")
				sub := e
				sub.name = strings.TrimSuffix(d.name, "/") + "/" + e.name
				l.dir(sub, true)
			}
		}
	}
}

func (l *lister) sort(entries []lsEntry) {
	if l.o.has('U') {
		return
	}
	slices.SortStableFunc(entries, func(a, b lsEntry) int {
		r := 0
		switch {
		case l.o.has('t'):
			r = b.info.ModTime().Compare(a.info.ModTime())
		case l.o.has('S'):
			r = cmp.Compare(b.info.Size(), a.info.Size())
		}
		if r == 0 {
			r = strings.Compare(a.name, b.name)
		}
		if l.o.has('r') {
			r = -r
		}
		return r
	})
}

func (l *lister) print(entries []lsEntry) {
	if !l.long {
		for _, e := range entries {
			l.out.WriteString(e.name + l.mark(e.info) + "\n")
		}
		return
	}
	rows := make([][]string, len(entries))
	widths := make([]int, 5)
	for i, e := range entries {
		nlink, uid, gid := uint64(1), uint32(0), uint32(0)
		if st, ok := e.info.Sys().(*syscall.Stat_t); ok {
			nlink, uid, gid = uint64(st.Nlink), st.Uid, st.Gid
		}
		size := strconv.FormatInt(e.info.Size(), 10)
		if l.o.has('h') {
			size = humanSize(e.info.Size())
		}
		rows[i] = []string{lsMode(e.info.Mode()), strconv.FormatUint(nlink, 10), l.owner(uid, l.users, true), l.owner(gid, l.groups, false), size}
		for j, f := range rows[i] {
			widths[j] = max(widths[j], len(f))
		}
	}
	for i, e := range entries {
		r := rows[i]
		fmt.Fprintf(l.out, "%s %*s %-*s %-*s %*s %s %s%s", r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3], widths[4], r[4],
			l.time(e.info.ModTime()), e.name, l.mark(e.info))
		if e.info.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(e.path); err == nil {
				l.out.WriteString(" -> " + target)
			}
		}
		l.out.WriteString("\n")
	}
}

// time is ls -l's: month, day and time within six months, else the year.
func (l *lister) time(t time.Time) string {
	if t.After(l.now.AddDate(0, -6, 0)) && !t.After(l.now.Add(time.Hour)) {
		return t.Format("Jan _2 15:04")
	}
	return t.Format("Jan _2  2006")
}

// owner names a user or group id (the number with -n or when it has no
// name), remembered for the rest of the listing.
func (l *lister) owner(id uint32, cache map[uint32]string, isUser bool) string {
	if name, ok := cache[id]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(id), 10)
	if !l.o.has('n') {
		if isUser {
			if u, err := user.LookupId(name); err == nil {
				name = u.Username
			}
		} else if g, err := user.LookupGroupId(name); err == nil {
			name = g.Name
		}
	}
	cache[id] = name
	return name
}

// mark is -F's (or -p's, folders only) type mark.
func (l *lister) mark(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case !l.o.has('F') && !l.o.has('p'):
		return ""
	case m.IsDir():
		return "/"
	case !l.o.has('F'):
		return ""
	case m&fs.ModeSymlink != 0:
		return "@"
	case m&fs.ModeNamedPipe != 0:
		return "|"
	case m&fs.ModeSocket != 0:
		return "="
	case m.Perm()&0o111 != 0:
		return "*"
	}
	return ""
}

// lsMode is the ten-character mode of ls -l: type, then rwx three times
// with setuid, setgid and sticky folded in.
func lsMode(m fs.FileMode) string {
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	}
	for i, ch := range "rwxrwxrwx" {
		if m.Perm()&(1<<(8-i)) != 0 {
			b[i+1] = byte(ch)
		}
	}
	special := func(i int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[i] == 'x' {
			b[i] = lower
		} else {
			b[i] = upper
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}

// humanSize is -h's: 1023, 1.0K, 12K, 1.5M, …
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	f := float64(n)
	for _, unit := range []string{"K", "M", "G", "T", "P"} {
		f /= 1024
		if f < 1024 || unit == "P" {
			if f < 10 {
				return strconv.FormatFloat(f, 'f', 1, 64) + unit
			}
			return strconv.FormatFloat(f, 'f', 0, 64) + unit
		}
	}
	return strconv.FormatInt(n, 10)
}
