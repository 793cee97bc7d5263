package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/channels"
)

// AdvanceHighWater records messageID as the newest seen in a conversation,
// unless a newer one is recorded already. Platform ids order numerically
// (Slack "1700000000.000100", Discord snowflakes).
func (s *Store) AdvanceHighWater(ctx context.Context, channelType, platformID, messageID string) error {
	if messageID == "" {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT message_id FROM high_water WHERE channel_type = ? AND platform_id = ?`,
			channelType, platformID).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && channels.CompareIDs(messageID, cur) <= 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO high_water (channel_type, platform_id, message_id, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (channel_type, platform_id) DO UPDATE SET message_id = excluded.message_id, updated_at = excluded.updated_at`,
			channelType, platformID, messageID, now())
		if err != nil {
			return fmt.Errorf("advance high-water mark of %s:%s: %w", channelType, platformID, err)
		}
		return nil
	})
}

// HighWater returns the newest message id seen in a conversation, or "".
func (s *Store) HighWater(ctx context.Context, channelType, platformID string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT message_id FROM high_water WHERE channel_type = ? AND platform_id = ?`,
		channelType, platformID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// AdvanceThreadHighWater records messageID as the newest seen in thread
// threadID of conversation platformID, unless a newer one is recorded.
func (s *Store) AdvanceThreadHighWater(ctx context.Context, channelType, platformID, threadID, messageID string) error {
	if messageID == "" || threadID == "" {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT message_id FROM thread_high_water WHERE channel_type = ? AND platform_id = ? AND thread_id = ?`,
			channelType, platformID, threadID).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read high-water mark of %s:%s thread %s: %w", channelType, platformID, threadID, err)
		}
		if err == nil && channels.CompareIDs(messageID, cur) <= 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO thread_high_water (channel_type, platform_id, thread_id, message_id, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (channel_type, platform_id, thread_id) DO UPDATE SET message_id = excluded.message_id, updated_at = excluded.updated_at`,
			channelType, platformID, threadID, messageID, now())
		if err != nil {
			return fmt.Errorf("advance high-water mark of %s:%s thread %s: %w", channelType, platformID, threadID, err)
		}
		return nil
	})
}

// ThreadHighWater returns the newest message id seen in a thread, or "".
func (s *Store) ThreadHighWater(ctx context.Context, channelType, platformID, threadID string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT message_id FROM thread_high_water WHERE channel_type = ? AND platform_id = ? AND thread_id = ?`,
		channelType, platformID, threadID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read high-water mark of %s:%s thread %s: %w", channelType, platformID, threadID, err)
	}
	return id, nil
}

// maxCatchUpThreads bounds how many threads of one conversation a
// catch-up asks the platform about.
const maxCatchUpThreads = 100

// RecentThreads returns the threads of a wired conversation worth
// catching up, with their marks: those an active session of messaging
// group mg is keyed by, and those a message was accepted in, either
// active since since; the most recent first, at most 100.
func (s *Store) RecentThreads(ctx context.Context, mg MessagingGroup, since time.Time) ([]channels.ThreadMark, error) {
	cut := since.UTC().Format(time.RFC3339Nano)
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.thread_id, COALESCE(h.message_id, ''), MAX(t.at) AS at FROM (
			SELECT thread_id, last_active AS at FROM sessions
			 WHERE messaging_group_id = ? AND status = 'active' AND thread_id != '' AND last_active >= ?
			UNION ALL
			SELECT thread_id, updated_at AS at FROM thread_high_water
			 WHERE channel_type = ? AND platform_id = ? AND updated_at >= ?
		) t LEFT JOIN thread_high_water h
		  ON h.channel_type = ? AND h.platform_id = ? AND h.thread_id = t.thread_id
		GROUP BY t.thread_id ORDER BY at DESC LIMIT ?`,
		mg.ID, cut, mg.ChannelType, mg.PlatformID, cut, mg.ChannelType, mg.PlatformID, maxCatchUpThreads)
	if err != nil {
		return nil, fmt.Errorf("list recent threads of %s:%s: %w", mg.ChannelType, mg.PlatformID, err)
	}
	defer rows.Close()
	var out []channels.ThreadMark
	for rows.Next() {
		var m channels.ThreadMark
		var at string
		if err := rows.Scan(&m.ThreadID, &m.After, &at); err != nil {
			return nil, fmt.Errorf("list recent threads of %s:%s: %w", mg.ChannelType, mg.PlatformID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list recent threads of %s:%s: %w", mg.ChannelType, mg.PlatformID, err)
	}
	return out, nil
}
