package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// outFiles is a reply's files, opened for upload, and what was left out.
type outFiles struct {
	files []channels.File
	open  []*os.File // parallel to files
	dir   *os.File   // the reply's outbox folder, the files opened in it; nil if none
	notes []string   // one line per file not sent, with the reason
}

// names are the names of the files that go.
func (o *outFiles) names() []string {
	n := make([]string, len(o.files))
	for i, f := range o.files {
		n[i] = f.Name
	}
	return n
}

// rewind makes every file readable from its start again, for a retry.
func (o *outFiles) rewind() error {
	for i, f := range o.open {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind %s: %w", o.files[i].Name, err)
		}
		o.files[i].Reader = io.LimitReader(f, o.files[i].Size)
	}
	return nil
}

func (o *outFiles) close() error {
	var errs []error
	for _, f := range o.open {
		errs = append(errs, f.Close())
	}
	if o.dir != nil {
		errs = append(errs, o.dir.Close())
	}
	o.open, o.dir = nil, nil
	return errors.Join(errs...)
}

// openOutFiles opens the files msg lists in out/outbox/<msg.ID>/. The
// agent wrote the list, the folder and the files, so each is hostile:
// names must be plain (sessiondb.ValidFileName), every path component
// below out/ is opened with O_NOFOLLOW (a symlink anywhere is refused,
// never followed), only regular files are taken, and none over limit
// bytes or past sessiondb.MaxReplyFiles. What is refused is noted, not
// sent. With canSend false nothing is opened: the channel takes no files.
func openOutFiles(outDir string, msg sessiondb.OutMessage, limit int64, canSend bool) *outFiles {
	o := &outFiles{}
	files := msg.Content.Files
	if extra := len(files) - sessiondb.MaxReplyFiles; extra > 0 {
		// One line for the rest, however many the agent listed.
		o.notes = append(o.notes, fmt.Sprintf("%d more files were not sent: a reply carries at most %d files", extra, sessiondb.MaxReplyFiles))
		files = files[:sessiondb.MaxReplyFiles]
	}
	note := func(name, why string) {
		if sessiondb.ValidFileName(name) != nil {
			name = strconv.Quote(name) // shown as the agent wrote it, controls and all
		}
		o.notes = append(o.notes, fmt.Sprintf("%s was not sent: %s", truncate(name, 80), why))
	}
	if !canSend {
		for _, f := range files {
			note(f.Name, "this channel cannot take files")
		}
		return o
	}
	dir, err := openOutbox(outDir, msg.ID)
	if err != nil {
		for _, f := range files {
			note(f.Name, err.Error())
		}
		return o
	}
	o.dir = dir
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Name] {
			note(f.Name, "it is listed twice")
			continue
		}
		seen[f.Name] = true
		file, size, err := openOutFile(dir, f.Name, limit)
		if err != nil {
			note(f.Name, err.Error())
			continue
		}
		o.open = append(o.open, file)
		o.files = append(o.files, channels.File{Name: f.Name, ContentType: mime.TypeByExtension(filepath.Ext(f.Name)), Size: size,
			Reader: io.LimitReader(file, size)})
	}
	return o
}

// errSymlink is why a path the agent wrote was refused: berth never
// follows a symbolic link out of the outbox.
var errSymlink = errors.New("it is a symbolic link, which berth does not follow")

// openOutbox opens out/outbox/<id> as a directory, following no symlink.
func openOutbox(outDir, id string) (*os.File, error) {
	if err := sessiondb.ValidFileName(id); err != nil {
		return nil, fmt.Errorf("its reply id is not a folder name: %w", err)
	}
	// out/ is berth's folder (the container has it as a mount point and
	// cannot replace it); what is inside is the agent's.
	fd, err := unix.Open(outDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open out folder: %w", err)
	}
	for _, name := range []string{sessiondb.OutboxDir, id} {
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOTDIR) && isSymlinkAt(fd, name) {
			err = unix.ELOOP // O_DIRECTORY answers first for a link to a folder
		}
		cerr := unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("its folder %s: %w", name, pathError(err))
		}
		if cerr != nil {
			return nil, fmt.Errorf("close folder: %w", cerr)
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), filepath.Join(outDir, sessiondb.OutboxDir, id)), nil
}

// openOutFile opens name in dir without following a symlink (O_NOFOLLOW)
// or blocking on a FIFO (O_NONBLOCK), and takes it only if it is a
// regular file of 1 to limit bytes.
func openOutFile(dir *os.File, name string, limit int64) (*os.File, int64, error) {
	if err := sessiondb.ValidFileName(name); err != nil {
		return nil, 0, err
	}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, pathError(err)
	}
	f := os.NewFile(uintptr(fd), name)
	st, err := f.Stat()
	var why error
	switch {
	case err != nil:
		why = fmt.Errorf("stat: %w", err)
	case !st.Mode().IsRegular():
		why = fmt.Errorf("it is not a regular file (%s)", st.Mode().Type())
	case st.Size() == 0:
		why = errors.New("it is empty")
	case st.Size() > limit:
		why = fmt.Errorf("it is %s; the platform takes at most %s", humanSize(st.Size()), humanSize(limit))
	}
	if why != nil {
		return nil, 0, errors.Join(why, f.Close())
	}
	return f, st.Size(), nil
}

// isSymlinkAt reports whether name in dirfd is a symbolic link.
func isSymlinkAt(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// pathError says in a person's words why opening an agent's path failed.
func pathError(err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return errSymlink
	case errors.Is(err, unix.ENOTDIR):
		return errors.New("it is not a folder")
	case errors.Is(err, unix.ENOENT):
		return errors.New("no such file")
	}
	return err
}

