// Package inbox keeps the files people attach to their messages in a
// session's in/inbox folder, where the agent reads them (in/ is mounted
// read-only at /workspace/in). The host downloads them through the
// adapter (it holds the platform's token) before the message is stored,
// within a group's limits, under safe names, never through a symlink.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// Limits bound what messages may bring into a session's inbox.
type Limits struct {
	MaxFileBytes  int64 // one file
	MaxFiles      int   // the files of one message
	MaxInboxBytes int64 // everything in the session's inbox
}

// Result is what one message brought: its files as the inbound row names
// them, and a line for the person per file that was left out.
type Result struct {
	Files []sessiondb.Attachment
	Notes []string
}

// Fetched reports whether any file was fetched.
func (r Result) Fetched() bool {
	for _, f := range r.Files {
		if f.Path != "" {
			return true
		}
	}
	return false
}

// Inbox is one session's inbox folder and how files reach it.
type Inbox struct {
	InDir   string           // the session's in/ folder
	Fetcher channels.Fetcher // nil: the channel cannot fetch; every file is noted
	Limits  Limits
	// Tries is how often a download that fails is tried (default 3),
	// Backoff the wait after the first failure, doubled after each.
	Tries   int
	Backoff time.Duration
	Log     *slog.Logger
}

// Fetch downloads a message's attachments into in/inbox/<msgID>/, in the
// order given. A file over a limit is not fetched, and one whose download
// fails after the tries is given up; both are named in the result with
// why, so the message still goes in with a note. Fetch removes what an
// earlier attempt for msgID left (the caller fetches only for a message
// not stored yet). An error is the host's own failure (its disk): the
// message cannot be stored now.
func (b Inbox) Fetch(ctx context.Context, msgID string, atts []channels.Attachment) (Result, error) {
	var res Result
	if len(atts) == 0 {
		return res, nil
	}
	if msgID == "" || strings.ContainsAny(msgID, `/\.`) {
		return res, fmt.Errorf("fetch files: bad message id %q", msgID)
	}
	if b.Tries <= 0 {
		b.Tries = 3
	}
	if b.Backoff <= 0 {
		b.Backoff = time.Second
	}
	if b.Log == nil {
		b.Log = slog.New(slog.DiscardHandler)
	}
	root := filepath.Join(b.InDir, sessiondb.InboxDir)
	if err := realDir(root); err != nil {
		return res, fmt.Errorf("fetch files: %w", err)
	}
	dir := filepath.Join(root, msgID)
	if err := os.RemoveAll(dir); err != nil { // RemoveAll follows no symlink
		return res, fmt.Errorf("fetch files: clear %s: %w", msgID, err)
	}
	used, err := usage(root)
	if err != nil {
		return res, fmt.Errorf("fetch files: measure the inbox: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return res, fmt.Errorf("fetch files: %w", err)
	}
	taken := map[string]bool{}
	for i, att := range atts {
		name := SafeName(att.Name)
		a := sessiondb.Attachment{Name: name, ContentType: mediaType(att.ContentType), Size: max(att.Size, 0)}
		why := ""
		switch {
		case i >= b.Limits.MaxFiles:
			why = fmt.Sprintf("a message may bring at most %d (max_files_per_message)", b.Limits.MaxFiles)
		case att.Size > b.Limits.MaxFileBytes:
			why = fmt.Sprintf("it is %s, over the limit of %s a file (max_file_bytes)", Bytes(att.Size), Bytes(b.Limits.MaxFileBytes))
		case used+a.Size > b.Limits.MaxInboxBytes:
			why = fmt.Sprintf("the conversation's inbox is full (%s of %s, max_inbox_bytes)", Bytes(used), Bytes(b.Limits.MaxInboxBytes))
		case b.Fetcher == nil:
			why = "this channel cannot fetch files"
		}
		if why == "" {
			file := Unique(name, taken)
			limit := min(b.Limits.MaxFileBytes, b.Limits.MaxInboxBytes-used)
			n, fwhy, err := b.fetchOne(ctx, att, filepath.Join(dir, file), limit)
			if err != nil {
				return Result{}, err
			}
			if fwhy == "" {
				a.Path, a.Size = path.Join(sessiondb.InboxDir, msgID, file), n
				used += n
			}
			why = fwhy
		}
		if why != "" {
			a.Note = "not fetched: " + why
			res.Notes = append(res.Notes, fmt.Sprintf("%s (%s): %s", name, Bytes(a.Size), why))
			b.Log.Info("file not fetched", "message", msgID, "file", name, "size", a.Size, "reason", why)
		}
		res.Files = append(res.Files, a)
	}
	if !res.Fetched() {
		if err := os.Remove(dir); err != nil {
			return Result{}, fmt.Errorf("fetch files: %w", err)
		}
	}
	return res, nil
}

// fetchOne downloads one file into a new file at file, trying again
// after a failure that may pass. It returns the bytes kept, or why the
// file was given up (and removed); an error is the host's disk failing.
func (b Inbox) fetchOne(ctx context.Context, att channels.Attachment, file string, limit int64) (int64, string, error) {
	// O_EXCL and O_NOFOLLOW: nothing else writes this folder, but a name
	// that is there already, or a symlink, is never written through.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return 0, "", fmt.Errorf("fetch files: create %s: %w", filepath.Base(file), err)
	}
	n, why, err := b.download(ctx, att, f, limit)
	err = errors.Join(err, f.Close())
	if err != nil || why != "" {
		if rerr := os.Remove(file); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		if err != nil {
			return 0, "", fmt.Errorf("fetch files: %w", err)
		}
	}
	return n, why, nil
}

