-- REPLACE (and INSERT OR REPLACE, and an upsert's conflict resolution)
-- deletes the row it collides with without firing DELETE triggers, unless
-- recursive_triggers is on. BEFORE INSERT triggers fire before that
-- delete, so an insert must be the next entry: the seq after the head, the
-- head's hash as its previous hash, and a key not yet taken. This also
-- stops a gap or a wrong link being written by hand. The message's prefix
-- is how the service tells a lost race (another writer appended first)
-- from any other error, and retries.
CREATE TRIGGER ledger_append_only BEFORE INSERT ON ledger
WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM ledger), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE(
       (SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1),
       '0000000000000000000000000000000000000000000000000000000000000000')
  OR EXISTS (SELECT 1 FROM ledger WHERE entry_key = NEW.entry_key)
BEGIN SELECT RAISE(ABORT, 'ledger conflict: an entry must extend the head, under a key not yet taken'); END;

-- Which database this is: a random id, made once, recorded by the data
-- folder (database.toml). Never changes.
CREATE TABLE ledger_database (
    id TEXT NOT NULL PRIMARY KEY
);
INSERT INTO ledger_database (id) VALUES (lower(hex(randomblob(16))));

CREATE TRIGGER ledger_database_no_insert BEFORE INSERT ON ledger_database
WHEN (SELECT COUNT(*) FROM ledger_database) > 0
BEGIN SELECT RAISE(ABORT, 'the database id is set once'); END;
CREATE TRIGGER ledger_database_no_update BEFORE UPDATE ON ledger_database
BEGIN SELECT RAISE(ABORT, 'the database id is set once'); END;
CREATE TRIGGER ledger_database_no_delete BEFORE DELETE ON ledger_database
BEGIN SELECT RAISE(ABORT, 'the database id is set once'); END;
