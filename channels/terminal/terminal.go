// Package terminal is the local channel: each line typed (or piped) into
// berth is a message, and replies are printed. It lets anyone try berth
// with no chat account.
package terminal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/channels"
)

// Type is the channel type of the terminal.
const Type = "terminal"

// PlatformID is the one conversation the terminal has.
const PlatformID = "local"

// UserID is the terminal user's platform id; the store knows them as
// "terminal:local", the install's operator.
const UserID = "local"

// Channel reads messages from in and writes replies to out.
type Channel struct {
	in          io.Reader
	out         io.Writer
	errOut      io.Writer
	interactive bool
	userName    string

	mu      sync.Mutex // guards prefix, n, status, line, pending, order and writes to out
	prefix  string     // distinguishes message ids across runs
	n       int
	status  bool                       // show a status line (out is a terminal)
	line    string                     // the status line shown now, in the prompt's place; "": none
	pending map[string]channels.Status // message id -> its state, until final
	order   []string                   // pending's ids, oldest first
}

var (
	_ channels.Channel  = (*Channel)(nil)
	_ channels.Progress = (*Channel)(nil)
)

// New returns a terminal channel. With interactive set it shows a prompt.
func New(in io.Reader, out, errOut io.Writer, interactive bool, userName string) *Channel {
	return &Channel{in: in, out: out, errOut: errOut, interactive: interactive, userName: userName,
		prefix: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// Type implements channels.Channel.
func (c *Channel) Type() string { return Type }

// Run reads lines until the input ends or ctx is done; each line is one
// message. It returns nil when the input ends.
func (c *Channel) Run(ctx context.Context, h channels.Handler) error {
	r := bufio.NewReaderSize(c.in, 64<<10)
	lines := make(chan string)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		for {
			line, err := r.ReadString('\n')
			if len(line) > 0 {
				select {
				case lines <- strings.TrimRight(line, "\r\n"):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					errc <- err
				}
				return
			}
		}
	}()
	c.prompt()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				select {
				case err := <-errc:
					return fmt.Errorf("read terminal: %w", err)
				default:
					return nil
				}
			}
			if c.interactive && strings.TrimSpace(line) == "" {
				c.prompt()
				continue
			}
			c.mu.Lock()
			c.n++
			id := c.prefix + "-" + strconv.Itoa(c.n)
			c.mu.Unlock()
			err := h(ctx, channels.Inbound{
				ChannelType: Type, PlatformID: PlatformID, MessageID: id,
				Sender: channels.User{ID: UserID, Name: c.userName}, Text: line,
				Mentioned: true, IsDM: true, Time: time.Now(),
			})
			if err != nil {
				c.mu.Lock()
				fmt.Fprintf(c.errOut, "berth: %s\n", StripControls(err.Error()))
				c.mu.Unlock()
			}
			c.prompt()
		}
	}
}

func (c *Channel) prompt() {
	if !c.interactive {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.line != "" {
		return // the status line stands in the prompt's place until it clears
	}
	fmt.Fprint(c.out, "you> ")
}

// ShowStatus turns on the status line: while a message waits for its
// answer, the prompt's line shows its state ("berth: queued, 1 ahead…"),
// overwritten in place and cleared when the reply prints. Call it before
// Run, and only when the channel is interactive and out is a terminal: a
// pipe gets nothing but the replies.
func (c *Channel) ShowStatus() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = c.interactive
	c.pending = map[string]channels.Status{}
}

// maxStatus is the most characters of a status line: short enough not to
// wrap, since a carriage return only goes back to the start of its row.
const maxStatus = 70

// Status implements channels.Progress: with ShowStatus, the newest
// unanswered message's state is the status line.
func (c *Channel) Status(ctx context.Context, t channels.Target, s channels.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.status {
		return
	}
	if _, ok := c.pending[t.MessageID]; !ok && !s.State.Final() {
		c.order = append(c.order, t.MessageID)
	}
	if s.State.Final() {
		delete(c.pending, t.MessageID)
		c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == t.MessageID })
	} else {
		c.pending[t.MessageID] = s
	}
	line := ""
	if n := len(c.order); n > 0 {
		line = "berth: " + c.pending[c.order[n-1]].String()
		if r := []rune(StripControls(strings.ReplaceAll(line, "\n", " "))); len(r) > maxStatus {
			line = string(r[:maxStatus-1])
		} else {
			line = string(r)
		}
		line += "…"
	}
	if line == c.line {
		return
	}
	if line == "" {
		fmt.Fprint(c.out, "\r\x1b[Kyou> ") // the prompt back in its place
	} else {
		fmt.Fprint(c.out, "\r\x1b[K"+line)
	}
	c.line = line
}

// Send implements channels.Channel: it prints the reply, with the
// controls an agent could drive the terminal with stripped.
func (c *Channel) Send(ctx context.Context, out channels.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	text := strings.TrimRight(StripControls(out.Text), "\n")
	var err error
	switch {
	case c.line != "":
		// Over the status line, which the reply clears.
		_, err = fmt.Fprintf(c.out, "\r\x1b[K%s\nyou> ", text)
		c.line = ""
	case c.interactive:
		_, err = fmt.Fprintf(c.out, "\r%s\nyou> ", text)
	default:
		_, err = fmt.Fprintln(c.out, text)
	}
	if err != nil {
		return "", fmt.Errorf("print reply: %w", err)
	}
	c.n++
	return c.prefix + "-r" + strconv.Itoa(c.n), nil
}
