package sessiondb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Outcome reads where one inbound message stands, by id: its status and,
// when it failed, why. found is false when no row has that id (yet). It
// reads only inbound.db, berth's own file.
func (h Host) Outcome(ctx context.Context, id string) (status Status, reason string, found bool, err error) {
	err = withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		err := db.QueryRowContext(ctx, `SELECT status, error FROM messages_in WHERE id = ?`, id).Scan(&status, &reason)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if errors.Is(err, ErrNoFile) || isNoTable(err) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read the outcome of message %s: %w", id, err)
	}
	return status, reason, found, nil
}

// LastAddress is where the session's newest message from a person was
// said (its channel type, platform id and thread, as the router wrote
// it): where an answer to the conversation goes. found is false when no
// person has written yet.
func (h Host) LastAddress(ctx context.Context) (a Address, found bool, err error) {
	err = withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		err := db.QueryRowContext(ctx, `SELECT channel_type, platform_id, thread_id FROM messages_in
			WHERE kind IN (?, ?) AND platform_id != '' ORDER BY seq DESC LIMIT 1`, KindChat, KindCommand).Scan(&a.ChannelType, &a.PlatformID, &a.ThreadID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if errors.Is(err, ErrNoFile) || isNoTable(err) {
		return Address{}, false, nil
	}
	if err != nil {
		return Address{}, false, fmt.Errorf("read the session's address: %w", err)
	}
	return a, found, nil
}
