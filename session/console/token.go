package console

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/data/paths"
)

// TokenPrefix starts every console token, so that it is recognisable for
// what it is (in a password manager, to a secret scanner).
const TokenPrefix = "berth_console_"

// tokenBytes is the token's randomness: 256 bits.
const tokenBytes = 32

// hashPrefix names the hash in the token file, so that another may follow.
const hashPrefix = "sha256:"

// ErrNoToken means the install has no console token yet.
var ErrNoToken = errors.New("no console token: run berth console token")

// NewToken makes a new random console token for the install at home and
// stores its SHA-256 hash (never the token) in home's ConsoleToken file,
// readable by its owner only, replacing the one before: a token rotated
// stops working at once, in a running gateway too. It returns the token,
// which is shown once.
func NewToken(home paths.Home) (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make console token: %w", err)
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(tok))
	path := home.ConsoleToken()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("store console token: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".console.token-*")
	if err != nil {
		return "", fmt.Errorf("store console token: %w", err)
	}
	_, werr := tmp.WriteString(hashPrefix + hex.EncodeToString(sum[:]) + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Close()); err != nil {
		return "", errors.Join(fmt.Errorf("store console token: %w", err), os.Remove(tmp.Name()))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", errors.Join(fmt.Errorf("store console token: %w", err), os.Remove(tmp.Name()))
	}
	return tok, nil
}

// HasToken reports whether the install at home has a console token.
func HasToken(home paths.Home) (bool, error) {
	_, err := readTokenHash(home)
	if errors.Is(err, ErrNoToken) {
		return false, nil
	}
	return err == nil, err
}

// readTokenHash reads the stored hash of the install's token; ErrNoToken
// when there is none.
func readTokenHash(home paths.Home) ([]byte, error) {
	b, err := os.ReadFile(home.ConsoleToken())
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoToken
	}
	if err != nil {
		return nil, fmt.Errorf("read console token: %w", err)
	}
	h, ok := strings.CutPrefix(string(bytes.TrimSpace(b)), hashPrefix)
	sum, derr := hex.DecodeString(h)
	if !ok || derr != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("read console token: %s is not a token hash (berth console token --rotate writes a new one)", home.ConsoleToken())
	}
	return sum, nil
}

// tokenMatches reports whether tok hashes to hash, in constant time.
func tokenMatches(tok string, hash []byte) bool {
	if tok == "" || len(hash) != sha256.Size {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], hash) == 1
}
