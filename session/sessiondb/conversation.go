package sessiondb

import (
	"context"
	"database/sql"
	"path/filepath"
)

// Address is where a message goes on its platform.
type Address struct{ ChannelType, PlatformID, ThreadID string }

// InConversation reports whether a reply addressed to a stays in the
// session's own conversation: the address berth gave the session when it
// created it, or the address of a
// message berth itself wrote for it. Both come from inbound.db, which only
// berth writes, so the agent cannot widen the set; a reply addressed
// anywhere else (another channel, another DM) must not be delivered.
func (h Host) InConversation(ctx context.Context, a Address) (bool, error) {
	var ok bool
	err := withRead(ctx, h.InboundPath(), func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT
			EXISTS (SELECT 1 FROM session_routing WHERE channel_type = ?1 AND platform_id = ?2 AND thread_id = ?3)
			OR EXISTS (SELECT 1 FROM messages_in WHERE kind != 'system' AND channel_type = ?1 AND platform_id = ?2 AND thread_id = ?3)`,
			a.ChannelType, a.PlatformID, a.ThreadID).Scan(&ok)
	})
	return ok, err
}

// Routing reads the address berth gave the session when it created it.
func (h Host) Routing(ctx context.Context) (channelType, platformID, threadID string, err error) {
	return Container{InDir: filepath.Join(h.Dir, InDir)}.Routing(ctx)
}
