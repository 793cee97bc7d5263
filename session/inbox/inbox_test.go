package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/sessiondb"
)

// fetcher is a TEST-ONLY channels.Fetcher serving bodies by URL, failing
// the first fails[url] tries.
type fetcher struct {
	mu    sync.Mutex // guards tries and fails
	body  map[string][]byte
	fails map[string]error
	left  map[string]int
	tries map[string]int
}

var _ channels.Fetcher = (*fetcher)(nil)

func (f *fetcher) Fetch(_ context.Context, att channels.Attachment, w io.Writer, max int64) error {
	f.mu.Lock()
	f.tries[att.URL]++
	if f.left[att.URL] > 0 {
		f.left[att.URL]--
		err := f.fails[att.URL]
		f.mu.Unlock()
		return err
	}
	f.mu.Unlock()
	b, ok := f.body[att.URL]
	if !ok {
		return fmt.Errorf("%w: 404", channels.ErrUnfetchable)
	}
	_, err := io.Copy(w, io.LimitReader(bytes.NewReader(b), max+1))
	return err
}

func newFetcher() *fetcher {
	return &fetcher{body: map[string][]byte{}, fails: map[string]error{}, left: map[string]int{}, tries: map[string]int{}}
}

func newInbox(t *testing.T, f channels.Fetcher, lim Limits) Inbox {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in")
	if err := os.MkdirAll(filepath.Join(in, sessiondb.InboxDir), 0o755); err != nil {
		t.Fatal(err)
	}
	return Inbox{InDir: in, Fetcher: f, Limits: lim, Backoff: time.Millisecond}
}

var roomy = Limits{MaxFileBytes: 1 << 20, MaxFiles: 10, MaxInboxBytes: 4 << 20}

