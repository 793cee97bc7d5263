-- Who may reach a wiring's agent. members (the default, also for wirings
-- made before this migration): only users with a role, globally or in
-- the group. open: anyone who can post in the channel. approval: an
-- unknown sender's message is held until a group admin allows or denies.
ALTER TABLE wirings ADD COLUMN access TEXT NOT NULL DEFAULT 'members'
  CHECK (access IN ('members', 'open', 'approval'));

-- Messages from unknown senders held for a group admin's !allow or !deny
-- (approval access). inbound is the message as the adapter delivered it
-- (JSON), everything needed to route it once the sender is allowed.
CREATE TABLE held_messages (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_group_id TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
  channel_type   TEXT NOT NULL,
  platform_id    TEXT NOT NULL, -- the wired conversation (a Discord thread's parent)
  message_id     TEXT NOT NULL,
  sender_id      TEXT NOT NULL,
  sender_name    TEXT NOT NULL DEFAULT '',
  text           TEXT NOT NULL DEFAULT '', -- the first 200 characters, for !held
  inbound        TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  UNIQUE (agent_group_id, channel_type, platform_id, message_id)
);
CREATE INDEX held_by_sender ON held_messages (agent_group_id, sender_id);

-- Senders a group admin turned away with !deny: their later messages to
-- an approval wiring are dropped without asking again, until !allow.
CREATE TABLE denied_senders (
  agent_group_id TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
  user_id        TEXT NOT NULL,
  denied_by      TEXT NOT NULL DEFAULT '',
  denied_at      TEXT NOT NULL,
  PRIMARY KEY (agent_group_id, user_id)
);
