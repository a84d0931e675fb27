-- What a ledger entry makes true besides itself, written in the entry's own
-- transaction (src/records.rs). Each row names a file in the store (0003) by
-- its content hash; the content is stored before the transaction, so a
-- crash leaves either the entry with everything it names, or neither (and
-- at most some content nothing names yet).

-- A published bundle's files as of an entry: a draw records all of them, a
-- substitution its substitution lists, a results notice its results. The
-- bundle as served holds, for each path, the row with the highest entry_seq.
CREATE TABLE bundle_files (
    bundle TEXT NOT NULL,
    path TEXT NOT NULL,
    entry_seq BIGINT NOT NULL REFERENCES ledger (seq),
    file_hash TEXT NOT NULL REFERENCES store_files (hash),
    PRIMARY KEY (bundle, path, entry_seq)
);
CREATE INDEX bundle_files_by_seq ON bundle_files (entry_seq);

-- Confidential files the service keeps and never serves: commit–reveal
-- secrets until their reveal, substitution notes for auditors.
CREATE TABLE private_files (
    name TEXT NOT NULL PRIMARY KEY,
    entry_seq BIGINT NOT NULL REFERENCES ledger (seq),
    file_hash TEXT NOT NULL REFERENCES store_files (hash)
);

-- Only ever added to, like the ledger (the function is 0002's).
CREATE TRIGGER bundle_files_no_update_or_delete BEFORE UPDATE OR DELETE ON bundle_files
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER bundle_files_no_truncate BEFORE TRUNCATE ON bundle_files
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER private_files_no_update_or_delete BEFORE UPDATE OR DELETE ON private_files
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER private_files_no_truncate BEFORE TRUNCATE ON private_files
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
