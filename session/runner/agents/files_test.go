package agents

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/session/runner"
	"github.com/berth-dev/berth/session/sessiondb"
)

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 64)...)

// filesTurn writes a message's files into an in/ folder as the host
// does and returns the turn carrying it.
func filesTurn(t *testing.T) (runner.Turn, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in")
	dir := filepath.Join(in, sessiondb.InboxDir, "m1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789abcdef", maxInlineText/16+10)
	files := map[string][]byte{
		"shot.png":   pngBytes,                               // an image, whatever it is called
		"data.csv":   []byte("id,name\n1,Ann\n2,Bob\n"),      // text by its type
		"notes":      []byte("plain words, no type given\n"), // text by sniffing
		"big.log":    []byte(long),                           // text, cut
		"archive.gz": {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3},   // binary: named only
	}
	types := map[string]string{"shot.png": "application/octet-stream", "data.csv": "text/csv", "big.log": "text/plain", "archive.gz": "application/gzip"}
	var atts []sessiondb.Attachment
	for _, name := range []string{"shot.png", "data.csv", "notes", "big.log", "archive.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		atts = append(atts, sessiondb.Attachment{Name: name, ContentType: types[name], Size: int64(len(files[name])), Path: "inbox/m1/" + name})
	}
	atts = append(atts, sessiondb.Attachment{Name: "huge.mov", ContentType: "video/quicktime", Size: 25 << 20,
		Note: "not fetched: it is 25 MB, over the limit of 20 MB a file (max_file_bytes)"})
	return runner.Turn{InDir: in, State: &memState{m: map[string]string{}}, Messages: []sessiondb.InMessage{{ID: "m1", Trigger: true,
		Content: sessiondb.Content{Text: "what is in these?", SenderName: "Ann", Attachments: atts}}}}, in
}

