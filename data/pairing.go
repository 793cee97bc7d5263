package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Pairing-code claim failures; a code that does not exist is ErrNotFound.
var (
	ErrCodeUsed    = errors.New("pairing code already used")
	ErrCodeExpired = errors.New("pairing code expired")
)

// AddPairingCode stores the hash of a new one-time pairing code valid until
// expires. Used and expired codes are deleted, and of the codes still
// pending only the newest keep (counting the new one) are left.
func (s *Store) AddPairingCode(ctx context.Context, hash string, created, expires time.Time, keep int) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pairing_codes WHERE used_at != '' OR expires_at <= ?`, stamp(created)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pairing_codes (code_hash, created_at, expires_at) VALUES (?, ?, ?)`,
			hash, stamp(created), stamp(expires)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM pairing_codes WHERE code_hash NOT IN
			(SELECT code_hash FROM pairing_codes ORDER BY created_at DESC, rowid DESC LIMIT ?)`, max(keep, 1))
		return err
	})
	if err != nil {
		return fmt.Errorf("add pairing code: %w", err)
	}
	return nil
}

// ClaimPairingCode uses the code with the given hash, once, at now: it is
// marked used and userID becomes an owner, in one transaction. It fails
// with ErrNotFound, ErrCodeUsed or ErrCodeExpired.
func (s *Store) ClaimPairingCode(ctx context.Context, hash, userID string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var expires, used string
		err := tx.QueryRowContext(ctx, `SELECT expires_at, used_at FROM pairing_codes WHERE code_hash = ?`, hash).Scan(&expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case used != "":
			return ErrCodeUsed
		case !now.Before(parseTime(expires)):
			return ErrCodeExpired
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pairing_codes SET used_at = ?, used_by = ? WHERE code_hash = ?`, stamp(now), userID, hash); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role, agent_group_id, granted_by, granted_at)
			VALUES (?, 'owner', '', 'pairing', ?) ON CONFLICT DO NOTHING`, userID, stamp(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("claim pairing code: %w", err)
	}
	return nil
}

// PendingPairingCodes counts the codes that are neither used nor expired at now.
func (s *Store) PendingPairingCodes(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pairing_codes WHERE used_at = '' AND expires_at > ?`, stamp(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pairing codes: %w", err)
	}
	return n, nil
}

// stamp formats t at a fixed width, so that stored times compare as text.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }
