package sessiondb

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the files a reply carries. The platform's own size limit is
// the adapter's; these bound what berth reads from outbound.db at all.
const (
	MaxReplyFiles = 10      // files one reply may carry
	MaxFileName   = 255     // bytes in a file's name
	MaxFileSize   = 1 << 30 // bytes in one file (Slack's limit; Discord's is lower)
)

// ErrBadFileName is why a file name was refused.
var ErrBadFileName = errors.New("bad file name")

// ValidFileName checks that name is one plain path element berth may
// create or open under a folder: not empty, not "." or "..", no "/" or
// "\", valid UTF-8 without control characters, at most MaxFileName bytes.
// The host checks every name (and a reply's id, the folder it names) the
// agent wrote; the runner checks them before writing, to fail early.
func ValidFileName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: %q", ErrBadFileName, name)
	case len(name) > MaxFileName:
		return fmt.Errorf("%w: %d bytes long, at most %d", ErrBadFileName, len(name), MaxFileName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not UTF-8", ErrBadFileName)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%w: %q has a path separator", ErrBadFileName, name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: %q has a control character", ErrBadFileName, name)
	}
	return nil
}
