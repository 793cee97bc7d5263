-- The newest platform message berth accepted in each conversation, so
-- messages posted while berth was down can be fetched when it returns.
CREATE TABLE high_water (
  channel_type TEXT NOT NULL,
  platform_id  TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (channel_type, platform_id)
);
