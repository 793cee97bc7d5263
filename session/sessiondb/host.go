package sessiondb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Host is berth's side of one session folder: it writes inbound.db and
// reads outbound.db.
type Host struct {
	Dir string // the session folder
}

// InDir is the session's in/ folder (mounted read-only at /workspace/in).
func (h Host) InDir() string { return filepath.Join(h.Dir, InDir) }

// InboundPath is the path of in/inbound.db.
func (h Host) InboundPath() string { return filepath.Join(h.Dir, InDir, InboundFile) }

// OutboundPath is the path of out/outbound.db.
func (h Host) OutboundPath() string { return filepath.Join(h.Dir, OutDir, OutboundFile) }

// Create makes the session folder and an empty inbound.db. It is idempotent.
func (h Host) Create(ctx context.Context, routing InMessage) error {
	for _, d := range []string{InDir, OutDir, filepath.Join(InDir, InboxDir), filepath.Join(OutDir, "outbox")} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return fmt.Errorf("create session folder: %w", err)
		}
	}
	return withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO session_routing (id, channel_type, platform_id, thread_id) VALUES (1, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET channel_type = excluded.channel_type, platform_id = excluded.platform_id, thread_id = excluded.thread_id`,
			routing.ChannelType, routing.PlatformID, routing.ThreadID)
		return err
	})
}

// Stored reports whether messages_in holds a message with this id.
func (h Host) Stored(ctx context.Context, id string) (bool, error) {
	var found bool
	err := withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages_in WHERE id = ?)`, id).Scan(&found)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("look up message %s: %w", id, err)
	}
	return found, nil
}

