package sessiondb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"
)

// Host is berth's side of one session folder: it writes inbound.db and
// reads outbound.db.
type Host struct {
	Dir string // the session folder
}

// InboundPath is the path of in/inbound.db.
func (h Host) InboundPath() string { return filepath.Join(h.Dir, InDir, InboundFile) }

// OutboundPath is the path of out/outbound.db.
func (h Host) OutboundPath() string { return filepath.Join(h.Dir, OutDir, OutboundFile) }

// Create makes the session folder and an empty inbound.db. It is idempotent.
func (h Host) Create(ctx context.Context, routing InMessage) error {
	for _, d := range []string{InDir, OutDir, filepath.Join(InDir, "inbox"), filepath.Join(OutDir, "outbox")} {
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

// Append writes messages to messages_in with the next even seq numbers.
// A message whose id is already present is skipped, so a redelivered
// platform event is stored once. It reports the ids actually inserted.
func (h Host) Append(ctx context.Context, msgs ...InMessage) ([]string, error) {
	outMax, err := h.maxOutSeq(ctx)
	if err != nil {
		return nil, err
	}
	var inserted []string
	err = withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		inMax, err := maxSeq(ctx, tx, "messages_in")
		if err != nil {
			return err
		}
		seq := nextSeq(max(inMax, outMax), 0)
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
			if n, _ := res.RowsAffected(); n == 1 {
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

func (h Host) maxOutSeq(ctx context.Context) (int64, error) {
	var n int64
	err := withRead(ctx, h.OutboundPath(), func(db *sql.DB) error {
		var err error
		n, err = maxSeq(ctx, db, "messages_out")
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
// waiting for its answer, a reply waiting for delivery, or a failure its
// sender has not been told. An unreadable database counts as busy.
func (h Host) Busy(ctx context.Context) (bool, error) {
	if open, err := h.Open(ctx); err != nil || len(open) > 0 {
		return true, err
	}
	if und, err := h.Undelivered(ctx); err != nil || len(und) > 0 {
		return true, err
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
		json.Unmarshal([]byte(content), &f.Content)
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

// Acks reads the container's processing acks.
func (h Host) Acks(ctx context.Context) (map[string]Ack, error) {
	acks := map[string]Ack{}
	err := withRead(ctx, h.OutboundPath(), func(db *sql.DB) error {
		return readAcks(ctx, db, acks)
	})
	if errors.Is(err, ErrNoFile) || isNoTable(err) {
		return acks, nil
	}
	return acks, err
}

func readAcks(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, acks map[string]Ack) error {
	rows, err := db.QueryContext(ctx, `SELECT message_id, status, error, status_changed FROM processing_ack`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a Ack
		var changed string
		if err := rows.Scan(&a.MessageID, &a.Status, &a.Error, &changed); err != nil {
			return err
		}
		a.Changed = parseTime(changed)
		acks[a.MessageID] = a
	}
	return rows.Err()
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
			if n, _ := res.RowsAffected(); n == 1 {
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

// Undelivered lists messages_out rows after the last delivered one, in seq order.
func (h Host) Undelivered(ctx context.Context) ([]OutMessage, error) {
	var after int64
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		var n sql.NullInt64
		err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM delivered`).Scan(&n)
		after = n.Int64
		return err
	})
	if err != nil && !errors.Is(err, ErrNoFile) {
		return nil, err
	}
	return query(ctx, h.OutboundPath(), scanOut, `SELECT `+outCols+` FROM messages_out WHERE seq > ? ORDER BY seq`, after)
}

// Delivery statuses.
const (
	DeliverySending   = "sending"   // about to be sent; if still so after a crash, the outcome is unknown
	DeliveryDelivered = "delivered" // the platform took it
	DeliveryUnknown   = "unknown"   // a crash hid the outcome and the platform could not say; not resent
)

// BeginDelivery records that a reply is about to be sent, so a crash
// before RecordDelivery is noticed rather than silently resent.
func (h Host) BeginDelivery(ctx context.Context, m OutMessage) error {
	return withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO delivered (message_out_id, seq, platform_message_id, status, error, delivered_at)
			VALUES (?, ?, '', 'sending', '', ?) ON CONFLICT (message_out_id) DO NOTHING`, m.ID, m.Seq, fmtTime(time.Now()))
		return err
	})
}

// RecordDelivery records the outcome of sending one outbound message.
func (h Host) RecordDelivery(ctx context.Context, m OutMessage, platformID, status, errText string) error {
	return withWrite(ctx, h.InboundPath(), inboundSchema, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO delivered (message_out_id, seq, platform_message_id, status, error, delivered_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_out_id) DO UPDATE SET platform_message_id = excluded.platform_message_id,
			status = excluded.status, error = excluded.error, delivered_at = excluded.delivered_at`,
			m.ID, m.Seq, platformID, status, errText, fmtTime(time.Now()))
		return err
	})
}

// InDoubt lists replies whose send began but was never recorded: the
// process died in between.
func (h Host) InDoubt(ctx context.Context) ([]OutMessage, error) {
	ids, err := query(ctx, h.InboundPath(), func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	}, `SELECT message_out_id FROM delivered WHERE status = 'sending'`)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	doubt := map[string]bool{}
	for _, id := range ids {
		doubt[id] = true
	}
	all, err := query(ctx, h.OutboundPath(), scanOut, `SELECT `+outCols+` FROM messages_out ORDER BY seq`)
	var out []OutMessage
	for _, m := range all {
		if doubt[m.ID] {
			out = append(out, m)
		}
	}
	return out, err
}

// MaxReply is the most text of one reply berth delivers; the rest of an
// oversized reply is cut, with a note, rather than flooding the chat.
const MaxReply = 100 << 10

const outCols = `id, seq, in_reply_to, timestamp, deliver_after, kind, channel_type, platform_id, thread_id, content`

func scanOut(rows *sql.Rows) (OutMessage, error) {
	var m OutMessage
	var ts, after, content string
	if err := rows.Scan(&m.ID, &m.Seq, &m.InReplyTo, &ts, &after, &m.Kind, &m.ChannelType, &m.PlatformID, &m.ThreadID, &content); err != nil {
		return m, err
	}
	m.Timestamp, m.DeliverAfter = parseTime(ts), parseTime(after)
	if len(content) > 4*MaxReply {
		content = content[:4*MaxReply] // never decode a huge row whole
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
