package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ContainerState is where a session's container stands, as the store
// records it (what `berth status` shows; berth acts on the engine's word).
type ContainerState string

// Container states a session moves through.
const (
	ContainerStopped  ContainerState = "stopped"
	ContainerStarting ContainerState = "starting"
	ContainerRunning  ContainerState = "running"
	ContainerStopping ContainerState = "stopping"
)

// SessionStatus is whether a session still takes messages.
type SessionStatus string

// Session statuses.
const (
	SessionActive SessionStatus = "active" // the conversation's current session
	SessionClosed SessionStatus = "closed" // ended; the conversation's next message starts a new one
)

// Session is one conversation with one agent group.
type Session struct {
	ID               string
	AgentGroupID     string
	MessagingGroupID string
	ThreadID         string
	Status           SessionStatus
	ContainerState   ContainerState
	ContainerID      string
	LastActive       time.Time
	CreatedAt        time.Time
}

const sessionCols = `id, agent_group_id, messaging_group_id, thread_id, status, container_state, container_id, last_active, created_at`

func scanSession(row interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var last, created string
	err := row.Scan(&s.ID, &s.AgentGroupID, &s.MessagingGroupID, &s.ThreadID, &s.Status, &s.ContainerState, &s.ContainerID, &last, &created)
	s.LastActive, s.CreatedAt = parseTime(last), parseTime(created)
	return s, err
}

// ResolveSession finds the active session k names, creating it when there
// is none. It reports whether it created one. Lookup and creation are one
// transaction, so concurrent messages of one conversation agree on one
// session.
func (s *Store) ResolveSession(ctx context.Context, k SessionKey) (Session, bool, error) {
	q, args, err := k.where()
	if err != nil {
		return Session{}, false, fmt.Errorf("resolve session: %w", err)
	}
	var out Session
	var created bool
	err = s.tx(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE status = 'active' AND `+q+
			` ORDER BY created_at DESC LIMIT 1`, args...)
		sess, err := scanSession(row)
		if err == nil {
			out = sess
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		t := now()
		out = Session{ID: NewID(), AgentGroupID: k.AgentGroupID, MessagingGroupID: k.MessagingGroupID, ThreadID: k.ThreadID,
			Status: SessionActive, ContainerState: ContainerStopped, LastActive: parseTime(t), CreatedAt: parseTime(t)}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (id, agent_group_id, messaging_group_id, thread_id, status, container_state, container_id, last_active, created_at)
			VALUES (?, ?, ?, ?, 'active', 'stopped', '', ?, ?)`, out.ID, k.AgentGroupID, k.MessagingGroupID, k.ThreadID, t, t)
		return err
	})
	if err != nil {
		return Session{}, false, fmt.Errorf("resolve session for group %s: %w", k.AgentGroupID, err)
	}
	return out, created, nil
}

// KeyedSession returns the active session k names, the one ResolveSession
// would, without creating one; ErrNotFound when there is none.
func (s *Store) KeyedSession(ctx context.Context, k SessionKey) (Session, error) {
	q, args, err := k.where()
	if err != nil {
		return Session{}, fmt.Errorf("find session: %w", err)
	}
	sess, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE status = 'active' AND `+q+
		` ORDER BY created_at DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return sess, fmt.Errorf("find session for group %s: %w", k.AgentGroupID, err)
	}
	return sess, nil
}

// FindSession returns the active session of a conversation, if any, without creating one.
func (s *Store) FindSession(ctx context.Context, agentGroupID, messagingGroupID, threadID string) (Session, error) {
	sess, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE status = 'active'
		AND agent_group_id = ? AND messaging_group_id = ? AND thread_id = ? ORDER BY created_at DESC LIMIT 1`,
		agentGroupID, messagingGroupID, threadID))
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("session: %w", ErrNotFound)
	}
	return sess, err
}

// Session returns a session by id (or unique id prefix).
func (s *Store) Session(ctx context.Context, id string) (Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ? OR id LIKE ? || '%' ORDER BY id = ? DESC LIMIT 2`, id, id, id)
	if err != nil {
		return Session{}, err
	}
	defer rows.Close()
	var found []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return Session{}, err
		}
		found = append(found, sess)
	}
	switch {
	case len(found) == 0 || id == "":
		return Session{}, fmt.Errorf("session %q: %w", id, ErrNotFound)
	case len(found) > 1 && found[0].ID != id:
		return Session{}, fmt.Errorf("session %q: ambiguous prefix", id)
	}
	return found[0], nil
}

// SessionFilter narrows Sessions.
type SessionFilter struct {
	AgentGroupID string
	ActiveOnly   bool
}

// Sessions lists sessions, newest first.
func (s *Store) Sessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	q, args := `SELECT `+sessionCols+` FROM sessions WHERE 1=1`, []any{}
	if f.AgentGroupID != "" {
		q, args = q+` AND agent_group_id = ?`, append(args, f.AgentGroupID)
	}
	if f.ActiveOnly {
		q += ` AND status = 'active'`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// SetContainerState records what the session's container is doing.
func (s *Store) SetContainerState(ctx context.Context, sessionID string, state ContainerState, containerID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET container_state = ?, container_id = ? WHERE id = ?`, state, containerID, sessionID)
	if err != nil {
		return fmt.Errorf("set container state of session %s: %w", sessionID, err)
	}
	return nil
}

// TouchSession records activity on a session.
func (s *Store) TouchSession(ctx context.Context, sessionID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_active = ? WHERE id = ?`, now(), sessionID)
	return err
}

// CloseSession marks a session closed, so the conversation's next message
// starts a new one. Its folder is kept.
func (s *Store) CloseSession(ctx context.Context, sessionID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET status = 'closed' WHERE id = ?`, sessionID)
	return err
}
