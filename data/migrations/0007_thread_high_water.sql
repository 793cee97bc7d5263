-- The newest platform message berth accepted in each thread of a
-- conversation, so replies posted in a thread while berth was away or
-- deaf are fetched when it returns (a channel's history may leave thread
-- replies out, as Slack's does). platform_id is the wired channel.
CREATE TABLE thread_high_water (
  channel_type TEXT NOT NULL,
  platform_id  TEXT NOT NULL,
  thread_id    TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (channel_type, platform_id, thread_id)
);
CREATE INDEX thread_high_water_by_time ON thread_high_water (channel_type, platform_id, updated_at);
