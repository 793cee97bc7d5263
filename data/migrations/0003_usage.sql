-- Model tokens (and cost, where the provider reports it) per agent group
-- per UTC day, counted by the credential proxy.
CREATE TABLE usage (
  group_folder  TEXT NOT NULL,
  day           TEXT NOT NULL,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (group_folder, day)
);