// Append writes messages to messages_in with the next even seq numbers.
// A message whose id is already present is skipped, so a redelivered
// platform event is stored once. It reports the ids actually inserted.
//
// It does not depend on outbound.db: when the agent's file cannot be read
// (missing, hostile, locked), the message is stored all the same; that
// session's reads then fail on their own, and no other session or group
// sharing the conversation is held up.
func (h Host) Append(ctx context.Context, msgs ...InMessage) ([]string, error) {
	outMax, outErr := h.maxOutSeq(ctx)
	var inserted []string
	err := withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		inMax, err := maxSeq(ctx, tx, "messages_in")
		if err != nil {
			return err
		}
		if outErr != nil {
			// The container's rows could not be read: number without
			// them. Parity keeps the two sides' seqs apart whatever the
			// numbers (even here, odd there), and the container numbers
			// its next rows after inbound.db's, so the only cost is that
			// this message may sort before replies written but not
			// delivered yet, which it raced anyway.
			outMax = 0
		}
		// Past every reply already delivered too: after a refused
		// outbound.db is set aside, the fresh one's rows must still sort
		// after what was delivered, or they would never be read.
		delMax, err := maxSeq(ctx, tx, "delivered")
		if err != nil {
			return err
		}
		seq := nextSeq(max(inMax, outMax, delMax), 0)
		for _, m := range msgs {
			if m.Timestamp.IsZero() {
				m.Timestamp = time.Now()
			}
			if m.Kind == "" {
				m.Kind = KindChat
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO messages_in (id, seq, kind, timestamp, status, process_after, tries, trigger,
				channel_type, platform_id, thread_id, sender_id, content) VALUES (?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO NOTHING`,
				m.ID, seq, m.Kind, fmtTime(m.Timestamp), fmtTime(m.ProcessAfter), boolInt(m.Trigger),
				m.ChannelType, m.PlatformID, m.ThreadID, m.SenderID, mustJSON(m.Content))
			if err != nil {
				return fmt.Errorf("insert message %s: %w", m.ID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("insert message %s: %w", m.ID, err)
			}
			if n == 1 {
				inserted = append(inserted, m.ID)
				seq += 2
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", h.InboundPath(), err)
	}
	return inserted, nil
}

// appendBusy is how long Append waits for the container's write lock on
// outbound.db before it numbers without it: a message is never held up
// long by the agent's file.
const appendBusy = 100 * time.Millisecond

// maxOutSeq is the highest seq in messages_out; 0 when there is no file yet.
func (h Host) maxOutSeq(ctx context.Context) (int64, error) {
	var n int64
	err := readAgent(ctx, h.OutboundPath(), agentReadOptions{busy: appendBusy}, func(ctx context.Context, c *sql.Conn) error {
		// Not MAX(seq): a non-integer seq the agent wrote must not count.
		err := c.QueryRowContext(ctx, `SELECT seq FROM messages_out WHERE typeof(seq) = 'integer' ORDER BY seq DESC LIMIT 1`).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if errors.Is(err, ErrNoFile) {
		return 0, nil
	}
	return n, err
}

// nextSeq is the smallest number above after with the given parity
// (0: even, host; 1: odd, container).
func nextSeq(after int64, parity int64) int64 {
	n := after + 1
	if n%2 != parity {
		n++
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const inCols = `id, seq, kind, timestamp, status, process_after, tries, trigger, channel_type, platform_id, thread_id, sender_id, content`

func scanIn(rows *sql.Rows) (InMessage, error) {
	var m InMessage
	var ts, after, content string
	var trig int
	if err := rows.Scan(&m.ID, &m.Seq, &m.Kind, &ts, &m.Status, &after, &m.Tries, &trig, &m.ChannelType, &m.PlatformID,
		&m.ThreadID, &m.SenderID, &content); err != nil {
		return m, err
	}
	m.Timestamp, m.ProcessAfter, m.Trigger = parseTime(ts), parseTime(after), trig != 0
	if err := json.Unmarshal([]byte(content), &m.Content); err != nil {
		return m, fmt.Errorf("message %s: bad content: %w", m.ID, err)
	}
	return m, nil
}

// Open lists messages_in rows that are not finished (pending), oldest first.
func (h Host) Open(ctx context.Context) ([]InMessage, error) {
	return pending(ctx, h.InboundPath())
}

// pending reads the pending rows of an inbound.db, oldest first.
func pending(ctx context.Context, file string) ([]InMessage, error) {
	return query(ctx, file, scanIn, `SELECT `+inCols+` FROM messages_in WHERE status = 'pending' ORDER BY seq`)
}

// Busy reports whether the session has anything unfinished: a message
// waiting for its answer (context-only rows wait for no answer; see
// Triggers), a reply waiting for delivery, or a failure its sender has
// not been told. An unreadable database counts as busy.
func (h Host) Busy(ctx context.Context) (bool, error) {
	if open, err := h.Open(ctx); err != nil || Triggers(open) {
		return true, err
	}
	if und, err := h.Undelivered(ctx); err != nil || len(und) > 0 {
		return true, err
	}
	// A reply being sent is past Undelivered's mark, yet not settled.
	var sending bool
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM delivered WHERE status = ?)`, DeliverySending).Scan(&sending)
	})
	if err != nil && !errors.Is(err, ErrNoFile) && !isNoTable(err) {
		return true, err
	}
	if sending {
		return true, nil
	}
	f, err := h.FailedUnnotified(ctx)
	return err != nil || len(f) > 0, err
}

// Failed is an inbound message that failed and whose sender has not been told yet.
type Failed struct {
	InMessage
	Error string
}

// FailedUnnotified lists failed messages the user has not been told about.
func (h Host) FailedUnnotified(ctx context.Context) ([]Failed, error) {
	return query(ctx, h.InboundPath(), func(rows *sql.Rows) (Failed, error) {
		var f Failed
		var ts, after, content string
		var trig int
		if err := rows.Scan(&f.ID, &f.Seq, &f.Kind, &ts, &f.Status, &after, &f.Tries, &trig, &f.ChannelType, &f.PlatformID,
			&f.ThreadID, &f.SenderID, &content, &f.Error); err != nil {
			return f, err
		}
		f.Timestamp, f.ProcessAfter, f.Trigger = parseTime(ts), parseTime(after), trig != 0
		if err := json.Unmarshal([]byte(content), &f.Content); err != nil {
			// Berth wrote it, so this is not expected; the person is still
			// told, without the reply-to, rather than stall every failure
			// behind this one.
			f.Content = Content{}
		}
		return f, nil
	}, `SELECT `+inCols+`, error FROM messages_in WHERE status = 'failed' AND notified = 0 ORDER BY seq`)
}

