package sessiondb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Counts is how many of a session's inbound messages wait for an answer
// and how many failed.
type Counts struct {
	Pending int // not finished yet (waiting, or being worked on)
	Failed  int // failed, of those sent since the time asked for
}

// Counts reads, without writing anything, how many messages are pending
// and how many that were sent since since have failed. A session with no
// inbound.db yet counts nothing.
func (h Host) Counts(ctx context.Context, since time.Time) (Counts, error) {
	var c Counts
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages_in WHERE status = 'pending'`).Scan(&c.Pending); err != nil {
			return err
		}
		rows, err := db.QueryContext(ctx, `SELECT timestamp FROM messages_in WHERE status = 'failed'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ts string
			if err := rows.Scan(&ts); err != nil {
				return err
			}
			// Compared as times: RFC 3339 strings with fractions do not sort.
			if !parseTime(ts).Before(since) {
				c.Failed++
			}
		}
		return rows.Err()
	})
	if errors.Is(err, ErrNoFile) || isNoTable(err) {
		return Counts{}, nil
	}
	if err != nil {
		return Counts{}, fmt.Errorf("count messages in %s: %w", h.InboundPath(), err)
	}
	return c, nil
}
