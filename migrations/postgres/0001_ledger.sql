-- The ledger as it was created before migrations: IF NOT EXISTS, so a
-- ledger made then opens unchanged.
CREATE TABLE IF NOT EXISTS ledger (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    entry_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