// MarkNotified records that the sender of a failed message was told.
func (h Host) MarkNotified(ctx context.Context, id string) error {
	return withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE messages_in SET notified = 1 WHERE id = ?`, id)
		return err
	})
}

// Acks reads the container's processing acks of the messages still
// pending in inbound.db, the only ones Finish and a requeue use: an agent
// cannot make berth read more acks than berth has pending messages, and
// each ack's error is cut to MaxAckError.
func (h Host) Acks(ctx context.Context) (map[string]Ack, error) {
	acks := map[string]Ack{}
	ids, err := query(ctx, h.InboundPath(), func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	}, `SELECT id FROM messages_in WHERE status = 'pending' ORDER BY seq`)
	if err != nil || len(ids) == 0 {
		return acks, err
	}
	err = readAgent(ctx, h.OutboundPath(), agentReadOptions{}, func(ctx context.Context, c *sql.Conn) error {
		for len(ids) > 0 {
			n := min(len(ids), BatchSize)
			if err := readAcksOf(ctx, c, ids[:n], acks); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	})
	if errors.Is(err, ErrNoFile) {
		return acks, nil
	}
	return acks, err
}

// readAcksOf reads the acks of ids, each value bounded.
func readAcksOf(ctx context.Context, c *sql.Conn, ids []string, acks map[string]Ack) error {
	rows, err := c.QueryContext(ctx, `SELECT `+bounded("message_id", maxField)+`, `+bounded("status", maxField)+`, `+bounded("status_changed", maxField)+`,
		octet_length(error), CASE WHEN octet_length(error) <= ? THEN substr(CAST(error AS BLOB), 1, ?) END
		FROM processing_ack WHERE message_id IN (`+params(len(ids))+`)`, append([]any{maxLength, MaxAckError}, anys(ids)...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a Ack
		var changed string
		var n sql.NullInt64
		var text []byte
		if err := rows.Scan(&a.MessageID, &a.Status, &changed, &n, &text); err != nil {
			return err
		}
		a.Changed = parseTime(changed)
		a.Error = cutText(string(text), MaxAckError, n.Int64, "error")
		acks[a.MessageID] = a
	}
	return rows.Err()
}

// bounded is an SQL expression for col's value, or the empty string when
// that is over n bytes: the oversized value is never loaded.
func bounded(col string, n int) string {
	return fmt.Sprintf(`CASE WHEN octet_length(%[1]s) <= %[2]d THEN ifnull(%[1]s, '') ELSE '' END`, col, n)
}

// params is n comma-separated SQL parameters.
func params(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys[T any](v []T) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// cutText cuts s, whose full length was n bytes, to at most max bytes on a
// character boundary, with a note of what was cut.
func cutText(s string, max int, n int64, what string) string {
	if n <= int64(max) && len(s) <= max {
		return s
	}
	cut := min(len(s), max)
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n\n[%s cut: it was %d bytes; berth reads at most %d]", what, n, max)
}

// Finish records the outcome the container acked for pending messages:
// completed or failed. It returns the ids it changed.
func (h Host) Finish(ctx context.Context, acks map[string]Ack) ([]string, error) {
	var changed []string
	err := withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		for id, a := range acks {
			if a.Status != StatusCompleted && a.Status != StatusFailed {
				continue
			}
			res, err := tx.ExecContext(ctx, `UPDATE messages_in SET status = ?, error = ? WHERE id = ? AND status = 'pending'`, a.Status, a.Error, id)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				changed = append(changed, id)
			}
		}
		return nil
	})
	return changed, err
}

// Retry schedules a message that a dead container had claimed: tries goes
// up and it waits backoff before it may run again; after maxTries it fails.
// It reports whether the message failed for good.
func (h Host) Retry(ctx context.Context, id string, backoff func(tries int) time.Duration, maxTries int, reason string) (bool, error) {
	var failed bool
	err := withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		var tries int
		if err := tx.QueryRowContext(ctx, `SELECT tries FROM messages_in WHERE id = ? AND status = 'pending'`, id).Scan(&tries); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}
		tries++
		if tries >= maxTries {
			failed = true
			_, err := tx.ExecContext(ctx, `UPDATE messages_in SET tries = ?, status = 'failed', error = ? WHERE id = ?`, tries, reason, id)
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE messages_in SET tries = ?, process_after = ? WHERE id = ?`,
			tries, fmtTime(time.Now().Add(backoff(tries))), id)
		return err
	})
	return failed, err
}

