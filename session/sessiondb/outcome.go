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
