-- The content-addressed store (src/store/): pool snapshots and other files,
-- cut into content-defined chunks that are stored once and shared.
-- Hashes are SHA-256, written as 64 lowercase hex characters like the ledger's.

-- One row per distinct chunk, named by the SHA-256 of its raw bytes.
-- codec 0: data is the raw bytes; codec 1: data is one zstd frame.
CREATE TABLE IF NOT EXISTS store_chunks (
    hash TEXT PRIMARY KEY,
    raw_len BIGINT NOT NULL,
    codec BIGINT NOT NULL,
    data BYTEA NOT NULL
);

-- One row per distinct file content, named by the SHA-256 of the whole file.
-- chunks: the 32-byte chunk hashes, in file order, concatenated.
CREATE TABLE IF NOT EXISTS store_files (
    hash TEXT PRIMARY KEY,
    len BIGINT NOT NULL,
    chunk_count BIGINT NOT NULL,
    chunks BYTEA NOT NULL
);

-- A snapshot: a set of named files under the snapshot's combined hash
-- (for pools, the combined snapshot hash of docs/ALGORITHM.md).
CREATE TABLE IF NOT EXISTS store_snapshots (
    hash TEXT PRIMARY KEY,
    file_count BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS store_snapshot_files (
    snapshot_hash TEXT NOT NULL REFERENCES store_snapshots (hash),
    name TEXT NOT NULL,
    file_hash TEXT NOT NULL REFERENCES store_files (hash),
    PRIMARY KEY (snapshot_hash, name)
);
