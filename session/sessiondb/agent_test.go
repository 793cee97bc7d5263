package sessiondb

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildDB writes a database at file from the given statements, the way an
// agent could with the sqlite3 CLI.
func buildDB(t testing.TB, file string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+file+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// RogueView is the red-team file: messages_out is a VIEW whose recursive
// CTE yields rows rows of a 1 MB reply each, in a file of a few KB.
func RogueView(rows int) []string {
	return []string{
		`CREATE TABLE processing_ack (message_id TEXT PRIMARY KEY, status TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', status_changed TEXT NOT NULL)`,
		`CREATE TABLE session_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)`,
		fmt.Sprintf(`CREATE VIEW messages_out (id, seq, in_reply_to, timestamp, deliver_after, kind, channel_type, platform_id, thread_id, content) AS
			WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < %d)
			SELECT 'v' || n, 2 * n + 1, '', '', '', 'chat', 'fake', 'room', '', json_object('text', hex(randomblob(500000))) FROM r`, rows),
	}
}

// withSchema is outboundSchema followed by more statements.
func withSchema(more ...string) []string { return append([]string{outboundSchema}, more...) }

// rss is the process's resident set size in bytes. SQLite's memory is C
// heap, invisible to Go's runtime statistics, so the kernel's figure it is.
func rss(t testing.TB) int64 {
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

// TestHostRefusesHostileOutbound plants each hostile outbound.db the
// red-team run used (and a few more) and checks that every host read of
// it is refused quickly with a clear error, that nothing of it is read,
// and that the session's inbound.db still takes messages.
func TestHostRefusesHostileOutbound(t *testing.T) {
	cases := []struct {
		name  string
		plant func(t *testing.T, out, decoy string) // out: the outbound.db path; decoy: a folder the test made
		want  string                                // in the error
	}{
		{"view instead of the table", func(t *testing.T, out, decoy string) {
			buildDB(t, out, RogueView(300)...)
		}, `messages_out is a "view", not a table`},
		{"trigger", func(t *testing.T, out, decoy string) {
			buildDB(t, out, withSchema(`CREATE TRIGGER t AFTER INSERT ON messages_out BEGIN DELETE FROM processing_ack; END`)...)
		}, `extra "trigger" "t"`},
		{"extra view", func(t *testing.T, out, decoy string) {
			buildDB(t, out, withSchema(`CREATE VIEW v AS SELECT 1`)...)
		}, `extra "view" "v"`},
		{"wrong columns", func(t *testing.T, out, decoy string) {
			buildDB(t, out, strings.Replace(outboundSchema, "content       TEXT NOT NULL", "content TEXT NOT NULL, extra TEXT", 1))
		}, "table messages_out does not have berth's definition"},
		{"missing table", func(t *testing.T, out, decoy string) {
			buildDB(t, out, strings.Replace(outboundSchema, "processing_ack", "processing_acks", 1))
		}, "processing_ack is missing"},
		{"fifo", func(t *testing.T, out, decoy string) {
			if err := syscall.Mkfifo(out, 0o666); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"symlink to a decoy database", func(t *testing.T, out, decoy string) {
			target := filepath.Join(decoy, "decoy.db")
			buildDB(t, target, withSchema(`INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('leak', 1, '', 'chat', '{"text":"LEAK"}')`,
				`INSERT INTO processing_ack VALUES ('a', 'failed', 'LEAK', '')`)...)
			if err := os.Symlink(target, out); err != nil {
				t.Fatal(err)
			}
		}, "symlink"},
		{"garbage", func(t *testing.T, out, decoy string) {
			if err := os.WriteFile(out, []byte(strings.Repeat("not a database\x00", 500)), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not an SQLite database"},
		{"short garbage", func(t *testing.T, out, decoy string) {
			if err := os.WriteFile(out, []byte("SQLite"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not an SQLite database"},
		{"corrupt pages", func(t *testing.T, out, decoy string) {
			buildDB(t, out, withSchema()...)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for i := 100; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "SQLite cannot read it"},
		{"oversized file", func(t *testing.T, out, decoy string) {
			buildDB(t, out, withSchema()...)
			if err := os.Truncate(out, MaxAgentDBSize+1); err != nil { // sparse: no disk used
				t.Fatal(err)
			}
		}, "over the 67108864-byte cap"},
		{"wal mode", func(t *testing.T, out, decoy string) {
			buildDB(t, out, append(withSchema(), `PRAGMA journal_mode=WAL`)...)
		}, "not in rollback-journal mode"},
		{"too many schema objects", func(t *testing.T, out, decoy string) {
			more := withSchema()
			for i := range maxSchemaObjects {
				more = append(more, fmt.Sprintf(`CREATE TABLE t%d (a)`, i))
			}
			buildDB(t, out, more...)
		}, "SQLite cannot read it"},
		{"directory", func(t *testing.T, out, decoy string) {
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, _ := newSession(t)
			if _, err := h.Append(ctx, chat("a", "one")); err != nil {
				t.Fatal(err)
			}
			// A delivery left in doubt, so InDoubt reads outbound.db too.
			if err := h.BeginDelivery(ctx, OutMessage{ID: "v1", Seq: 3}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(h.OutboundPath()); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, h.OutboundPath(), t.TempDir())

			before := rss(t)
			for _, read := range []struct {
				name string
				fn   func() (int, error)
			}{
				{"Undelivered", func() (int, error) { out, err := h.Undelivered(ctx); return len(out), err }},
				{"Acks", func() (int, error) { acks, err := h.Acks(ctx); return len(acks), err }},
				{"InDoubt", func() (int, error) { out, err := h.InDoubt(ctx); return len(out), err }},
			} {
				start := time.Now()
				n, err := read.fn()
				if took := time.Since(start); took > time.Second {
					t.Errorf("%s took %v", read.name, took)
				}
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err = %v, want %v mentioning %q", read.name, err, ErrRefused, tc.want)
				}
				if n != 0 {
					t.Errorf("%s read %d items of a refused file", read.name, n)
				}
			}
			if grew := rss(t) - before; grew > 16<<20 {
				t.Errorf("reading the refused file grew the process by %d MB", grew>>20)
			}

			// The message is stored whatever outbound.db is; nothing else
			// in inbound.db is harmed.
			ids, err := h.Append(ctx, chat("b", "two"))
			if err != nil || len(ids) != 1 {
				t.Fatalf("append beside a hostile outbound.db: %v %v", ids, err)
			}
			open, err := h.Open(ctx)
			if err != nil || len(open) != 2 || open[0].ID != "a" || open[1].ID != "b" || open[1].Seq%2 != 0 || open[1].Seq <= open[0].Seq {
				t.Fatalf("inbound after the attack: %+v %v", open, err)
			}
		})
	}
}

// TestRogueViewKeepsMemoryFlat is the red-team attack at full size: 5,000
// rows of 1 MB from a view. It must be refused without running it.
func TestRogueViewKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	ctx := context.Background()
	h, _ := newSession(t)
	os.Remove(h.OutboundPath())
	decoy := filepath.Join(t.TempDir(), OutboundFile)
	buildDB(t, decoy, RogueView(5000)...)
	if err := os.Rename(decoy, h.OutboundPath()); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(h.OutboundPath())
	before := rss(t)
	start := time.Now()
	out, err := h.Undelivered(ctx)
	took := time.Since(start)
	after := rss(t)
	t.Logf("rogue view db of %d bytes: refused in %v, VmRSS %d -> %d kB", fi.Size(), took, before>>10, after>>10)
	if !errors.Is(err, ErrRefused) || len(out) != 0 {
		t.Fatalf("read %d rows, err %v", len(out), err)
	}
	if after-before > 8<<20 {
		t.Fatalf("VmRSS grew by %d kB", (after-before)>>10)
	}
}

// TestHugeRowIsNotLoaded: a row of 40 MB is refused with a note, never
// read whole, and the rows around it are delivered.
func TestHugeRowIsNotLoaded(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	if err := c.Send(ctx, OutMessage{Content: OutContent{Text: "before"}}); err != nil {
		t.Fatal(err)
	}
	buildDB(t, c.OutboundPath(), `INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('huge', 5, '', 'chat', json_object('text', hex(zeroblob(20000000))))`)
	if err := c.Send(ctx, OutMessage{Content: OutContent{Text: "after"}}); err != nil {
		t.Fatal(err)
	}
	before := rss(t)
	out, err := h.Undelivered(ctx)
	grew := rss(t) - before
	t.Logf("VmRSS grew by %d kB reading a 40 MB row", grew>>10)
	if err != nil || len(out) != 3 {
		t.Fatalf("%+v %v", out, err)
	}
	if out[0].Content.Text != "before" || out[2].Content.Text != "after" || !strings.Contains(out[1].Content.Text, "reply refused: it was 40000011 bytes") {
		t.Fatalf("rows = %q, %q, %q", out[0].Content.Text, out[1].Content.Text[:min(80, len(out[1].Content.Text))], out[2].Content.Text)
	}
	if grew > 8<<20 {
		t.Fatalf("VmRSS grew by %d kB", grew>>10)
	}
}

// TestOversizedFieldsAreBounded: every value read from messages_out and
// processing_ack is bounded, whatever the agent wrote.
func TestOversizedFieldsAreBounded(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	big := `hex(zeroblob(600000))` // 1.2 MB: over SQLITE_LIMIT_LENGTH too
	buildDB(t, c.OutboundPath(),
		`INSERT INTO messages_out (id, seq, in_reply_to, timestamp, kind, channel_type, platform_id, thread_id, content)
			VALUES (`+big+`, 3, `+big+`, `+big+`, `+big+`, `+big+`, `+big+`, `+big+`, '{"text":"hi"}')`,
		`INSERT INTO processing_ack VALUES ('a', 'failed', `+big+`, '')`)
	out, err := h.Undelivered(ctx)
	if err != nil || len(out) != 1 {
		t.Fatalf("%+v %v", out, err)
	}
	m := out[0]
	if m.ID != "oversized-id-3" || m.InReplyTo != "" || m.Kind != "" || m.PlatformID != "" || m.Content.Text != "hi" {
		t.Fatalf("row = %+v", m)
	}
	acks, err := h.Acks(ctx)
	if err != nil || acks["a"].Status != StatusFailed {
		t.Fatalf("%+v %v", acks, err)
	}
	if e := acks["a"].Error; !strings.Contains(e, "error cut: it was 1200000 bytes") || len(e) > MaxAckError+100 {
		t.Fatalf("ack error of %d bytes: %.80q", len(e), e)
	}
}

// TestUndeliveredReadsOneBatch: a backlog comes a batch at a time, in
// order, and each call picks up after what was recorded.
func TestUndeliveredReadsOneBatch(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	msgs := make([]OutMessage, BatchSize*2+5)
	for i := range msgs {
		msgs[i] = OutMessage{Content: OutContent{Text: fmt.Sprint(i)}}
	}
	if err := c.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	var got []string
	for pass := 0; ; pass++ {
		out, err := h.Undelivered(ctx)
		if err != nil || len(out) > BatchSize {
			t.Fatalf("pass %d: %d rows, %v", pass, len(out), err)
		}
		for _, m := range out {
			got = append(got, m.Content.Text)
			h.RecordDelivery(ctx, m, "p", DeliveryDelivered, "")
		}
		if len(out) < BatchSize {
			break
		}
	}
	if len(got) != len(msgs) || got[0] != "0" || got[len(got)-1] != fmt.Sprint(len(msgs)-1) {
		t.Fatalf("read %d replies: %v…", len(got), got[:3])
	}
}

// TestInDoubtReadsOnlyThoseRows: InDoubt returns the replies whose send
// was cut off, looked up by seq.
func TestInDoubtReadsOnlyThoseRows(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	c.Send(ctx, OutMessage{Content: OutContent{Text: "r1"}}, OutMessage{Content: OutContent{Text: "r2"}}, OutMessage{Content: OutContent{Text: "r3"}})
	out, _ := h.Undelivered(ctx)
	h.RecordDelivery(ctx, out[0], "p1", DeliveryDelivered, "")
	h.BeginDelivery(ctx, out[1])
	doubt, err := h.InDoubt(ctx)
	if err != nil || len(doubt) != 1 || doubt[0].ID != out[1].ID || doubt[0].Content.Text != "r2" {
		t.Fatalf("in doubt = %+v, %v", doubt, err)
	}
}

// TestAgentConnectionIsHardened: the settings agentvfs.c makes hold on
// the connection berth reads with.
func TestAgentConnectionIsHardened(t *testing.T) {
	ctx := context.Background()
	h, _ := newSession(t)
	err := readAgent(ctx, h.OutboundPath(), agentReadOptions{}, func(ctx context.Context, c *sql.Conn) error {
		var trusted, writable int
		if err := c.QueryRowContext(ctx, `PRAGMA trusted_schema`).Scan(&trusted); err != nil || trusted != 0 {
			return fmt.Errorf("trusted_schema = %d, %v", trusted, err)
		}
		if _, err := c.ExecContext(ctx, `PRAGMA writable_schema = ON`); err != nil {
			return err
		}
		if err := c.QueryRowContext(ctx, `PRAGMA writable_schema`).Scan(&writable); err != nil || writable != 0 {
			return fmt.Errorf("defensive mode off: writable_schema = %d, %v", writable, err)
		}
		var n int
		if err := c.QueryRowContext(ctx, `SELECT length(zeroblob(2000000))`).Scan(&n); err == nil {
			return fmt.Errorf("a 2 MB value was made (SQLITE_LIMIT_LENGTH not set)")
		}
		if _, err := c.ExecContext(ctx, `ATTACH ':memory:' AS x`); err == nil {
			return fmt.Errorf("ATTACH allowed")
		}
		if _, err := c.ExecContext(ctx, `INSERT INTO session_state VALUES ('k', 'v', '')`); err == nil {
			return fmt.Errorf("wrote the agent's file")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAgentVFSOpensOnlyDescriptors: the berth_agent VFS refuses any name
// but a /proc/self/fd one, so nothing opens an agent's file by its path.
func TestAgentVFSOpensOnlyDescriptors(t *testing.T) {
	if registerErr != nil {
		t.Fatal(registerErr)
	}
	h, _ := newSession(t)
	for _, name := range []string{h.OutboundPath(), "/proc/self/fd/../fd/0", "/proc/self/fd/"} {
		db, err := sql.Open(agentDriver, "file:"+name+"?mode=ro&vfs="+agentVFS)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Ping()
		db.Close()
		if err == nil {
			t.Errorf("the agent VFS opened %s", name)
		}
	}
}

// TestPlantedJournalIsNeverOpened: a FIFO or a symlink at
// outbound.db-journal is not followed or opened (a FIFO would hang the
// open), and the database reads as usual.
func TestPlantedJournalIsNeverOpened(t *testing.T) {
	for _, plant := range []string{"fifo", "symlink"} {
		t.Run(plant, func(t *testing.T) {
			ctx := context.Background()
			h, c := newSession(t)
			h.Append(ctx, chat("a", "one"))
			c.Send(ctx, OutMessage{Content: OutContent{Text: "r"}})
			j := h.OutboundPath() + "-journal"
			switch plant {
			case "fifo":
				if err := syscall.Mkfifo(j, 0o666); err != nil {
					t.Fatal(err)
				}
			case "symlink":
				decoy := filepath.Join(t.TempDir(), "decoy")
				os.WriteFile(decoy, []byte(strings.Repeat("x", 4096)), 0o644)
				if err := os.Symlink(decoy, j); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() {
				out, err := h.Undelivered(ctx)
				if err == nil && len(out) != 1 {
					err = fmt.Errorf("%d rows", len(out))
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("read hung on a planted journal")
			}
		})
	}
}

// TestHotJournalWaits: a journal left by a write that was cut off (no
// writer holds the lock) makes reads wait for the runner's rollback
// instead of reading half a commit.
func TestHotJournalWaits(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	c.Send(ctx, OutMessage{Content: OutContent{Text: "r"}})
	j := h.OutboundPath() + "-journal"
	if err := os.WriteFile(j, []byte(strings.Repeat("j", 512)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Undelivered(ctx); !errors.Is(err, ErrInterruptedWrite) {
		t.Fatalf("err = %v, want %v", err, ErrInterruptedWrite)
	}
	if _, err := h.Append(ctx, chat("b", "two")); err != nil {
		t.Fatalf("append beside a hot journal: %v", err)
	}
	os.Remove(j)
	if out, err := h.Undelivered(ctx); err != nil || len(out) != 1 {
		t.Fatalf("%+v %v", out, err)
	}
}

// TestLiveWriterIsNotAnInterruptedWrite: while another process (the
// runner, here this test binary again) is inside a write transaction, its
// journal exists but it holds the RESERVED lock: berth reads the last
// commit, without the write in progress, and no error.
func TestLiveWriterIsNotAnInterruptedWrite(t *testing.T) {
	if file := os.Getenv("BERTH_TEST_HOLD_WRITE"); file != "" {
		holdWrite(file)
		return
	}
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one"))
	c.Send(ctx, OutMessage{Content: OutContent{Text: "committed"}})
	cmd := exec.Command(os.Args[0], "-test.run=^TestLiveWriterIsNotAnInterruptedWrite$")
	cmd.Env = append(os.Environ(), "BERTH_TEST_HOLD_WRITE="+h.OutboundPath())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("writer: %q %v", line, err)
	}
	if fi, err := os.Stat(h.OutboundPath() + "-journal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no journal while the writer holds its transaction: %v", err)
	}
	out, err := h.Undelivered(ctx)
	if err != nil || len(out) != 1 || out[0].Content.Text != "committed" {
		t.Fatalf("%+v %v", out, err)
	}
}

// holdWrite is the other process of TestLiveWriterIsNotAnInterruptedWrite:
// it writes a row inside a transaction and holds it until stdin closes.
func holdWrite(file string) {
	db, err := sql.Open("sqlite3", "file:"+file+"?_journal_mode=DELETE")
	if err != nil {
		panic(err)
	}
	tx, err := db.Begin()
	if err == nil {
		_, err = tx.Exec(`INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('uncommitted', 99, '', 'chat', '{"text":"uncommitted"}')`)
	}
	if err != nil {
		panic(err)
	}
	fmt.Println("holding")
	io.Copy(io.Discard, os.Stdin)
	tx.Rollback()
	db.Close()
}

// TestAppendSeqWithoutOutbound: when outbound.db cannot be read, Append
// numbers after what was delivered, keeping host seqs even and rising.
func TestAppendSeqWithoutOutbound(t *testing.T) {
	ctx := context.Background()
	h, c := newSession(t)
	h.Append(ctx, chat("a", "one")) // 2
	c.Send(ctx, OutMessage{Content: OutContent{Text: "r1"}}, OutMessage{Content: OutContent{Text: "r2"}})
	out, _ := h.Undelivered(ctx) // 3, 5
	for _, m := range out {
		h.RecordDelivery(ctx, m, "p", DeliveryDelivered, "")
	}
	os.Remove(h.OutboundPath())
	if err := os.WriteFile(h.OutboundPath(), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Append(ctx, chat("b", "two")); err != nil {
		t.Fatal(err)
	}
	open, _ := h.Open(ctx)
	if len(open) != 2 || open[1].Seq != 6 {
		t.Fatalf("seq after delivered 5 = %+v, want 6", open)
	}
}

// BenchmarkUndelivered is the warm path: a normal outbound.db with a few
// hundred replies, ten of them undelivered.
func BenchmarkUndelivered(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	h := Host{Dir: dir}
	if err := h.Create(ctx, InMessage{ChannelType: "terminal", PlatformID: "local"}); err != nil {
		b.Fatal(err)
	}
	c := Container{InDir: filepath.Join(dir, InDir), OutDir: filepath.Join(dir, OutDir)}
	h.Append(ctx, chat("a", "one"))
	msgs := make([]OutMessage, 300)
	for i := range msgs {
		msgs[i] = OutMessage{Content: OutContent{Text: strings.Repeat("reply ", 50)}}
	}
	if err := c.Send(ctx, msgs...); err != nil {
		b.Fatal(err)
	}
	out, _ := h.Undelivered(ctx)
	for len(out) > 0 && len(out) == BatchSize {
		for _, m := range out {
			h.RecordDelivery(ctx, m, "p", DeliveryDelivered, "")
		}
		out, _ = h.Undelivered(ctx)
	}
	// Leave ten undelivered.
	c.Send(ctx, msgs[:10]...)
	b.ResetTimer()
	for b.Loop() {
		out, err := h.Undelivered(ctx)
		if err != nil || len(out) == 0 {
			b.Fatal(len(out), err)
		}
	}
}
