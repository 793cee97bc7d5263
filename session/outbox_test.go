package session

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/session/sessiondb"
)

// openOutFiles takes only regular files within limits from the reply's
// own outbox folder, and follows no symlink anywhere below out/.
func TestOpenOutFiles(t *testing.T) {
	decoy := t.TempDir()
	if err := os.WriteFile(filepath.Join(decoy, "secret.txt"), []byte("DECOY"), 0o644); err != nil {
		t.Fatal(err)
	}
	const id = "r1"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, out string) // out/outbox exists; out/outbox/r1 does not
		files []string
		sent  []string // names opened
		notes []string // substrings of the notes, in order
	}{
		{"regular file", stage("a.txt", "hello"), []string{"a.txt"}, []string{"a.txt"}, nil},
		{"missing", mkdir, []string{"gone.txt"}, nil, []string{"gone.txt was not sent: no such file"}},
		{"symlink file", func(t *testing.T, out string) {
			mkdir(t, out)
			must(t, os.Symlink(filepath.Join(decoy, "secret.txt"), filepath.Join(out, "outbox", id, "s.txt")))
		}, []string{"s.txt"}, nil, []string{"s.txt was not sent: it is a symbolic link"}},
		{"reply folder is a symlink", func(t *testing.T, out string) {
			must(t, os.Symlink(decoy, filepath.Join(out, "outbox", id)))
		}, []string{"secret.txt"}, nil, []string{"its folder r1: it is a symbolic link"}},
		{"outbox is a symlink", func(t *testing.T, out string) {
			must(t, os.Remove(filepath.Join(out, "outbox")))
			must(t, os.Mkdir(filepath.Join(decoy, id), 0o755))
			must(t, os.WriteFile(filepath.Join(decoy, id, "x.txt"), []byte("DECOY"), 0o644))
			must(t, os.Symlink(decoy, filepath.Join(out, "outbox")))
		}, []string{"x.txt"}, nil, []string{"its folder outbox: it is a symbolic link"}},
		{"fifo", func(t *testing.T, out string) {
			mkdir(t, out)
			must(t, syscall.Mkfifo(filepath.Join(out, "outbox", id, "p"), 0o644))
		}, []string{"p"}, nil, []string{"p was not sent: it is not a regular file"}},
		{"directory", func(t *testing.T, out string) {
			mkdir(t, out)
			must(t, os.Mkdir(filepath.Join(out, "outbox", id, "d"), 0o755))
		}, []string{"d"}, nil, []string{"not a regular file"}},
		{"empty", stage("e.txt", ""), []string{"e.txt"}, nil, []string{"e.txt was not sent: it is empty"}},
		{"over the limit", stage("big.bin", strings.Repeat("x", 101)), []string{"big.bin"}, nil,
			[]string{"big.bin was not sent: it is 101 bytes; the platform takes at most 100 bytes"}},
		{"path in the name", stage("a.txt", "hello"), []string{"../outbox/r1/a.txt"}, nil, []string{"path separator"}},
		{"dot-dot", stage("a.txt", "hello"), []string{".."}, nil, []string{"bad file name"}},
		{"listed twice", stage("a.txt", "hello"), []string{"a.txt", "a.txt"}, []string{"a.txt"}, []string{"listed twice"}},
		{"too many", func(t *testing.T, out string) {
			for i := range sessiondb.MaxReplyFiles + 1 {
				stage(string(rune('a'+i))+".txt", "x")(t, out)
			}
		}, names(sessiondb.MaxReplyFiles + 1), names(sessiondb.MaxReplyFiles), []string{"1 more files were not sent: a reply carries at most 10 files"}},
		{"thousands listed", stage("a.txt", "hello"), repeat("a.txt", 5001), []string{"a.txt"},
			append([]string{"4991 more files were not sent"}, repeat("a.txt was not sent: it is listed twice", 9)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			must(t, os.Mkdir(filepath.Join(out, "outbox"), 0o755))
			tc.setup(t, out)
			msg := sessiondb.OutMessage{ID: id}
			for _, n := range tc.files {
				msg.Content.Files = append(msg.Content.Files, sessiondb.OutFile{Name: n})
			}
			of := openOutFiles(out, msg, 100, true)
			defer of.close()
			if got := strings.Join(of.names(), ","); got != strings.Join(tc.sent, ",") {
				t.Errorf("opened %q, want %q (notes %q)", got, tc.sent, of.notes)
			}
			if len(of.notes) != len(tc.notes) {
				t.Fatalf("notes = %q, want %d", of.notes, len(tc.notes))
			}
			for i, n := range tc.notes {
				if !strings.Contains(of.notes[i], n) {
					t.Errorf("note %d = %q, want %q in it", i, of.notes[i], n)
				}
			}
			for _, f := range of.files {
				b, err := io.ReadAll(f.Reader)
				if err != nil || strings.Contains(string(b), "DECOY") || int64(len(b)) != f.Size {
					t.Errorf("%s read %q, %v", f.Name, b, err)
				}
			}
			// Removal stays inside out/, whatever is linked there.
			if err := removeOutbox(out, id); err != nil {
				t.Logf("remove: %v", err) // refused when it would leave out/
			}
			if b, err := os.ReadFile(filepath.Join(decoy, "secret.txt")); err != nil || string(b) != "DECOY" {
				t.Fatalf("the decoy was touched: %q %v", b, err)
			}
			if _, err := os.Stat(filepath.Join(decoy, id, "x.txt")); tc.name == "outbox is a symlink" && err != nil {
				t.Fatalf("removal followed the outbox link: %v", err)
			}
			if len(tc.sent) > 0 {
				if _, err := os.Lstat(filepath.Join(out, "outbox", id)); !os.IsNotExist(err) {
					t.Fatalf("the reply's folder is still there: %v", err)
				}
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func names(n int) []string {
	var out []string
	for i := range n {
		out = append(out, string(rune('a'+i))+".txt")
	}
	return out
}

func mkdir(t *testing.T, out string) { must(t, os.MkdirAll(filepath.Join(out, "outbox", "r1"), 0o755)) }

func stage(name, content string) func(t *testing.T, out string) {
	return func(t *testing.T, out string) {
		mkdir(t, out)
		must(t, os.WriteFile(filepath.Join(out, "outbox", "r1", name), []byte(content), 0o644))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
