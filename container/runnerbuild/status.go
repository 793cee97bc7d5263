package runnerbuild

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/data/paths"
)

// Status is a group's runner as the gateway last chose it, kept for
// berth groups show.
type Status struct {
	State   State     `json:"state"`
	Hash    string    `json:"hash,omitempty"` // the group source's hash
	Key     string    `json:"key,omitempty"`
	Problem string    `json:"problem,omitempty"`
	At      time.Time `json:"at"`
}

// record keeps c as the group's status when it changed.
func (b *Builder) record(folder string, c Choice) {
	st := Status{State: c.State, Hash: c.Hash, Key: c.Key, Problem: c.Problem}
	b.mu.Lock()
	prev, ok := b.last[folder]
	b.last[folder] = st
	b.mu.Unlock()
	if ok && prev == st {
		return
	}
	st.At = time.Now().UTC()
	if err := WriteStatus(b.cfg.Home, folder, st); err != nil {
		b.cfg.Log.Warn("runner build: record status", "group", folder, "err", err)
	}
}

// WriteStatus replaces the group's recorded runner status.
func WriteStatus(home paths.Home, folder string, st Status) error {
	root := home.Runners(folder)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(root, "status-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(root, statusFile))
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}

// ReadStatus is the group's recorded runner status; ok is false when the
// gateway has recorded none.
func ReadStatus(home paths.Home, folder string) (st Status, ok bool, err error) {
	s, err := readBounded(filepath.Join(home.Runners(folder), statusFile), 16<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("read the group's runner status: %w", err)
	}
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return Status{}, false, fmt.Errorf("read the group's runner status: %w", err)
	}
	return st, true, nil
}
