package agents

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/berth-dev/berth/session/sessiondb"
)

// What a turn shows a model of the files people attach.
const (
	// maxInlineText is how much of a text file goes into the prompt; the
	// rest the agent can read with its tools.
	maxInlineText = 64 << 10
	// maxImageBytes is the largest image sent as image content (the
	// Anthropic API's limit for one image).
	maxImageBytes = 5 << 20
	// maxImages is how many images one request carries, the newest; older
	// ones are named by path only.
	maxImages = 8
)

// imageTypes are the image formats both APIs take as image content.
var imageTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// histImage is an image a person attached. History keeps its path, not
// its bytes: each request reads the file again (bounded), so session
// state stays small.
type histImage struct {
	Path string `json:"path"` // as the runner reads it
	Type string `json:"type"` // one of imageTypes
}

// describeFiles renders a message's attachments for a model: a line per
// file naming where it is (so the agent's tools can open it), its type
// and size, or why it was left out; with inline, a text-like file's
// content (up to maxInlineText) and the images to send as image content.
// The claude CLI gets the lines only: it reads files itself.
func describeFiles(inDir string, m sessiondb.InMessage, inline bool) (string, []histImage) {
	var b strings.Builder
	var images []histImage
	for _, a := range m.Content.Attachments {
		what := a.ContentType
		if what == "" {
			what = "unknown type"
		}
		if a.Path == "" {
			fmt.Fprintf(&b, "\n[file %q (%s, %d bytes) %s]", a.Name, what, a.Size, a.Note)
			continue
		}
		p, ok := inboxPath(inDir, a.Path)
		if !ok {
			fmt.Fprintf(&b, "\n[file %q: its path in the message is not in the inbox]", a.Name)
			continue
		}
		fmt.Fprintf(&b, "\n[file %q (%s, %d bytes) at %s]", a.Name, what, a.Size, p)
		if !inline {
			continue
		}
		head, size, err := readHead(p, maxInlineText+1)
		if err != nil {
			fmt.Fprintf(&b, "\n[it could not be read: %v]", err)
			continue
		}
		switch kind := sniff(a.ContentType, head); {
		case slices.Contains(imageTypes, kind):
			if size > maxImageBytes {
				fmt.Fprintf(&b, "\n[the image is too large to show (over %d bytes); open it with your tools]", maxImageBytes)
				continue
			}
			images = append(images, histImage{Path: p, Type: kind})
		case kind == "text":
			text := head
			cut := len(text) > maxInlineText
			if cut {
				text = trimRune(text[:maxInlineText])
			}
			fmt.Fprintf(&b, "\n--- %s ---\n%s", a.Name, text)
			if cut {
				fmt.Fprintf(&b, "\n--- (the first %d bytes of %d; read the rest at %s) ---", maxInlineText, size, p)
			} else {
				fmt.Fprintf(&b, "\n--- end of %s ---", a.Name)
			}
		}
	}
	return b.String(), images
}

// inboxPath is an attachment's path as the runner reads it. The path is
// berth's (inbound.db is the host's), but it is checked to lie in the
// inbox all the same.
func inboxPath(inDir, rel string) (string, bool) {
	clean := path.Clean(rel)
	if !strings.HasPrefix(clean, sessiondb.InboxDir+"/") || strings.Contains(clean, "..") {
		return "", false
	}
	return filepath.Join(inDir, filepath.FromSlash(clean)), true
}

// readHead reads at most n bytes of a regular file, never through a
// symlink, and its size.
func readHead(p string, n int64) ([]byte, int64, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = f.Close() }() // read only
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, n))
	return b, fi.Size(), err
}

// sniff decides how a file is shown: an image type of imageTypes (by
// its bytes, whatever the platform said), "text" (said to be text, or
// looking like it, and valid UTF-8 without NULs), or "" (named only).
func sniff(contentType string, head []byte) string {
	detected, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	if slices.Contains(imageTypes, detected) {
		return detected
	}
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(trimRune(head)) {
		return ""
	}
	said, _, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(said, "text/"), detected == "text/plain",
		slices.Contains([]string{"application/json", "application/xml", "application/x-yaml", "application/yaml",
			"application/javascript", "application/x-sh", "application/toml", "application/csv"}, said):
		return "text"
	}
	return ""
}

// trimRune drops an incomplete UTF-8 sequence a cut left at the end.
func trimRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		r, size := utf8.DecodeLastRune(b)
		if r != utf8.RuneError || size != 1 {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// imageData reads an image for a request, base64; ok is false when it is
// gone or grew past the bound since the message came.
func imageData(img histImage) (string, bool) {
	b, size, err := readHead(img.Path, maxImageBytes+1)
	if err != nil || size > maxImageBytes || int64(len(b)) > maxImageBytes {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// sendImages picks the images a request carries: the newest maxImages of
// hist, by message index and image.
func sendImages(hist []histMsg) map[[2]int]bool {
	out := map[[2]int]bool{}
	for i := len(hist) - 1; i >= 0 && len(out) < maxImages; i-- {
		for j := len(hist[i].Images) - 1; j >= 0 && len(out) < maxImages; j-- {
			out[[2]int{i, j}] = true
		}
	}
	return out
}
