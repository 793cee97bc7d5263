package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AddUsage adds one model call's tokens to a group's count for the day.
func (s *Store) AddUsage(ctx context.Context, group string, day time.Time, input, output int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO usage (group_folder, day, input_tokens, output_tokens) VALUES (?, ?, ?, ?)
		ON CONFLICT (group_folder, day) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
		output_tokens = output_tokens + excluded.output_tokens`, group, day.UTC().Format(time.DateOnly), input, output)
	if err != nil {
		return fmt.Errorf("record usage of %s: %w", group, err)
	}
	return nil
}

// Usage returns a group's tokens on a day.
func (s *Store) Usage(ctx context.Context, group string, day time.Time) (input, output int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT input_tokens, output_tokens FROM usage WHERE group_folder = ? AND day = ?`,
		group, day.UTC().Format(time.DateOnly)).Scan(&input, &output)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return
}
