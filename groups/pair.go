package groups

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/data"
)

// Pairing codes: PairCodeLen characters from an alphabet without look-alikes
// (no 0/O, 1/I/L), valid for PairCodeTTL, at most PairCodesPending at once.
const (
	PairCodeLen      = 8
	PairCodeTTL      = 10 * time.Minute
	PairCodesPending = 3
	pairAlphabet     = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
)

// NewPairCode creates a one-time code that makes whoever sends `!pair
// <code>` an owner. Only its hash is stored; it expires ttl after now.
func NewPairCode(ctx context.Context, store *data.Store, now time.Time, ttl time.Duration) (string, error) {
	var b [PairCodeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new pairing code: %w", err)
	}
	code := make([]byte, PairCodeLen)
	for i, v := range b {
		// 256 is not a multiple of the alphabet size; the bias is harmless here.
		code[i] = pairAlphabet[int(v)%len(pairAlphabet)]
	}
	if err := store.AddPairingCode(ctx, hashPairCode(string(code)), now, now.Add(ttl), PairCodesPending); err != nil {
		return "", err
	}
	return string(code), nil
}

// Pairing failures ClaimPairCode reports, worded for the person pairing.
var (
	errPairInvalid = errors.New("that pairing code is not valid; run `berth pair` on the host for a new one")
	errPairUsed    = errors.New("that pairing code has already been used; run `berth pair` on the host for a new one")
	errPairExpired = errors.New("that pairing code has expired; run `berth pair` on the host for a new one")
)

// ClaimPairCode makes userID an owner if code is a pending pairing code at
// now, and uses the code up.
func ClaimPairCode(ctx context.Context, store *data.Store, code, userID string, now time.Time) error {
	norm, ok := normalizePairCode(code)
	if !ok {
		return errPairInvalid
	}
	err := store.ClaimPairingCode(ctx, hashPairCode(norm), userID, now)
	switch {
	case errors.Is(err, data.ErrNotFound):
		return errPairInvalid
	case errors.Is(err, data.ErrCodeUsed):
		return errPairUsed
	case errors.Is(err, data.ErrCodeExpired):
		return errPairExpired
	}
	return err
}

// normalizePairCode upper-cases a typed code and drops the spaces and
// dashes people add; it reports false for anything that cannot be a code.
func normalizePairCode(s string) (string, bool) {
	if len(s) > 4*PairCodeLen {
		return "", false
	}
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	if len(s) != PairCodeLen {
		return "", false
	}
	for _, r := range s {
		if !strings.ContainsRune(pairAlphabet, r) {
			return "", false
		}
	}
	return s, true
}

func hashPairCode(code string) string {
	h := sha256.Sum256([]byte("berth-pair\x00" + code))
	return hex.EncodeToString(h[:])
}