// removeOutbox deletes a settled reply's folder in the outbox. os.Root
// keeps the removal inside out/, whatever links the agent planted.
func removeOutbox(outDir, id string) error {
	if sessiondb.ValidFileName(id) != nil {
		return nil // never opened, so nothing of berth's to remove
	}
	root, err := os.OpenRoot(outDir)
	if err != nil {
		return fmt.Errorf("open out folder: %w", err)
	}
	if err := root.RemoveAll(filepath.Join(sessiondb.OutboxDir, id)); err != nil {
		return errors.Join(fmt.Errorf("remove outbox %s: %w", id, err), root.Close())
	}
	return root.Close()
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// fileReply opens a reply's files and builds what is sent: the reply
// text as the files' comment, with a line for each file left out.
func (d *delivery) fileReply(ctx context.Context, l *handle, msg sessiondb.OutMessage) (channels.Outbound, *outFiles, channels.FileSender) {
	fs, canSend := d.channel(msg.ChannelType).(channels.FileSender)
	limit := int64(sessiondb.MaxFileSize)
	if canSend {
		limit = min(limit, fs.FileLimit())
	}
	of := openOutFiles(filepath.Dir(l.db.OutboundPath()), msg, limit, canSend)
	out := d.outbound(ctx, l, msg)
	if len(of.notes) > 0 {
		var b strings.Builder
		b.WriteString(out.Text)
		for _, n := range of.notes {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString("📎 " + n)
		}
		out.Text = b.String()
	}
	return out, of, fs
}

// sendFiles delivers a reply that carries files: uploaded with the text
// as their comment when the channel takes files, else the text alone. A
// file left out is noted for the person (in the text) and the agent.
// retrying (if not nil) is called before each try after the first.
func (d *delivery) sendFiles(ctx context.Context, l *handle, msg sessiondb.OutMessage, retrying func()) (string, error) {
	out, of, fs := d.fileReply(ctx, l, msg)
	defer func() {
		if err := of.close(); err != nil {
			d.log.Warn("close outbox files", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
		}
	}()
	if len(of.notes) > 0 {
		d.log.Warn("files-refused", "channel", msg.ChannelType, "session", l.id, "group", l.group.Folder, "reply", msg.ID,
			"files", len(of.notes))
		d.tellAgent(ctx, l, "files-refused-"+msg.ID, "files_refused",
			"Some files of your reply were not sent:\n"+strings.Join(of.notes, "\n"))
	}
	if fs == nil || len(of.files) == 0 {
		return d.sendRetrying(ctx, msg.ChannelType, out, retrying)
	}
	var total int64
	for _, f := range of.files {
		total += f.Size
	}
	// An upload takes longer than a message: at least a second a MiB.
	timeout := d.cfg.SendTimeout + time.Duration(total>>20)*time.Second
	var err error
	for attempt := 0; attempt < d.cfg.SendTries; attempt++ {
		if attempt > 0 {
			d.log.Info("retried", "channel", msg.ChannelType, "attempt", attempt+1, "err", err)
			if retrying != nil {
				retrying()
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(d.cfg.SendBase << (attempt - 1)):
			}
			// An upload that failed may still have arrived: ask first.
			cctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
			pid, found, cerr := fs.ConfirmFiles(cctx, out, of.names())
			cancel()
			if cerr == nil && found {
				return pid, nil
			}
			if err := of.rewind(); err != nil {
				return "", err
			}
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		var pid string
		pid, err = fs.SendFiles(sctx, out, of.files)
		cancel()
		if err == nil {
			return pid, nil
		}
		if errors.Is(err, channels.ErrPermanent) || ctx.Err() != nil {
			break
		}
	}
	return "", err
}

// confirm asks the platform whether a reply cut off by a crash was
// posted: by its text (Confirmer), or, for a reply with files, by the
// message the upload made (FileSender). ok is false when it cannot say.
func (d *delivery) confirm(ctx context.Context, l *handle, msg sessiondb.OutMessage) (pid string, found, ok bool, err error) {
	if len(msg.Content.Files) == 0 {
		c, isC := d.channel(msg.ChannelType).(channels.Confirmer)
		if !isC {
			return "", false, false, nil
		}
		pid, found, err = c.Confirm(ctx, d.outbound(ctx, l, msg))
		return pid, found, true, err
	}
	out, of, fs := d.fileReply(ctx, l, msg)
	names := of.names()
	if cerr := of.close(); cerr != nil {
		d.log.Warn("close outbox files", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", cerr)
	}
	if fs == nil || len(names) == 0 {
		// Sent as text: the text's own confirmation applies.
		c, isC := d.channel(msg.ChannelType).(channels.Confirmer)
		if !isC {
			return "", false, false, nil
		}
		pid, found, err = c.Confirm(ctx, out)
		return pid, found, true, err
	}
	pid, found, err = fs.ConfirmFiles(ctx, out, names)
	return pid, found, true, err
}

// clearOutbox removes a settled reply's files from the outbox.
func (d *delivery) clearOutbox(l *handle, msg sessiondb.OutMessage) {
	if len(msg.Content.Files) == 0 {
		return
	}
	if err := removeOutbox(filepath.Dir(l.db.OutboundPath()), msg.ID); err != nil {
		d.log.Warn("clear outbox", "session", l.id, "group", l.group.Folder, "reply", msg.ID, "err", err)
	}
}
