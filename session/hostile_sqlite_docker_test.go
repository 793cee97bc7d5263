package session_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/channels"
	"github.com/berth-dev/berth/channels/channelstest"
	"github.com/berth-dev/berth/session"
	"github.com/berth-dev/berth/session/gateway/gatewaytest"
	"github.com/berth-dev/berth/session/sessiondb"
)

// vmRSS is the test process's resident set size in bytes: SQLite's memory
// is C heap, invisible to Go's runtime statistics.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// rogueOutbound builds, in a folder of the test's own, the red-team
// outbound.db: a 20 KB file whose messages_out is a VIEW yielding rows
// replies of 1 MB each.
func rogueOutbound(t *testing.T, rows int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rogue.db")
	db, err := sql.Open("sqlite3", "file:"+file+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE processing_ack (message_id TEXT PRIMARY KEY, status TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', status_changed TEXT NOT NULL)`,
		`CREATE TABLE session_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)`,
		fmt.Sprintf(`CREATE VIEW messages_out (id, seq, in_reply_to, timestamp, deliver_after, kind, channel_type, platform_id, thread_id, content) AS
			WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < %d)
			SELECT 'rogue' || n, 1000000 + 2 * n + 1, '', '', '', 'chat', 'fake', 'room', '', json_object('text', 'ROGUE ' || hex(randomblob(500000))) FROM r`, rows),
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// TestHostileOutboundDBIsRefused: from inside its container, the agent
// replaces out/outbound.db with the red-team file (messages_out a VIEW of
// 5,000 rows of 1 MB), then with a FIFO. berth refuses to read either: it
// delivers nothing of them, logs why, does not grow, still stores the
// session's next message, and another group's session keeps answering.
func TestHostileOutboundDBIsRefused(t *testing.T) {
	t.Parallel()
	var logs channelstest.Buffer
	g, ch := start(t, func(c *session.Config) {
		c.Poll = 100 * time.Millisecond
		c.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	handle(t, g, msg("first"))
	ch.waitSent(t, 1, 60*time.Second)
	s := g.Sessions()[0]

	// Built on the host in a decoy folder, copied into the group folder,
	// moved over outbound.db by the agent itself.
	b, err := os.ReadFile(rogueOutbound(t, 5000))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.GroupDir("main"), "rogue.db"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	before := vmRSS(t)
	if out, err := g.Exec(s.ID, `mv /workspace/group/rogue.db /workspace/out/outbound.db && ls -l /workspace/out/outbound.db`); err != nil {
		t.Fatalf("plant the rogue database: %v: %s", err, out)
	}
	// The next message of the conversation is accepted all the same, and
	// berth's sweeps (every 100 ms) try to read the file.
	sentID := map[string]string{}
	send := func(text string) {
		in := msg(text)
		sentID[text] = in.MessageID
		handle(t, g, in)
	}
	send("after the view")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "refused agent-written database") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // many more sweeps
	after := vmRSS(t)
	t.Logf("rogue view: VmRSS %d -> %d kB", before>>10, after>>10)
	if !strings.Contains(logs.String(), "messages_out is a \\\"view\\\", not a table") {
		t.Errorf("no log line says the view was refused; log:\n%.2000s", logs.String())
	}
	if grew := after - before; grew > 64<<20 {
		t.Errorf("berth grew by %d MB reading the rogue database", grew>>20)
	}

	// The sender is told their message failed (its answer could not be
	// read), the file is set aside and the session recovers by itself.
	refusedTold := func(text string) {
		t.Helper()
		waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool {
			return strings.Contains(o.Text, "reply database was refused") && o.ReplyTo == sentID[text]
		})
	}
	refusedTold("after the view")
	handle(t, g, msg("between"))
	waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool { return o.Text == "echo: between" })

	// Then a FIFO: it must not hang berth, nor stop the message.
	if out, err := g.Exec(s.ID, `rm -f /workspace/out/outbound.db && mkfifo /workspace/out/outbound.db && ls -l /workspace/out/outbound.db`); err != nil {
		t.Fatalf("plant a FIFO: %v: %s", err, out)
	}
	send("after the fifo")
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "not a regular file") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "not a regular file") {
		t.Errorf("no log line says the FIFO was refused")
	}

	refusedTold("after the fifo")
	for _, o := range ch.Sent() {
		if strings.Contains(o.Text, "ROGUE") || len(o.Text) > sessiondb.MaxReply+1000 {
			t.Fatalf("berth delivered a row of the rogue database: %.80q (%d bytes)", o.Text, len(o.Text))
		}
	}
	handle(t, g, msg("recovered"))
	waitFor(t, ch, 60*time.Second, func(o channels.Outbound) bool { return o.Text == "echo: recovered" })

	// Another group's session is served as usual.
	g.Wire("fake", "other", gatewaytest.Wire{Group: "second", IsDM: true})
	in := msg("still serving")
	in.PlatformID = "other"
	handle(t, g, in)
	deadline = time.Now().Add(60 * time.Second)
	for {
		var ok bool
		for _, o := range ch.Sent() {
			ok = ok || (o.PlatformID == "other" && o.Text == "echo: still serving")
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other group's session did not answer: %+v", ch.Sent())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