// End settles pending messages for good, as cancelled or failed with
// reason, and reports the ids it changed; a message no longer pending is
// left as it is. A failed one's sender is told (FailedUnnotified), a
// cancelled one's is not: whoever cancelled it was answered.
func (h Host) End(ctx context.Context, status Status, reason string, ids ...string) ([]string, error) {
	if status != StatusCancelled && status != StatusFailed {
		return nil, fmt.Errorf("end messages as %q: not a final status berth sets", status)
	}
	var changed []string
	err := withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE messages_in SET status = ?, error = ? WHERE id = ? AND status = 'pending'`, status, reason, id)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				changed = append(changed, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("end messages in %s as %s: %w", h.InboundPath(), status, err)
	}
	return changed, nil
}

// Cancelled lists the ids of the newest cancelled messages, at most limit
// of them, newest first.
func (h Host) Cancelled(ctx context.Context, limit int) ([]string, error) {
	return query(ctx, h.InboundPath(), func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	}, `SELECT id FROM messages_in WHERE status = 'cancelled' ORDER BY seq DESC LIMIT ?`, limit)
}

// Undelivered lists, in seq order, at most BatchSize messages_out rows
// after the last one recorded in delivered. A caller drains the backlog by
// calling it again after recording (BeginDelivery, RecordDelivery) what it
// got, until it returns fewer than BatchSize rows; rows it does not record
// come back on the next call. Each row's values are bounded (see scanOut).
func (h Host) Undelivered(ctx context.Context) ([]OutMessage, error) {
	var after int64
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		var n sql.NullInt64
		err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM delivered`).Scan(&n)
		after = n.Int64
		return err
	})
	if err != nil && !errors.Is(err, ErrNoFile) && !isNoTable(err) {
		return nil, err
	}
	return readOut(ctx, h.OutboundPath(), `typeof(seq) = 'integer' AND seq > ? ORDER BY seq LIMIT ?`, after, BatchSize)
}

