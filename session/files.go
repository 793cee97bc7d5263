package session

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/session/inbox"
	"github.com/berth-dev/berth/session/sessiondb"
)

// filesBudget is how long a message's files may take to fetch. A platform
// that wants its ack sooner (Slack: 3 s) redelivers meanwhile; the
// adapters and the router absorb the redelivery.
const filesBudget = 5 * time.Minute

// filesContext is the context a message with files is routed under: the
// manager's own (the adapter's may allow only seconds, too little for
// 20 MB), bounded by filesBudget.
func (r *router) filesContext(ctx context.Context) (context.Context, context.CancelFunc) {
	base := r.ctx
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	return context.WithTimeout(base, filesBudget)
}

// fetchFiles fetches a message's attachments into its session's inbox,
// unless the row is stored already (a redelivery: its files are there).
// It reports whether the message still needs storing. The caller holds
// r.files' lock of the row.
func (r *router) fetchFiles(ctx context.Context, l *handle, msg *sessiondb.InMessage, in channels.Inbound) (bool, []string, error) {
	stored, err := l.db.Stored(ctx, msg.ID)
	if err != nil {
		return false, nil, err
	}
	if stored {
		return false, nil, nil
	}
	f, _ := r.channel(in.ChannelType).(channels.Fetcher)
	_, conf, _ := l.config()
	maxFile, maxFiles, maxInbox := conf.FileLimits()
	box := inbox.Inbox{InDir: l.db.InDir(), Fetcher: f, Limits: inbox.Limits{MaxFileBytes: maxFile, MaxFiles: maxFiles, MaxInboxBytes: maxInbox},
		Log: r.log.With("channel", in.ChannelType, "session", l.id, "group", l.group.Folder)}
	res, err := box.Fetch(ctx, msg.ID, in.Attachments)
	if err != nil {
		return false, nil, err
	}
	msg.Content.Attachments = res.Files
	return true, res.Notes, nil
}

// maxNotes bounds the lines of one "files left out" answer.
const maxNotes = 10

// tellFiles tells the person, once per message, which of their files the
// agent did not get and why.
func (r *router) tellFiles(ctx context.Context, in channels.Inbound, notes []string) {
	if len(notes) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("berth: not every file reached the agent:")
	seen := map[string]bool{}
	n := 0
	for _, note := range notes {
		if seen[note] {
			continue
		}
		seen[note] = true
		if n == maxNotes {
			fmt.Fprintf(&b, "\n- and more")
			break
		}
		b.WriteString("\n- " + note)
		n++
	}
	r.reply(ctx, in, b.String())
}

// keyedMutex holds one lock per key while someone wants it, so one
// message's files are fetched and stored by one routing at a time (a
// platform may redeliver while a download runs).
type keyedMutex struct {
	mu    sync.Mutex // guards locks
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; guarded by keyedMutex.mu
}

// lock takes key's lock and returns its release.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
