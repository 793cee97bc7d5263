package channels

import (
	"context"
	"io"
)

// File is one file to upload with a reply. The gateway has opened it
// already (without following a symlink) and checked its size against the
// adapter's FileLimit; the adapter reads Size bytes from Reader.
type File struct {
	Name        string // a safe base name: no "/", no "..", no control characters
	ContentType string // "" when unknown
	Size        int64
	Reader      io.Reader
}

// FileSender is implemented by adapters that can post files. The gateway
// uploads an agent's files only through it; without it, the person is
// told the files could not be sent.
type FileSender interface {
	// SendFiles posts files into out's conversation in one message with
	// out.Text as its comment (what does not fit the comment follows as
	// messages), and returns the platform id of that message or file.
	SendFiles(ctx context.Context, out Outbound, files []File) (platformID string, err error)
	// ConfirmFiles tells whether SendFiles(out, files named names) posted
	// its message before a crash or a timeout cut the call off.
	ConfirmFiles(ctx context.Context, out Outbound, names []string) (platformID string, found bool, err error)
	// FileLimit is the largest file, in bytes, the platform takes.
	FileLimit() int64
}
