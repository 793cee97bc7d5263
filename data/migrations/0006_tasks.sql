-- Scheduled tasks (issue 16). A task belongs to the session it was
-- created in and to that session's conversation (channel_type,
-- platform_id, thread_id: where its runs' answers go). Times are UTC text
-- of fixed width (2006-01-02T15:04:05Z), so they sort as they compare;
-- '' is none.
CREATE TABLE tasks (
  id              TEXT PRIMARY KEY,           -- short and typeable: t7f3k2
  session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  agent_group_id  TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
  channel_type    TEXT NOT NULL,
  platform_id     TEXT NOT NULL,
  thread_id       TEXT NOT NULL DEFAULT '',
  prompt          TEXT NOT NULL,
  schedule_kind   TEXT NOT NULL CHECK (schedule_kind IN ('once', 'cron', 'interval')),
  schedule_expr   TEXT NOT NULL,              -- an RFC 3339 instant, a Go duration or a cron expression
  timezone        TEXT NOT NULL,              -- IANA name the schedule is read in
  created_by      TEXT NOT NULL DEFAULT '',   -- user id, slack:U123
  created_by_name TEXT NOT NULL DEFAULT '',
  created_via     TEXT NOT NULL CHECK (created_via IN ('chat', 'agent', 'cli')),
  state           TEXT NOT NULL DEFAULT 'active'
                  CHECK (state IN ('active', 'paused', 'done', 'failed', 'cancelled', 'missed')),
  next_run        TEXT NOT NULL DEFAULT '',
  last_run        TEXT NOT NULL DEFAULT '',
  last_result     TEXT NOT NULL DEFAULT '',
  failures        INTEGER NOT NULL DEFAULT 0, -- consecutive failed runs
  grace_seconds   INTEGER NOT NULL,           -- a run later than this is missed, never run
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX tasks_due ON tasks (state, next_run);
CREATE INDEX tasks_by_session ON tasks (session_id, state);
CREATE INDEX tasks_by_group ON tasks (agent_group_id, state);

-- One row per due time a task reached, recorded (claimed) in the same
-- transaction that moves the task's next_run on, and before its inbound
-- row is written: the row's id is derived from (task_id, due), so a crash
-- or a second gateway can never run a due time twice.
CREATE TABLE task_runs (
  task_id     TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  due         TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('claimed', 'fired', 'completed', 'failed', 'cancelled', 'missed')),
  session_id  TEXT NOT NULL DEFAULT '',   -- where it was fired
  message_id  TEXT NOT NULL DEFAULT '',   -- its inbound.db row
  outcome     TEXT NOT NULL DEFAULT '',
  claimed_at  TEXT NOT NULL,
  finished_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (task_id, due)
);
CREATE INDEX task_runs_open ON task_runs (state);
