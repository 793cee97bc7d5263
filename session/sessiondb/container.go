package sessiondb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Container is the agent runner's side of a session: it reads inbound.db
// (mounted read-only) and writes outbound.db.
type Container struct {
	InDir, OutDir string
}

// InboundPath is the path of inbound.db.
func (c Container) InboundPath() string { return filepath.Join(c.InDir, InboundFile) }

// OutboundPath is the path of outbound.db.
func (c Container) OutboundPath() string { return filepath.Join(c.OutDir, OutboundFile) }

// Init creates outbound.db's tables.
func (c Container) Init(ctx context.Context) error {
	return withWrite(ctx, c.OutboundPath(), outboundSchema, func(*sql.Tx) error { return nil })
}

// Due lists pending, due messages that no live runner has taken, oldest
// first. A "processing" ack older than since belongs to a container that
// died, so its message is due again.
//
// Only the acks of pending messages are read, and none when nothing is
// pending (most wakes: berth's records of a delivery), so a wake costs
// the same in a session's first hour as in its thousandth.
func (c Container) Due(ctx context.Context, since time.Time, now time.Time) ([]InMessage, error) {
	all, err := pending(ctx, c.InboundPath())
	if err != nil || len(all) == 0 {
		return nil, err
	}
	ids := make([]string, len(all))
	for i, m := range all {
		ids[i] = m.ID
	}
	acks := map[string]Ack{}
	if err := withRead(ctx, c.OutboundPath(), func(db *sql.DB) error {
		for len(ids) > 0 {
			n := min(len(ids), BatchSize)
			if err := readAcks(ctx, db, ids[:n], acks); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	}); err != nil && !errors.Is(err, ErrNoFile) && !isNoTable(err) {
		return nil, fmt.Errorf("read acks: %w", err)
	}
	var out []InMessage
	for _, m := range all {
		if !m.ProcessAfter.IsZero() && m.ProcessAfter.After(now) {
			continue
		}
		if a, ok := acks[m.ID]; ok && !(a.Status == StatusProcessing && a.Changed.Before(since)) {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Routing returns the session's default reply address.
func (c Container) Routing(ctx context.Context) (channelType, platformID, threadID string, err error) {
	err = withRead(ctx, c.InboundPath(), func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT channel_type, platform_id, thread_id FROM session_routing WHERE id = 1`).
			Scan(&channelType, &platformID, &threadID)
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return
}

// Claim acks messages as processing.
func (c Container) Claim(ctx context.Context, ids ...string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if err := ack(ctx, tx, id, StatusProcessing, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// Finish writes the replies to a batch of messages and acks each of them
// with status, in one transaction: a message is never acked completed
// without its reply.
func (c Container) Finish(ctx context.Context, ids []string, status Status, errText string, replies ...OutMessage) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		if err := insertOut(ctx, c, tx, replies); err != nil {
			return err
		}
		for _, id := range ids {
			if err := ack(ctx, tx, id, status, errText); err != nil {
				return err
			}
		}
		return nil
	})
}

// Send writes messages_out rows without acking anything (an agent's
// send_message tool in the middle of a turn).
func (c Container) Send(ctx context.Context, msgs ...OutMessage) error {
	return c.write(ctx, func(tx *sql.Tx) error { return insertOut(ctx, c, tx, msgs) })
}

// State reads a session_state value; missing keys are "".
func (c Container) State(ctx context.Context, key string) (string, error) {
	var v string
	err := withRead(ctx, c.OutboundPath(), func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT value FROM session_state WHERE key = ?`, key).Scan(&v)
	})
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, ErrNoFile) || isNoTable(err) {
		return "", nil
	}
	return v, err
}

// SetState writes a session_state value.
func (c Container) SetState(ctx context.Context, key, value string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO session_state (key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, fmtTime(time.Now()))
		return err
	})
}

func (c Container) write(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := withWrite(ctx, c.OutboundPath(), outboundSchema, fn); err != nil {
		return fmt.Errorf("write %s: %w", c.OutboundPath(), err)
	}
	return nil
}

func ack(ctx context.Context, tx *sql.Tx, id string, status Status, errText string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO processing_ack (message_id, status, error, status_changed) VALUES (?, ?, ?, ?)
		ON CONFLICT (message_id) DO UPDATE SET status = excluded.status, error = excluded.error, status_changed = excluded.status_changed`,
		id, status, errText, fmtTime(time.Now()))
	return err
}

func insertOut(ctx context.Context, c Container, tx *sql.Tx, msgs []OutMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	outMax, err := maxSeq(ctx, tx, "messages_out")
	if err != nil {
		return err
	}
	var inMax int64
	err = withRead(ctx, c.InboundPath(), func(db *sql.DB) error {
		var err error
		inMax, err = maxSeq(ctx, db, "messages_in")
		return err
	})
	if err != nil && !errors.Is(err, ErrNoFile) {
		return err
	}
	seq := nextSeq(max(inMax, outMax), 1)
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = newID()
		}
		if m.Kind == "" {
			m.Kind = KindChat
		}
		if m.Timestamp.IsZero() {
			m.Timestamp = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, kind, channel_type, platform_id, thread_id, content)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, seq, m.InReplyTo, fmtTime(m.Timestamp), fmtTime(m.DeliverAfter), m.Kind,
			m.ChannelType, m.PlatformID, m.ThreadID, mustJSON(m.Content)); err != nil {
			return fmt.Errorf("insert reply: %w", err)
		}
		seq += 2
	}
	return nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readAcks reads the acks of ids (at most BatchSize) from the runner's own outbound.db.
func readAcks(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, ids []string, acks map[string]Ack) error {
	rows, err := db.QueryContext(ctx, `SELECT message_id, status, error, status_changed FROM processing_ack WHERE message_id IN (`+params(len(ids))+`)`, anys(ids)...)
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