func TestDescribeFiles(t *testing.T) {
	turn, in := filesTurn(t)
	text, images := describeFiles(in, turn.Messages[0], true)
	for _, want := range []string{
		`[file "shot.png" (application/octet-stream, ` + fmt.Sprint(len(pngBytes)) + ` bytes) at ` + filepath.Join(in, "inbox/m1/shot.png") + "]",
		"--- data.csv ---\nid,name\n1,Ann\n2,Bob\n\n--- end of data.csv ---",
		"--- notes ---\nplain words, no type given",
		fmt.Sprintf("(the first %d bytes of", maxInlineText),
		`[file "archive.gz" (application/gzip, 10 bytes) at ` + filepath.Join(in, "inbox/m1/archive.gz") + "]",
		`[file "huge.mov" (video/quicktime, 26214400 bytes) not fetched: it is 25 MB, over the limit of 20 MB a file (max_file_bytes)]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("description lacks %q:\n%.2000s", want, text)
		}
	}
	if strings.Contains(text, "\x1f\x8b") || len(text) > maxInlineText+4096 {
		t.Errorf("binary bytes or more than the bound inlined (%d bytes)", len(text))
	}
	if len(images) != 1 || images[0].Type != "image/png" {
		t.Fatalf("images = %+v", images)
	}
	// The claude CLI gets the paths only.
	paths, none := describeFiles(in, turn.Messages[0], false)
	if len(none) != 0 || strings.Contains(paths, "Ann\n2,Bob") || !strings.Contains(paths, filepath.Join(in, "inbox/m1/data.csv")) {
		t.Fatalf("claude description = %q", paths)
	}
	// A path out of the inbox, or a symlink in it, is not read.
	bad := turn.Messages[0]
	if err := os.Symlink("/etc/hostname", filepath.Join(in, "inbox/m1/link.txt")); err != nil {
		t.Fatal(err)
	}
	bad.Content.Attachments = []sessiondb.Attachment{{Name: "x", Path: "inbox/../../x"}, {Name: "link.txt", ContentType: "text/plain", Path: "inbox/m1/link.txt"}}
	text, _ = describeFiles(in, bad, true)
	if !strings.Contains(text, "not in the inbox") || !strings.Contains(text, "could not be read") || strings.Contains(text, "--- link.txt") {
		t.Fatalf("hostile paths: %q", text)
	}
}

// apiServer is a TEST-ONLY model API on a unix socket (as the credential
// proxy is) that records request bodies and streams a one-line answer.
func apiServer(t *testing.T, stream string) (string, func() []map[string]any) {
	t.Helper()
	dir, err := os.MkdirTemp("", "api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reqs []map[string]any
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		mu.Lock()
		reqs = append(reqs, m)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock, func() []map[string]any { mu.Lock(); defer mu.Unlock(); return reqs }
}

const anthropicStream = `event: message_start
data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":0}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"seen"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}

event: message_stop
data: {"type":"message_stop"}

`

const openaiStream = `data: {"id":"c","object":"chat.completion.chunk","model":"x","created":1,"choices":[{"index":0,"delta":{"role":"assistant","content":"seen"}}]}

data: {"id":"c","object":"chat.completion.chunk","model":"x","created":1,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

`

// The image goes to the API as image content (base64), the text files
// inline, the rest by path; on the next turn, the image is read again
// from its file, not from history.
func TestProvidersSendFiles(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(pngBytes)
	for _, tc := range []struct {
		name   string
		stream string
		model  func(sock string) model
		image  string // how the request carries the image
	}{
		{"anthropic", anthropicStream, func(s string) model { return newAnthropic(s, "m") },
			`{"source":{"data":"` + b64 + `","media_type":"image/png","type":"base64"},"type":"image"}`},
		{"openai", openaiStream, func(s string) model { return newOpenAI(s, "m") },
			`{"image_url":{"url":"data:image/png;base64,` + b64 + `"},"type":"image_url"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock, reqs := apiServer(t, tc.stream)
			turn, _ := filesTurn(t)
			a := &agent{name: tc.name, model: tc.model(sock), tools: &toolbox{workdir: t.TempDir()}}
			replies, err := a.Turn(context.Background(), turn)
			if err != nil || len(replies) != 1 || replies[0].Text != "seen" {
				t.Fatalf("replies %+v, %v", replies, err)
			}
			body, _ := json.Marshal(reqs()[0])
			for _, want := range []string{tc.image, `Ann: what is in these?`, `id,name\n1,Ann\n2,Bob`, `archive.gz`, `max_file_bytes`} {
				if !strings.Contains(string(body), want) {
					t.Errorf("request lacks %.120q:\n%.1500s", want, body)
				}
			}
			st, _ := turn.State.Get(context.Background(), "history:"+tc.name)
			if strings.Contains(st, b64) {
				t.Error("the image's bytes were kept in session state")
			}
			turn.Messages = []sessiondb.InMessage{{ID: "m2", Trigger: true, Content: sessiondb.Content{Text: "and now?"}}}
			if _, err := a.Turn(context.Background(), turn); err != nil {
				t.Fatal(err)
			}
			if body, _ := json.Marshal(reqs()[1]); !strings.Contains(string(body), tc.image) {
				t.Errorf("the second turn's request lost the image")
			}
		})
	}
}

// The claude CLI gets the files' paths in its prompt (it opens them with
// its own tools), not their bytes.
func TestClaudePromptNamesFiles(t *testing.T) {
	p, calls := fakeClaude(t, "success")
	turn, in := filesTurn(t)
	if _, err := p.Turn(context.Background(), turn); err != nil {
		t.Fatal(err)
	}
	prompt := (*calls)[0]
	for _, want := range []string{filepath.Join(in, "inbox/m1/shot.png"), filepath.Join(in, "inbox/m1/data.csv"), "huge.mov", "max_file_bytes"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q: %.800s", want, prompt)
		}
	}
	if strings.Contains(prompt, "1,Ann") {
		t.Error("the CSV's content was inlined for the CLI")
	}
}
