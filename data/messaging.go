package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// MessagingGroup is one place people talk: a Slack channel, a Discord
// channel or a DM.
type MessagingGroup struct {
	ID          string
	ChannelType string
	PlatformID  string
	Name        string
	IsDM        bool
	CreatedAt   time.Time
}

// Engage is a wiring's rule for which messages wake its agent.
type Engage string

// Engage rules of a wiring.
const (
	EngageMention       Engage = "mention"        // only when the bot is addressed
	EngageMentionSticky Engage = "mention-sticky" // a mention, then every message of a thread that has a session
	EngagePattern       Engage = "pattern"        // text matches Wiring.Pattern ("." = everything)
)

// SessionMode is a wiring's rule for which conversation maps to which session.
type SessionMode string

// Session modes of a wiring.
const (
	SessionShared      SessionMode = "shared"       // one session per channel
	SessionPerThread   SessionMode = "per-thread"   // one session per thread
	SessionAgentShared SessionMode = "agent-shared" // one session for the whole agent group
)

// Ignored is what a wiring does with a message that does not engage its agent.
type Ignored string

// What a wiring does with messages that do not engage.
const (
	IgnoredDrop       Ignored = "drop"       // forget it (the default)
	IgnoredAccumulate Ignored = "accumulate" // keep it as context for the next message that engages
)

// Access is who may reach a wiring's agent.
type Access string

// Access policies of a wiring.
const (
	AccessMembers  Access = "members"  // only users with a role, globally or in the group (the default)
	AccessOpen     Access = "open"     // anyone who can post in the channel
	AccessApproval Access = "approval" // unknown senders are held until a group admin allows them
)

// Accesses are the access policies, in the order refusals name them.
var Accesses = []Access{AccessMembers, AccessOpen, AccessApproval}

// Wiring connects a messaging group to an agent group.
type Wiring struct {
	ID               string
	MessagingGroupID string
	AgentGroupID     string
	Engage           Engage
	Pattern          string
	Ignored          Ignored // "" is written as IgnoredDrop
	SessionMode      SessionMode
	Access           Access // "" is written as AccessMembers
	CreatedAt        time.Time
}

// EnsureMessagingGroup returns the messaging group for (channelType,
// platformID), creating it if it does not exist.
func (s *Store) EnsureMessagingGroup(ctx context.Context, channelType, platformID, name string, isDM bool) (MessagingGroup, error) {
	_, err := s.db.ExecContext(ctx, `INSERT INTO messaging_groups (id, channel_type, platform_id, name, is_dm, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_type, platform_id) DO NOTHING`,
		NewID(), channelType, platformID, name, boolInt(isDM), now())
	if err != nil {
		return MessagingGroup{}, fmt.Errorf("ensure messaging group %s:%s: %w", channelType, platformID, err)
	}
	return s.MessagingGroup(ctx, channelType, platformID)
}

const mgCols = `id, channel_type, platform_id, name, is_dm, created_at`

func scanMG(row interface{ Scan(...any) error }) (MessagingGroup, error) {
	var m MessagingGroup
	var dm int
	var created string
	err := row.Scan(&m.ID, &m.ChannelType, &m.PlatformID, &m.Name, &dm, &created)
	m.IsDM = dm != 0
	m.CreatedAt = parseTime(created)
	return m, err
}

