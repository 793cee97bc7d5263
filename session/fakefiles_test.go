package session_test

import (
	"context"
	"io"
	"strconv"

	"github.com/berth-dev/berth/channels"
)

// sentFile is a file the fake channel received, with its bytes.
type sentFile struct {
	Name  string
	Bytes []byte
}

var _ channels.FileSender = (*fakeChannel)(nil)

// SendFiles records the files with their reply, which counts as sent.
func (f *fakeChannel) SendFiles(ctx context.Context, out channels.Outbound, files []channels.File) (string, error) {
	got := make([]sentFile, 0, len(files))
	for _, file := range files {
		b, err := io.ReadAll(file.Reader)
		if err != nil {
			return "", err
		}
		got = append(got, sentFile{Name: file.Name, Bytes: b})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.files == nil {
		f.files = map[string][]sentFile{}
	}
	f.files[out.Key] = got
	f.sent = append(f.sent, out)
	f.n++
	f.ready <- struct{}{}
	return "p" + strconv.Itoa(f.n), nil
}

// ConfirmFiles finds a reply sent with files by its key.
func (f *fakeChannel) ConfirmFiles(ctx context.Context, out channels.Outbound, names []string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.files[out.Key]
	return "", ok, nil
}

// FileLimit is a small limit, so tests can pass it.
func (f *fakeChannel) FileLimit() int64 { return 1 << 20 }

// Files returns the files sent with the reply of key.
func (f *fakeChannel) Files(key string) []sentFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentFile(nil), f.files[key]...)
}
