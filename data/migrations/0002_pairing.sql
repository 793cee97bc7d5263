-- One-time codes that claim ownership of the install (`berth pair`).
-- Only a hash of each code is kept.
CREATE TABLE pairing_codes (
  code_hash  TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at    TEXT NOT NULL DEFAULT '',
  used_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pairing_by_expiry ON pairing_codes (expires_at);
