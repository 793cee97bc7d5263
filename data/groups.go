package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// AgentGroup is an agent: a folder on disk, a provider and container settings.
type AgentGroup struct {
	ID              string
	Name            string
	Folder          string
	IsAdmin         bool
	Provider        string // "" = the install's default
	Model           string
	ContainerConfig string // JSON; read only through groups.LoadConfig
	CreatedAt       time.Time
}

// ErrExists is returned when creating a row whose unique key is taken.
var ErrExists = errors.New("already exists")

// CreateGroup inserts g, filling ID and CreatedAt when empty.
func (s *Store) CreateGroup(ctx context.Context, g *AgentGroup) error {
	if g.ID == "" {
		g.ID = NewID()
	}
	if g.ContainerConfig == "" {
		g.ContainerConfig = "{}"
	}
	g.CreatedAt = time.Now().UTC()
	_, err := s.db.ExecContext(ctx, `INSERT INTO agent_groups (id, name, folder, is_admin, provider, model, container_config, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, g.ID, g.Name, g.Folder, boolInt(g.IsAdmin), g.Provider, g.Model, g.ContainerConfig,
		g.CreatedAt.Format(time.RFC3339Nano))
	if isConstraint(err, sqlite3.ErrConstraintUnique) {
		return fmt.Errorf("create group %s: %w", g.Folder, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create group %s: %w", g.Folder, err)
	}
	return nil
}

const groupCols = `id, name, folder, is_admin, provider, model, container_config, created_at`

func scanGroup(row interface{ Scan(...any) error }) (AgentGroup, error) {
	var g AgentGroup
	var admin int
	var created string
	err := row.Scan(&g.ID, &g.Name, &g.Folder, &admin, &g.Provider, &g.Model, &g.ContainerConfig, &created)
	g.IsAdmin = admin != 0
	g.CreatedAt = parseTime(created)
	return g, err
}

// Group returns the group with the given id or folder name.
func (s *Store) Group(ctx context.Context, idOrFolder string) (AgentGroup, error) {
	g, err := scanGroup(s.db.QueryRowContext(ctx, `SELECT `+groupCols+` FROM agent_groups WHERE id = ? OR folder = ? ORDER BY id = ? DESC LIMIT 1`,
		idOrFolder, idOrFolder, idOrFolder))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("group %q: %w", idOrFolder, ErrNotFound)
	}
	return g, err
}

// Groups lists all agent groups by folder.
func (s *Store) Groups(ctx context.Context) ([]AgentGroup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+groupCols+` FROM agent_groups ORDER BY folder`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AgentGroup
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// UpdateGroupConfig sets a group's provider, model and container config.
func (s *Store) UpdateGroupConfig(ctx context.Context, id, provider, model, containerConfig string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE agent_groups SET provider = ?, model = ?, container_config = ? WHERE id = ?`,
		provider, model, containerConfig, id)
	return err
}

// ErrChanged is returned by SwapGroupConfig when the row is no longer the
// one the change was computed from.
var ErrChanged = errors.New("changed meanwhile")

// SwapGroupConfig sets a group's provider, model and container config to
// those of to, if they are still those of from: two writers (the CLI and a
// chat command) never lose each other's change. ErrChanged: they are not.
func (s *Store) SwapGroupConfig(ctx context.Context, from, to AgentGroup) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agent_groups SET provider = ?, model = ?, container_config = ?
		WHERE id = ? AND provider = ? AND model = ? AND container_config = ?`,
		to.Provider, to.Model, to.ContainerConfig, from.ID, from.Provider, from.Model, from.ContainerConfig)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrChanged
	}
	return nil
}

// DeleteGroup removes a group with its wirings and sessions rows. Its
// folder on disk is left for the operator.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM agent_groups WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete group %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete group %s: %w", id, ErrNotFound)
	}
	return nil
}
