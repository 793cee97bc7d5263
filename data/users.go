package data

import (
	"context"
	"fmt"
	"time"
)

// RoleName is a role a user can hold.
type RoleName string

// Roles, strongest first.
const (
	RoleOwner  RoleName = "owner"
	RoleAdmin  RoleName = "admin"
	RoleMember RoleName = "member"
)

// User is a person on one platform; ID is "slack:U123", "discord:123" or "terminal:local".
type User struct {
	ID          string
	DisplayName string
	CreatedAt   time.Time
}

// Role is one grant: a role, global (GroupID "") or scoped to one agent group.
type Role struct {
	UserID    string
	Role      RoleName
	GroupID   string
	GrantedBy string
	GrantedAt time.Time
}

// EnsureUser records a user, updating the display name when one is given.
func (s *Store) EnsureUser(ctx context.Context, id, displayName string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, display_name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET display_name = CASE WHEN excluded.display_name = '' THEN users.display_name ELSE excluded.display_name END`,
		id, displayName, now())
	if err != nil {
		return fmt.Errorf("ensure user %s: %w", id, err)
	}
	return nil
}

// Users lists known users.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, display_name, created_at FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created string
		if err := rows.Scan(&u.ID, &u.DisplayName, &created); err != nil {
			return nil, err
		}
		u.CreatedAt = parseTime(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// Grant gives a user a role; groupID "" is global. Owner is always global.
func (s *Store) Grant(ctx context.Context, r Role) error {
	if r.Role == RoleOwner {
		r.GroupID = ""
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO user_roles (user_id, role, agent_group_id, granted_by, granted_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, r.UserID, r.Role, r.GroupID, r.GrantedBy, now())
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", r.Role, r.UserID, err)
	}
	return nil
}

// Revoke removes a grant and reports whether one existed.
func (s *Store) Revoke(ctx context.Context, userID string, role RoleName, groupID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ? AND role = ? AND agent_group_id = ?`, userID, role, groupID)
	if err != nil {
		return false, fmt.Errorf("revoke %s from %s: %w", role, userID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Roles lists grants, of one user when userID is not empty.
func (s *Store) Roles(ctx context.Context, userID string) ([]Role, error) {
	q, args := `SELECT user_id, role, agent_group_id, granted_by, granted_at FROM user_roles`, []any{}
	if userID != "" {
		q, args = q+` WHERE user_id = ?`, append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY user_id, role, agent_group_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		var r Role
		var at string
		if err := rows.Scan(&r.UserID, &r.Role, &r.GroupID, &r.GrantedBy, &at); err != nil {
			return nil, err
		}
		r.GrantedAt = parseTime(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// HasOwner reports whether the install has an owner.
func (s *Store) HasOwner(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_roles WHERE role = 'owner'`).Scan(&n)
	return n > 0, err
}
