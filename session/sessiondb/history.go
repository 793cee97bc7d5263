package sessiondb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxHistoryText bounds the text History keeps of each message: an
// operator's page shows what was asked, not all of it.
const MaxHistoryText = 500

// Message is one inbound message as an operator sees it: what was asked,
// where it stands and the replies sent to it.
type Message struct {
	ID         string
	Seq        int64
	Kind       Kind
	Time       time.Time // when berth stored it
	Status     Status    // the inbound row's status
	Working    bool      // pending, and its container acked it as being processed
	Tries      int       // containers that started on it
	SenderID   string
	SenderName string
	Text       string // cut to MaxHistoryText
	Error      string // why it failed
	Replies    []Reply
}

// Reply is one reply the agent wrote to a message, as delivery recorded it.
type Reply struct {
	ID         string         // the messages_out id
	PlatformID string         // the platform's id of what was posted; "" until it is
	Status     DeliveryStatus // "" while it waits for delivery
	At         time.Time      // when delivery recorded its outcome
}

// History reads a session's newest limit inbound messages, newest first,
// with their outcome and replies. It writes nothing. From the agent's
// outbound.db it reads only the processing acks of pending messages
// (Acks) and the bounded ids of replies to the messages read; a session
// with no inbound.db yet has no history.
func (h Host) History(ctx context.Context, limit int) ([]Message, error) {
	msgs, err := query(ctx, h.InboundPath(), func(rows *sql.Rows) (Message, error) {
		var m Message
		var ts, content string
		if err := rows.Scan(&m.ID, &m.Seq, &m.Kind, &ts, &m.Status, &m.Tries, &m.SenderID, &content, &m.Error); err != nil {
			return m, err
		}
		m.Time = parseTime(ts)
		var c Content
		if json.Unmarshal([]byte(content), &c) == nil {
			m.Text, m.SenderName = cutRunes(c.Text, MaxHistoryText), c.SenderName
		}
		return m, nil
	}, `SELECT id, seq, kind, timestamp, status, tries, sender_id, substr(content, 1, ?), error
		FROM messages_in ORDER BY seq DESC LIMIT ?`, 4*MaxHistoryText+512, limit)
	if err != nil {
		return nil, fmt.Errorf("read the history of %s: %w", h.InboundPath(), err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	byID := make(map[string]*Message, len(msgs))
	var ids []string
	pending := false
	for i := range msgs {
		byID[msgs[i].ID] = &msgs[i]
		ids = append(ids, msgs[i].ID)
		pending = pending || msgs[i].Status == StatusPending
	}
	if pending {
		acks, err := h.Acks(ctx)
		if err != nil && !errors.Is(err, ErrRefused) {
			return nil, fmt.Errorf("read the history of %s: %w", h.InboundPath(), err)
		}
		for id, a := range acks {
			if m := byID[id]; m != nil && m.Status == StatusPending && a.Status == StatusProcessing {
				m.Working = true
			}
		}
	}
	replies, err := h.repliesTo(ctx, ids, 8*limit)
	if err != nil {
		return nil, fmt.Errorf("read the history of %s: %w", h.InboundPath(), err)
	}
	for _, r := range replies {
		if m := byID[r.inReplyTo]; m != nil {
			m.Replies = append(m.Replies, r.Reply)
		}
	}
	return msgs, nil
}

type historyReply struct {
	Reply
	inReplyTo string
}

// repliesTo reads at most max replies to the messages ids, in the order
// they were written, with their delivery outcome. A hostile outbound.db
// shows no replies rather than failing the page that asks.
func (h Host) repliesTo(ctx context.Context, ids []string, max int) ([]historyReply, error) {
	var out []historyReply
	err := readAgent(ctx, h.OutboundPath(), agentReadOptions{}, func(ctx context.Context, c *sql.Conn) error {
		for len(ids) > 0 && len(out) < max {
			n := min(len(ids), BatchSize)
			rows, err := c.QueryContext(ctx, `SELECT `+bounded("id", maxField)+`, `+bounded("in_reply_to", maxField)+`
				FROM messages_out WHERE in_reply_to IN (`+params(n)+`) ORDER BY seq LIMIT ?`, append(anys(ids[:n]), max-len(out))...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var r historyReply
				if err := rows.Scan(&r.ID, &r.inReplyTo); err != nil {
					return errors.Join(err, rows.Close())
				}
				out = append(out, r)
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNoFile), errors.Is(err, ErrRefused), isNoTable(err):
		return nil, nil
	case err != nil:
		return nil, err
	case len(out) == 0:
		return nil, nil
	}
	byID := make(map[string]*historyReply, len(out))
	outIDs := make([]string, 0, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
		outIDs = append(outIDs, out[i].ID)
	}
	for len(outIDs) > 0 {
		n := min(len(outIDs), BatchSize)
		type row struct {
			id, platformID, status, at string
		}
		rows, err := query(ctx, h.InboundPath(), func(rows *sql.Rows) (row, error) {
			var r row
			return r, rows.Scan(&r.id, &r.platformID, &r.status, &r.at)
		}, `SELECT message_out_id, platform_message_id, status, delivered_at FROM delivered WHERE message_out_id IN (`+params(n)+`)`, anys(outIDs[:n])...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if hr := byID[r.id]; hr != nil {
				hr.PlatformID, hr.Status, hr.At = r.platformID, DeliveryStatus(r.status), parseTime(r.at)
			}
		}
		outIDs = outIDs[n:]
	}
	return out, nil
}

// cutRunes cuts s to at most n bytes on a character boundary, marking the cut.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