func TestFetchStoresUnderSafeNames(t *testing.T) {
	f := newFetcher()
	f.body["u1"], f.body["u2"], f.body["u3"] = []byte("one"), []byte("two"), []byte("three")
	b := newInbox(t, f, roomy)
	res, err := b.Fetch(context.Background(), "m1", []channels.Attachment{
		{Name: "../../notes.txt", ContentType: "text/plain; charset=utf-8", Size: 3, URL: "u1"},
		{Name: "notes.txt", Size: 3, URL: "u2"},
		{Name: "a\x00.png", ContentType: "not a type", Size: 5, URL: "u3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []sessiondb.Attachment{
		{Name: "notes.txt", ContentType: "text/plain; charset=utf-8", Size: 3, Path: "inbox/m1/notes.txt"},
		{Name: "notes.txt", Size: 3, Path: "inbox/m1/notes-2.txt"},
		{Name: "a_.png", Size: 5, Path: "inbox/m1/a_.png"},
	}
	if fmt.Sprint(res.Files) != fmt.Sprint(want) || len(res.Notes) != 0 {
		t.Fatalf("files = %+v notes %q\nwant %+v", res.Files, res.Notes, want)
	}
	for i, body := range []string{"one", "two", "three"} {
		if got, err := os.ReadFile(filepath.Join(b.InDir, want[i].Path)); err != nil || string(got) != body {
			t.Fatalf("%s = %q %v", want[i].Path, got, err)
		}
	}
}

func TestFetchLimits(t *testing.T) {
	f := newFetcher()
	for i := range 5 {
		f.body[fmt.Sprint("u", i)] = bytes.Repeat([]byte("x"), 100)
	}
	f.body["liar"] = bytes.Repeat([]byte("y"), 500) // says 10 bytes
	b := newInbox(t, f, Limits{MaxFileBytes: 200, MaxFiles: 3, MaxInboxBytes: 250})
	res, err := b.Fetch(context.Background(), "m1", []channels.Attachment{
		{Name: "a", Size: 100, URL: "u0"},
		{Name: "big", Size: 201, URL: "u1"}, // over max_file_bytes
		{Name: "liar", Size: 10, URL: "liar"},
		{Name: "d", Size: 100, URL: "u3"}, // the fourth: over max_files_per_message
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range res.Files {
		got = append(got, a.Name+"="+a.Path+"|"+a.Note)
	}
	want := []string{
		"a=inbox/m1/a|",
		"big=|not fetched: it is 201 B, over the limit of 200 B a file (max_file_bytes)",
		"liar=|not fetched: it is over the limit of 150 B (more came than the platform said)",
		"d=|not fetched: a message may bring at most 3 (max_files_per_message)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Notes) != 3 || f.tries["u1"] != 0 || f.tries["u3"] != 0 {
		t.Fatalf("notes %q; tries %v: a file over a limit must not be fetched", res.Notes, f.tries)
	}
	if _, err := os.Lstat(filepath.Join(b.InDir, "inbox", "m1", "liar")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file over its limit was kept: %v", err)
	}
	// The next message finds the inbox holding 100 of 250 bytes.
	res, err = b.Fetch(context.Background(), "m2", []channels.Attachment{{Name: "e", Size: 100, URL: "u4"}, {Name: "f", Size: 100, URL: "u4"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files[0].Path == "" || res.Files[1].Path != "" || !strings.Contains(res.Files[1].Note, "inbox is full (200 B of 250 B, max_inbox_bytes)") {
		t.Fatalf("inbox limit: %+v", res.Files)
	}
}

func TestFetchRetriesThenNotes(t *testing.T) {
	f := newFetcher()
	f.body["flaky"], f.body["down"] = []byte("finally"), []byte("never")
	f.fails["flaky"], f.left["flaky"] = errors.New("connection reset"), 2
	f.fails["down"], f.left["down"] = errors.New("connection reset"), 99
	f.fails["gone"], f.left["gone"] = fmt.Errorf("%w: redirect to evil.example refused", channels.ErrUnfetchable), 99
	b := newInbox(t, f, roomy)
	res, err := b.Fetch(context.Background(), "m1", []channels.Attachment{
		{Name: "flaky.txt", URL: "flaky"}, {Name: "down.txt", URL: "down"}, {Name: "gone.txt", URL: "gone"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files[0].Path != "inbox/m1/flaky.txt" || res.Files[0].Size != 7 {
		t.Fatalf("a download that failed twice then worked: %+v", res.Files[0])
	}
	if got, _ := os.ReadFile(filepath.Join(b.InDir, res.Files[0].Path)); string(got) != "finally" {
		t.Fatalf("retried file = %q", got)
	}
	if res.Files[1].Path != "" || !strings.Contains(res.Files[1].Note, "the download failed (connection reset)") || f.tries["down"] != 3 {
		t.Fatalf("a download that always fails: %+v after %d tries", res.Files[1], f.tries["down"])
	}
	if f.tries["gone"] != 1 || !strings.Contains(res.Files[2].Note, "redirect to evil.example refused") {
		t.Fatalf("a permanent failure was tried %d times: %+v", f.tries["gone"], res.Files[2])
	}
	if len(res.Notes) != 2 {
		t.Fatalf("notes = %q", res.Notes)
	}
}

// What an attempt left that did not store its row is replaced, and
// nothing is written through a symlink in its place.
func TestFetchReplacesLeftoversNeverThroughSymlinks(t *testing.T) {
	f := newFetcher()
	f.body["u"] = []byte("fresh")
	b := newInbox(t, f, roomy)
	decoy := t.TempDir()
	dir := filepath.Join(b.InDir, "inbox", "m1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(decoy, "x.txt"), filepath.Join(dir, "x.txt")); err != nil {
		t.Fatal(err)
	}
	res, err := b.Fetch(context.Background(), "m1", []channels.Attachment{{Name: "x.txt", URL: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(b.InDir, res.Files[0].Path)); string(got) != "fresh" {
		t.Fatalf("file = %q", got)
	}
	if ents, _ := os.ReadDir(decoy); len(ents) != 0 {
		t.Fatalf("written through a symlink into the decoy: %v", ents)
	}
	// An inbox folder that is a symlink is refused outright.
	b2 := newInbox(t, f, roomy)
	root := filepath.Join(b2.InDir, "inbox")
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(decoy, root); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Fetch(context.Background(), "m1", []channels.Attachment{{Name: "x.txt", URL: "u"}}); err == nil {
		t.Fatal("fetched into an inbox that is a symlink")
	}
	if ents, _ := os.ReadDir(decoy); len(ents) != 0 {
		t.Fatalf("written into the decoy: %v", ents)
	}
}

func TestFetchWithoutFetcherNotes(t *testing.T) {
	b := newInbox(t, nil, roomy)
	res, err := b.Fetch(context.Background(), "m1", []channels.Attachment{{Name: "a.txt", Size: 3}})
	if err != nil || res.Files[0].Path != "" || !strings.Contains(res.Files[0].Note, "cannot fetch files") {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := os.Lstat(filepath.Join(b.InDir, "inbox", "m1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an empty message folder was left: %v", err)
	}
}
