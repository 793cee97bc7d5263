package channels

import (
	"context"
	"errors"
	"io"
)

// Fetcher is implemented by adapters that can download the files people
// attach. The host fetches them (the adapter holds the token a platform
// may ask for; it never reaches a container) into the session's inbox
// before the message is stored.
type Fetcher interface {
	// Fetch writes the attachment's bytes to w, at most max+1 of them (so
	// the caller can tell a file over max from one exactly max long). It
	// follows no redirect to a host other than the platform's file hosts.
	// An error wrapping ErrUnfetchable (a refused redirect, a 404) is not
	// worth retrying.
	Fetch(ctx context.Context, att Attachment, w io.Writer, max int64) error
}

// ErrUnfetchable marks a download that retrying will not mend.
var ErrUnfetchable = errors.New("the file cannot be fetched")
