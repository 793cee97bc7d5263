package runner

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/session/sessiondb"
)

// Echo is the TEST AND DEMO provider: it calls no model and answers each
// message with "echo: <text>". A few directives let tests script faults:
//
//	sleep <duration> <text>  wait, then echo <text>
//	long <n>                 answer with n characters of Markdown with a code block
//	fail                     fail the turn (a provider error)
//	crash                    kill the runner mid-turn (SIGKILL)
//	count                    answer with how many turns this session has had
//	task <op> [args]         ask berth about scheduled tasks and answer with its reply (see echoTask)
//	context                  answer with the texts of the context-only rows that rode along, oldest first
//	files                    answer with each attachment: its name, size and SHA-256 as read from the inbox, or its note
//	sendto <channel> <id> <text>  address the answer to another conversation (a hostile agent)
//	flood <n>                answer with n replies (a hostile agent)
//	failbig <n>              fail the turn with an error of n bytes (a hostile agent)
//	alloc <MiB>              allocate and touch that much memory, then answer (memory-limit tests)
//	hang                     report no progress and never answer, until the turn is stopped (stuck_timeout tests)
//	trickle <n> <interval>   report progress every interval, n times, then answer (stuck_timeout and turn_timeout tests)
//	file, filesize, filelink, dirlink  answer with a file (see echoFile)
type Echo struct{}

// Name implements Provider.
func (Echo) Name() string { return "echo" }

// Turn implements Provider.
func (Echo) Turn(ctx context.Context, t Turn) ([]Reply, error) {
	var out []Reply
	for _, m := range t.Messages {
		if m.Kind == sessiondb.KindSystem || !m.Trigger {
			continue
		}
		text := strings.TrimSpace(m.Content.Text)
		word, rest, _ := strings.Cut(text, " ")
		switch word {
		case "sleep":
			d, after, _ := strings.Cut(rest, " ")
			dur, err := time.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("echo: bad sleep duration %q", d)
			}
			select {
			case <-time.After(dur):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			text = after
		case "long":
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil || n < 0 || n > 1<<20 {
				return nil, fmt.Errorf("echo: bad length %q", rest)
			}
			out = append(out, Reply{InReplyTo: m.ID, Text: longText(n)})
			continue
		case "file", "filesize", "filelink", "dirlink":
			r, err := echoFile(t.OutDir, m.ID, word, rest)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			continue
		case "fail":
			return nil, errors.New("echo: failing as asked")
		case "hang":
			<-ctx.Done()
			return nil, ctx.Err()
		case "trickle":
			var n int
			var every time.Duration
			f := strings.Fields(rest)
			if len(f) == 2 {
				n, _ = strconv.Atoi(f[0])
				every, _ = time.ParseDuration(f[1])
			}
			if n <= 0 || n > 1<<20 || every <= 0 {
				return nil, fmt.Errorf("echo: trickle needs a count and an interval, not %q", rest)
			}
			for i := range n {
				select {
				case <-time.After(every):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				t.Progressed(fmt.Sprintf("trickle %d/%d", i+1, n))
			}
			out = append(out, Reply{InReplyTo: m.ID, Text: fmt.Sprintf("echo: trickled %d", n)})
			continue
		case "crash":
			if err := syscall.Kill(os.Getpid(), syscall.SIGKILL); err != nil {
				return nil, fmt.Errorf("echo: crash: %w", err)
			}
			time.Sleep(time.Second)
		case "sendto":
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 {
				return nil, fmt.Errorf("echo: sendto needs a channel, an id and a text")
			}
			out = append(out, Reply{InReplyTo: m.ID, Text: "echo: " + f[2], To: &sessiondb.Address{ChannelType: f[0], PlatformID: f[1]}})
			continue
		case "flood", "failbig":
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil || n < 0 || n > 1<<24 {
				return nil, fmt.Errorf("echo: bad count %q", rest)
			}
			if word == "failbig" {
				return nil, errors.New("echo: " + strings.Repeat("x", n))
			}
			for i := range n {
				out = append(out, Reply{InReplyTo: m.ID, Text: fmt.Sprintf("echo: flood %d", i)})
			}
			continue
		case "alloc":
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil || n < 0 || n > 1<<16 {
				return nil, fmt.Errorf("echo: bad size %q (MiB)", rest)
			}
			held := make([][]byte, n)
			for i := range held {
				held[i] = make([]byte, 1<<20)
				for j := 0; j < len(held[i]); j += 4096 {
					held[i][j] = 1 // touch every page, so it is really used
				}
			}
			out = append(out, Reply{InReplyTo: m.ID, Text: fmt.Sprintf("echo: allocated %d MiB", len(held))})
			continue
		case "context":
			var seen []string
			for _, c := range t.Messages {
				if !c.Trigger {
					seen = append(seen, c.Content.Text)
				}
			}
			out = append(out, Reply{InReplyTo: m.ID, Text: "echo: context: " + strings.Join(seen, " | ")})
			continue
		case "files":
			out = append(out, Reply{InReplyTo: m.ID, Text: "echo: files: " + echoFiles(t.InDir, m.Content.Attachments)})
			continue
		case "task":
			out = append(out, Reply{InReplyTo: m.ID, Text: echoTask(ctx, t, rest)})
			continue
		case "count":
			v, _ := t.State.Get(ctx, "echo:turns")
			n, _ := strconv.Atoi(v)
			n++
			if err := t.State.Set(ctx, "echo:turns", strconv.Itoa(n)); err != nil {
				return nil, err
			}
			out = append(out, Reply{InReplyTo: m.ID, Text: fmt.Sprintf("echo: turn %d", n)})
			continue
		}
		out = append(out, Reply{InReplyTo: m.ID, Text: "echo: " + text})
	}
	return out, nil
}

// longText returns exactly n characters of paragraphs with one fenced code
// block in the middle, for testing how adapters split long replies.
func longText(n int) string {
	var b strings.Builder
	para := "The quick brown fox jumps over the lazy dog, and berth splits long replies on paragraph, line and word boundaries. "
	code := "```go\nfunc main() {\n\tfmt.Println(\"hello from inside a code block that spans many lines\")\n}\n```\n\n"
	for i := 0; b.Len() < n; i++ {
		if i == 8 {
			b.WriteString("\n\n") // a fence opens at the start of a line
			for j := 0; j < 30; j++ {
				b.WriteString(code)
			}
			continue
		}
		b.WriteString(para)
		if i%3 == 2 {
			b.WriteString("\n\n")
		}
	}
	s := b.String()[:n]
	return s
}

// echoFiles describes attachments as the files directive answers: the
// bytes are read from the inbox, so a test sees what reached the runner.
func echoFiles(inDir string, atts []sessiondb.Attachment) string {
	var parts []string
	for _, a := range atts {
		if a.Path == "" {
			parts = append(parts, a.Name+" "+a.Note)
			continue
		}
		b, err := os.ReadFile(filepath.Join(inDir, filepath.FromSlash(a.Path)))
		if err != nil {
			parts = append(parts, a.Name+" unreadable: "+err.Error())
			continue
		}
		sum := sha256.Sum256(b)
		parts = append(parts, fmt.Sprintf("%s %d %x", a.Path, len(b), sum[:6]))
	}
	return strings.Join(parts, " | ")
}