// readOut reads the messages_out rows that where selects, bounded.
func readOut(ctx context.Context, file, where string, args ...any) ([]OutMessage, error) {
	var out []OutMessage
	err := readAgent(ctx, file, agentReadOptions{}, func(ctx context.Context, c *sql.Conn) error {
		rows, err := c.QueryContext(ctx, `SELECT `+outCols+` FROM messages_out WHERE `+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanOut(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if errors.Is(err, ErrNoFile) {
		return nil, nil
	}
	return out, err
}

// DeliveryStatus is what became of one reply, in the delivered table.
type DeliveryStatus string

// Delivery statuses. Every one but DeliverySending settles the reply: it
// is never sent again.
const (
	DeliverySending   DeliveryStatus = "sending"   // about to be sent; if still so after a crash, the outcome is unknown
	DeliveryDelivered DeliveryStatus = "delivered" // the platform took it
	DeliveryUnknown   DeliveryStatus = "unknown"   // a crash hid the outcome and the platform could not say; not resent
	DeliveryFailed    DeliveryStatus = "failed"    // the platform refused it, or every try failed
	DeliverySkipped   DeliveryStatus = "skipped"   // berth's own system message: not for a platform
	DeliveryRefused   DeliveryStatus = "refused"   // addressed outside the session's conversation
	DeliveryCapped    DeliveryStatus = "capped"    // past the reply caps
	DeliveryCancelled DeliveryStatus = "cancelled" // answers a message whose turn was cancelled
)

// BeginDelivery records that a reply is about to be sent, so a crash
// before RecordDelivery is noticed rather than silently resent.
func (h Host) BeginDelivery(ctx context.Context, m OutMessage) error {
	return withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO delivered (message_out_id, seq, platform_message_id, status, error, delivered_at)
			VALUES (?, ?, '', ?, '', ?) ON CONFLICT (message_out_id) DO NOTHING`, m.ID, m.Seq, DeliverySending, fmtTime(time.Now()))
		return err
	})
}

// RecordDelivery records the outcome of sending one outbound message.
func (h Host) RecordDelivery(ctx context.Context, m OutMessage, platformID string, status DeliveryStatus, errText string) error {
	return withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO delivered (message_out_id, seq, platform_message_id, status, error, delivered_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_out_id) DO UPDATE SET platform_message_id = excluded.platform_message_id,
			status = excluded.status, error = excluded.error, delivered_at = excluded.delivered_at`,
			m.ID, m.Seq, platformID, status, errText, fmtTime(time.Now()))
		return err
	})
}

// InDoubt lists replies whose send began but was never recorded: the
// process died in between. It reads at most BatchSize of them, and from
// outbound.db only those rows.
func (h Host) InDoubt(ctx context.Context) ([]OutMessage, error) {
	type sending struct {
		id  string
		seq int64
	}
	doubt, err := query(ctx, h.InboundPath(), func(rows *sql.Rows) (sending, error) {
		var s sending
		return s, rows.Scan(&s.id, &s.seq)
	}, `SELECT message_out_id, seq FROM delivered WHERE status = 'sending' ORDER BY seq LIMIT ?`, BatchSize)
	if err != nil || len(doubt) == 0 {
		return nil, err
	}
	seqs := make([]any, 0, len(doubt)+1)
	ids := map[int64]string{}
	for _, s := range doubt {
		seqs = append(seqs, s.seq)
		ids[s.seq] = s.id
	}
	// By seq, which berth recorded as it read it: ids are bounded when
	// read, so an oversized one would not match itself.
	rows, err := readOut(ctx, h.OutboundPath(), `typeof(seq) = 'integer' AND seq IN (`+params(len(seqs))+`) ORDER BY seq`, seqs...)
	var out []OutMessage
	for _, m := range rows {
		if ids[m.Seq] == m.ID {
			out = append(out, m)
		}
	}
	return out, err
}

// MaxReply is the most text of one reply berth delivers; the rest of an
// oversized reply is cut, with a note, rather than flooding the chat.
const MaxReply = 100 << 10

// outCols reads a messages_out row with every value bounded: short
// fields over maxField bytes read as the empty string (an oversized id as
// one made of its seq), and a content over maxContent bytes is not read.
var outCols = `CASE WHEN octet_length(id) BETWEEN 1 AND ` + fmt.Sprint(maxField) + ` THEN id ELSE 'oversized-id-' || seq END, seq, ` +
	bounded("in_reply_to", maxField) + `, ` + bounded("timestamp", maxField) + `, ` + bounded("deliver_after", maxField) + `, ` +
	bounded("kind", maxField) + `, ` + bounded("channel_type", maxField) + `, ` + bounded("platform_id", maxField) + `, ` +
	bounded("thread_id", maxField) + `, octet_length(content), ` + bounded("content", maxContent)

func scanOut(rows *sql.Rows) (OutMessage, error) {
	var m OutMessage
	var ts, after, content string
	var n sql.NullInt64
	if err := rows.Scan(&m.ID, &m.Seq, &m.InReplyTo, &ts, &after, &m.Kind, &m.ChannelType, &m.PlatformID, &m.ThreadID, &n, &content); err != nil {
		return m, err
	}
	m.Timestamp, m.DeliverAfter = parseTime(ts), parseTime(after)
	if n.Int64 > maxContent {
		m.Content = OutContent{Text: fmt.Sprintf("[reply refused: it was %d bytes; berth delivers at most %d]", n.Int64, MaxReply)}
		return m, nil
	}
	if err := json.Unmarshal([]byte(content), &m.Content); err != nil {
		// A malformed row from the container is delivered as its raw text
		// rather than stalling every row behind it.
		m.Content = OutContent{Text: content}
	}
	if len(m.Content.Text) > MaxReply {
		cut := MaxReply
		for cut > 0 && !utf8.RuneStart(m.Content.Text[cut]) {
			cut--
		}
		m.Content.Text = m.Content.Text[:cut] + fmt.Sprintf("\n\n[reply cut: it was %d bytes; berth delivers at most %d]", len(m.Content.Text), MaxReply)
	}
	return m, nil
}