// MessagingGroup looks up a messaging group by platform address.
func (s *Store) MessagingGroup(ctx context.Context, channelType, platformID string) (MessagingGroup, error) {
	m, err := scanMG(s.db.QueryRowContext(ctx, `SELECT `+mgCols+` FROM messaging_groups WHERE channel_type = ? AND platform_id = ?`,
		channelType, platformID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("messaging group %s:%s: %w", channelType, platformID, ErrNotFound)
	}
	return m, err
}

// MessagingGroupByID looks up a messaging group by id.
func (s *Store) MessagingGroupByID(ctx context.Context, id string) (MessagingGroup, error) {
	m, err := scanMG(s.db.QueryRowContext(ctx, `SELECT `+mgCols+` FROM messaging_groups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("messaging group %s: %w", id, ErrNotFound)
	}
	return m, err
}

// MessagingGroups lists all messaging groups.
func (s *Store) MessagingGroups(ctx context.Context) ([]MessagingGroup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+mgCols+` FROM messaging_groups ORDER BY channel_type, platform_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MessagingGroup
	for rows.Next() {
		m, err := scanMG(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Wire creates or replaces the wiring of w.MessagingGroupID to w.AgentGroupID.
func (s *Store) Wire(ctx context.Context, w *Wiring) error {
	if w.ID == "" {
		w.ID = NewID()
	}
	if w.Ignored == "" {
		w.Ignored = IgnoredDrop
	}
	if w.Access == "" {
		w.Access = AccessMembers
	}
	w.CreatedAt = time.Now().UTC()
	_, err := s.db.ExecContext(ctx, `INSERT INTO wirings (id, messaging_group_id, agent_group_id, engage, pattern, ignored, session_mode, access, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (messaging_group_id, agent_group_id) DO UPDATE SET
		engage = excluded.engage, pattern = excluded.pattern, ignored = excluded.ignored, session_mode = excluded.session_mode,
		access = excluded.access`,
		w.ID, w.MessagingGroupID, w.AgentGroupID, w.Engage, w.Pattern, w.Ignored, w.SessionMode, string(w.Access), w.CreatedAt.Format(time.RFC3339Nano))
	if err != nil {
		if isConstraint(err, sqlite3.ErrConstraintCheck) {
			return fmt.Errorf("wire: invalid engage %q, session mode %q or access %q", w.Engage, w.SessionMode, w.Access)
		}
		return fmt.Errorf("wire %s to %s: %w", w.MessagingGroupID, w.AgentGroupID, err)
	}
	return nil
}

// Unwire removes wirings of a messaging group: to one agent group, or all
// when agentGroupID is empty. It reports how many it removed.
func (s *Store) Unwire(ctx context.Context, messagingGroupID, agentGroupID string) (int, error) {
	q, args := `DELETE FROM wirings WHERE messaging_group_id = ?`, []any{messagingGroupID}
	if agentGroupID != "" {
		q, args = q+` AND agent_group_id = ?`, append(args, agentGroupID)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("unwire %s: %w", messagingGroupID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

const wiringCols = `id, messaging_group_id, agent_group_id, engage, pattern, ignored, session_mode, access, created_at`

// Wirings lists wirings, of one messaging group when mgID is not empty.
func (s *Store) Wirings(ctx context.Context, mgID string) ([]Wiring, error) {
	q, args := `SELECT `+wiringCols+` FROM wirings`, []any{}
	if mgID != "" {
		q, args = q+` WHERE messaging_group_id = ?`, append(args, mgID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Wiring
	for rows.Next() {
		var w Wiring
		var created string
		if err := rows.Scan(&w.ID, &w.MessagingGroupID, &w.AgentGroupID, &w.Engage, &w.Pattern, &w.Ignored, &w.SessionMode, &w.Access, &created); err != nil {
			return nil, err
		}
		w.CreatedAt = parseTime(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

// Dropped is a message berth decided not to route, and why.
type Dropped struct {
	ID          int64
	ChannelType string
	PlatformID  string
	ThreadID    string
	MessageID   string
	SenderID    string
	Reason      string
	Text        string // the first 200 characters
	CreatedAt   time.Time
}

// RecordDropped stores a dropped message.
func (s *Store) RecordDropped(ctx context.Context, d Dropped) error {
	if r := []rune(d.Text); len(r) > 200 {
		d.Text = string(r[:200])
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO dropped_messages (channel_type, platform_id, thread_id, message_id, sender_id, reason, text, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.ChannelType, d.PlatformID, d.ThreadID, d.MessageID, d.SenderID, d.Reason, d.Text, now())
	return err
}

// DroppedMessages lists the most recent dropped messages, newest first.
func (s *Store) DroppedMessages(ctx context.Context, limit int) ([]Dropped, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, channel_type, platform_id, thread_id, message_id, sender_id, reason, text, created_at
		FROM dropped_messages ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Dropped
	for rows.Next() {
		var d Dropped
		var created string
		if err := rows.Scan(&d.ID, &d.ChannelType, &d.PlatformID, &d.ThreadID, &d.MessageID, &d.SenderID, &d.Reason, &d.Text, &created); err != nil {
			return nil, err
		}
		d.CreatedAt = parseTime(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkSeen records that a platform message was accepted. It reports false
// when the message had been seen before.
func (s *Store) MarkSeen(ctx context.Context, channelType, platformID, messageID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO seen_messages (channel_type, platform_id, message_id, seen_at)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, channelType, platformID, messageID, now())
	if err != nil {
		return false, fmt.Errorf("mark seen %s:%s:%s: %w", channelType, platformID, messageID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Seen reports whether a platform message was accepted before.
func (s *Store) Seen(ctx context.Context, channelType, platformID, messageID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM seen_messages WHERE channel_type = ? AND platform_id = ? AND message_id = ?`,
		channelType, platformID, messageID).Scan(&n)
	return n > 0, err
}
