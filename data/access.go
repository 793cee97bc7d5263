package data

import (
	"context"
	"fmt"
	"time"
)

// Held is a message from an unknown sender to an approval wiring, kept
// until a group admin allows or denies the sender.
type Held struct {
	ID          int64
	GroupID     string // the agent group it waits for
	ChannelType string
	PlatformID  string // the wired conversation (a Discord thread's parent)
	MessageID   string
	SenderID    string // store id, "slack:U123"
	SenderName  string
	Text        string // the first 200 characters, for listing
	Inbound     string // the message as delivered (JSON), to route it once allowed
	CreatedAt   time.Time
}

// HoldMessage stores h and reports whether it was new: a redelivered
// message (same group, conversation and message id) is held once.
func (s *Store) HoldMessage(ctx context.Context, h Held) (bool, error) {
	if r := []rune(h.Text); len(r) > 200 {
		h.Text = string(r[:200])
	}
	if h.MessageID == "" {
		h.MessageID = "held-" + NewID() // nothing to deduplicate against
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO held_messages (agent_group_id, channel_type, platform_id, message_id, sender_id,
		sender_name, text, inbound, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		h.GroupID, h.ChannelType, h.PlatformID, h.MessageID, h.SenderID, h.SenderName, h.Text, h.Inbound, now())
	if err != nil {
		return false, fmt.Errorf("hold message %s from %s: %w", h.MessageID, h.SenderID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// HeldFilter selects held messages; empty fields match everything.
type HeldFilter struct {
	GroupID     string
	ChannelType string
	PlatformID  string
	SenderID    string
}

// HeldMessages lists held messages matching f, oldest first.
func (s *Store) HeldMessages(ctx context.Context, f HeldFilter) ([]Held, error) {
	q := `SELECT id, agent_group_id, channel_type, platform_id, message_id, sender_id, sender_name, text, inbound, created_at
		FROM held_messages WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{
		{"agent_group_id", f.GroupID}, {"channel_type", f.ChannelType}, {"platform_id", f.PlatformID}, {"sender_id", f.SenderID},
	} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list held messages: %w", err)
	}
	defer rows.Close()
	var out []Held
	for rows.Next() {
		var h Held
		var created string
		if err := rows.Scan(&h.ID, &h.GroupID, &h.ChannelType, &h.PlatformID, &h.MessageID, &h.SenderID, &h.SenderName,
			&h.Text, &h.Inbound, &created); err != nil {
			return nil, fmt.Errorf("list held messages: %w", err)
		}
		h.CreatedAt = parseTime(created)
		out = append(out, h)
	}
	return out, rows.Err()
}

// CountHeld counts the messages held for a group from one sender.
func (s *Store) CountHeld(ctx context.Context, groupID, senderID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM held_messages WHERE agent_group_id = ? AND sender_id = ?`,
		groupID, senderID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count held messages of %s: %w", senderID, err)
	}
	return n, nil
}

// DeleteHeld removes one held message, once it was routed or dropped.
func (s *Store) DeleteHeld(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM held_messages WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete held message %d: %w", id, err)
	}
	return nil
}

// Deny records that a group admin turned userID away from groupID.
func (s *Store) Deny(ctx context.Context, groupID, userID, by string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO denied_senders (agent_group_id, user_id, denied_by, denied_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET denied_by = excluded.denied_by, denied_at = excluded.denied_at`, groupID, userID, by, now())
	if err != nil {
		return fmt.Errorf("deny %s for group %s: %w", userID, groupID, err)
	}
	return nil
}

// Undeny forgets a denial (the sender was allowed after all).
func (s *Store) Undeny(ctx context.Context, groupID, userID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM denied_senders WHERE agent_group_id = ? AND user_id = ?`, groupID, userID); err != nil {
		return fmt.Errorf("undeny %s for group %s: %w", userID, groupID, err)
	}
	return nil
}

// Denied reports whether userID was denied for groupID.
func (s *Store) Denied(ctx context.Context, groupID, userID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM denied_senders WHERE agent_group_id = ? AND user_id = ?`,
		groupID, userID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check denial of %s: %w", userID, err)
	}
	return n > 0, nil
}
