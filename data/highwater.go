package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
