package runner

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/session/sessiondb"
)

// ReplyID returns a fresh id for a reply whose files are staged before
// the reply is written: they wait in out/outbox/<id>/.
func ReplyID() string { return strings.ToLower(rand.Text()) }

// StageFile copies the file at src into out/outbox/<id>/ under its base
// name, for the reply id to carry. The host uploads only from there.
func StageFile(outDir, id, src string) (_ sessiondb.OutFile, err error) {
	f, err := os.Open(src)
	if err != nil {
		return sessiondb.OutFile{}, fmt.Errorf("open %s: %w", src, err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	st, err := f.Stat()
	if err != nil {
		return sessiondb.OutFile{}, fmt.Errorf("stat %s: %w", src, err)
	}
	if !st.Mode().IsRegular() {
		return sessiondb.OutFile{}, fmt.Errorf("%s is not a regular file", src)
	}
	if st.Size() > sessiondb.MaxFileSize {
		return sessiondb.OutFile{}, fmt.Errorf("%s is %d bytes; berth sends at most %d", src, st.Size(), int64(sessiondb.MaxFileSize))
	}
	return writeStaged(outDir, id, filepath.Base(src), f)
}

// writeStaged writes r to out/outbox/<id>/<name>.
func writeStaged(outDir, id, name string, r io.Reader) (sessiondb.OutFile, error) {
	if err := sessiondb.ValidFileName(name); err != nil {
		return sessiondb.OutFile{}, err
	}
	dir := filepath.Join(outDir, sessiondb.OutboxDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sessiondb.OutFile{}, fmt.Errorf("make outbox: %w", err)
	}
	p := filepath.Join(dir, name)
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return sessiondb.OutFile{}, fmt.Errorf("stage %s: %w", name, err)
	}
	n, err := io.Copy(w, io.LimitReader(r, sessiondb.MaxFileSize+1))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > sessiondb.MaxFileSize {
		err = fmt.Errorf("over %d bytes", int64(sessiondb.MaxFileSize))
	}
	if err != nil {
		return sessiondb.OutFile{}, errors.Join(fmt.Errorf("stage %s: %w", name, err), os.Remove(p))
	}
	return sessiondb.OutFile{Name: name, Size: n, Type: mime.TypeByExtension(filepath.Ext(name))}, nil
}

// SendFile stages the file at src and writes a reply now (not at the end
// of the turn) that carries it, with comment as its text: the send_file
// tool of every provider.
func SendFile(ctx context.Context, db sessiondb.Container, src, comment string) (sessiondb.OutFile, error) {
	id := ReplyID()
	f, err := StageFile(db.OutDir, id, src)
	if err != nil {
		return f, errors.Join(err, os.RemoveAll(filepath.Join(db.OutDir, sessiondb.OutboxDir, id)))
	}
	ct, pid, thread, err := db.Routing(ctx)
	if err == nil {
		err = db.Send(ctx, sessiondb.OutMessage{ID: id, ChannelType: ct, PlatformID: pid, ThreadID: thread,
			Content: sessiondb.OutContent{Text: comment, Files: []sessiondb.OutFile{f}}})
	}
	if err != nil {
		// No reply lists the copy: the host would never remove it.
		return f, errors.Join(fmt.Errorf("send file: %w", err), os.RemoveAll(filepath.Join(db.OutDir, sessiondb.OutboxDir, id)))
	}
	return f, nil
}

// echoFile runs the TEST-ONLY echo directives that send files:
//
//	file <name> <text>          a file holding text
//	filesize <name> <bytes>     a (sparse) file of that size
//	filelink <name> <target>    a symlink to target, listed as a file (a hostile agent)
//	dirlink <name> <dir>        the reply's outbox folder is a symlink to dir, listing name (a hostile agent)
func echoFile(outDir, inReplyTo, word, rest string) (Reply, error) {
	name, arg, _ := strings.Cut(rest, " ")
	id := ReplyID()
	r := Reply{ID: id, InReplyTo: inReplyTo, Text: "echo: " + word + " " + name}
	dir := filepath.Join(outDir, sessiondb.OutboxDir, id)
	switch word {
	case "file":
		f, err := writeStaged(outDir, id, name, strings.NewReader(arg))
		if err != nil {
			return r, err
		}
		r.Files = []sessiondb.OutFile{f}
		return r, nil
	case "filesize":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 0 {
			return r, fmt.Errorf("echo: bad size %q", arg)
		}
		f, err := writeStaged(outDir, id, name, strings.NewReader(""))
		if err != nil {
			return r, err
		}
		if err := os.Truncate(filepath.Join(dir, name), n); err != nil {
			return r, fmt.Errorf("echo: %w", err)
		}
		f.Size = n
		r.Files = []sessiondb.OutFile{f}
		return r, nil
	case "filelink":
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return r, fmt.Errorf("echo: %w", err)
		}
		if err := os.Symlink(arg, filepath.Join(dir, name)); err != nil {
			return r, fmt.Errorf("echo: %w", err)
		}
	case "dirlink":
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return r, fmt.Errorf("echo: %w", err)
		}
		if err := os.Symlink(arg, dir); err != nil {
			return r, fmt.Errorf("echo: %w", err)
		}
	}
	r.Files = []sessiondb.OutFile{{Name: name}}
	return r, nil
}