func (b Inbox) download(ctx context.Context, att channels.Attachment, f *os.File, limit int64) (int64, string, error) {
	wait := b.Backoff
	var last error
	for try := 1; try <= b.Tries; try++ {
		if try > 1 {
			select {
			case <-ctx.Done():
				return 0, "the download was cut short (" + ctx.Err().Error() + ")", nil
			case <-time.After(wait):
			}
			wait *= 2
			if err := f.Truncate(0); err != nil {
				return 0, "", err
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return 0, "", err
			}
		}
		w := &capped{f: f, limit: limit}
		err := b.Fetcher.Fetch(ctx, att, w, limit)
		switch {
		case w.err != nil:
			return 0, "", w.err // the disk, not the platform
		case w.over:
			return 0, fmt.Sprintf("it is over the limit of %s (more came than the platform said)", Bytes(limit)), nil
		case err == nil:
			if err := f.Sync(); err != nil {
				return 0, "", err
			}
			return w.n, "", nil
		}
		last = err
		b.Log.Warn("fetch file", "file", filepath.Base(f.Name()), "try", try, "err", err)
		if errors.Is(err, channels.ErrUnfetchable) || ctx.Err() != nil {
			break
		}
	}
	return 0, "the download failed (" + truncate(last.Error(), 200) + ")", nil
}

// errOver stops a download that brings more than its limit.
var errOver = errors.New("file over its limit")

// capped writes to f up to limit bytes, then refuses.
type capped struct {
	f     *os.File
	limit int64
	n     int64
	over  bool
	err   error // the file's own write error
}

func (c *capped) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.limit {
		c.over = true
		return 0, errOver
	}
	n, err := c.f.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// realDir checks that dir is a folder, not a symlink to one.
func realDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	return nil
}

// usage is the bytes of the regular files under root (symlinks are not
// followed, nor counted).
func usage(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// mediaType is a platform's content type, parsed, or "" when it is not one.
func mediaType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || len(mt) > 100 {
		return ""
	}
	if cs := params["charset"]; cs != "" && len(cs) < 40 {
		return mime.FormatMediaType(mt, map[string]string{"charset": cs})
	}
	return mt
}

// Bytes is n in a person's units: "512 B", "20 MB" (MiB, as the limits are set).
func Bytes(n int64) string {
	switch {
	case n >= 1<<20:
		if n%(1<<20) == 0 {
			return fmt.Sprintf("%d MB", n>>20)
		}
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
