CREATE TABLE agent_groups (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  folder           TEXT NOT NULL UNIQUE,
  is_admin         INTEGER NOT NULL DEFAULT 0,
  provider         TEXT NOT NULL DEFAULT '',
  model            TEXT NOT NULL DEFAULT '',
  container_config TEXT NOT NULL DEFAULT '{}',
  created_at       TEXT NOT NULL
);

CREATE TABLE messaging_groups (
  id           TEXT PRIMARY KEY,
  channel_type TEXT NOT NULL,
  platform_id  TEXT NOT NULL,
  name         TEXT NOT NULL DEFAULT '',
  is_dm        INTEGER NOT NULL DEFAULT 0,
  created_at   TEXT NOT NULL,
  UNIQUE (channel_type, platform_id)
);

CREATE TABLE wirings (
  id                 TEXT PRIMARY KEY,
  messaging_group_id TEXT NOT NULL REFERENCES messaging_groups(id) ON DELETE CASCADE,
  agent_group_id     TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
  engage             TEXT NOT NULL CHECK (engage IN ('mention', 'mention-sticky', 'pattern')),
  pattern            TEXT NOT NULL DEFAULT '',
  ignored            TEXT NOT NULL DEFAULT 'drop' CHECK (ignored IN ('drop', 'accumulate')),
  session_mode       TEXT NOT NULL CHECK (session_mode IN ('shared', 'per-thread', 'agent-shared')),
  created_at         TEXT NOT NULL,
  UNIQUE (messaging_group_id, agent_group_id)
);

CREATE TABLE users (
  id           TEXT PRIMARY KEY,
  display_name TEXT NOT NULL DEFAULT '',
  created_at   TEXT NOT NULL
);

CREATE TABLE user_roles (
  user_id        TEXT NOT NULL,
  role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  agent_group_id TEXT NOT NULL DEFAULT '',
  granted_by     TEXT NOT NULL DEFAULT '',
  granted_at     TEXT NOT NULL,
  PRIMARY KEY (user_id, role, agent_group_id)
);

CREATE TABLE sessions (
  id                 TEXT PRIMARY KEY,
  agent_group_id     TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
  messaging_group_id TEXT NOT NULL DEFAULT '',
  thread_id          TEXT NOT NULL DEFAULT '',
  status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
  container_state    TEXT NOT NULL DEFAULT 'stopped'
                     CHECK (container_state IN ('stopped', 'starting', 'running', 'stopping')),
  container_id       TEXT NOT NULL DEFAULT '',
  last_active        TEXT NOT NULL,
  created_at         TEXT NOT NULL
);
CREATE INDEX sessions_by_conversation ON sessions (messaging_group_id, thread_id);
CREATE INDEX sessions_by_group ON sessions (agent_group_id, status);

CREATE TABLE dropped_messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  channel_type TEXT NOT NULL,
  platform_id  TEXT NOT NULL,
  thread_id    TEXT NOT NULL DEFAULT '',
  message_id   TEXT NOT NULL DEFAULT '',
  sender_id    TEXT NOT NULL DEFAULT '',
  reason       TEXT NOT NULL,
  text         TEXT NOT NULL DEFAULT '',
  created_at   TEXT NOT NULL
);
CREATE INDEX dropped_by_time ON dropped_messages (created_at);

-- Every platform message berth has accepted, so a redelivery after a
-- restart is recognised and not answered twice.
CREATE TABLE seen_messages (
  channel_type TEXT NOT NULL,
  platform_id  TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  seen_at      TEXT NOT NULL,
  PRIMARY KEY (channel_type, platform_id, message_id)
);
