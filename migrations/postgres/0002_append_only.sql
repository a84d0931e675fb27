-- History cannot be changed, even by the table's owner, without dropping
-- these triggers first; the service connects as a role that may only
-- INSERT and SELECT, and cannot drop them (see the README).
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END
$$;

CREATE TRIGGER ledger_no_update_or_delete BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- An insert must be the next entry: the seq after the head and the head's
-- hash as its previous hash, so a gap or a wrong link cannot be written by
-- hand. Two writers that read the same head both pass when neither has
-- committed (the primary key then stops the second); when one has, the
-- other is stopped here. The message's prefix is how the service tells
-- that lost race from any other error, and retries.
CREATE FUNCTION ledger_check_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq BIGINT := 0;
    head_hash TEXT := repeat('0', 64);
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM ledger ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    IF NEW.seq IS DISTINCT FROM head_seq + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
        RAISE EXCEPTION 'ledger conflict: an entry must extend the head (entry %), not be entry % after %',
            head_seq, NEW.seq, NEW.prev_hash;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ledger_append_only BEFORE INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_check_append();

-- Which database this is: a random id, made once, recorded by the data
-- folder (database.toml). Never changes.
CREATE TABLE ledger_database (
    id TEXT NOT NULL PRIMARY KEY,
    one_row BOOLEAN NOT NULL DEFAULT TRUE UNIQUE CHECK (one_row)
);
INSERT INTO ledger_database (id) VALUES (replace(gen_random_uuid()::text, '-', ''));

CREATE TRIGGER ledger_database_no_change BEFORE UPDATE OR DELETE ON ledger_database
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_database_no_truncate BEFORE TRUNCATE ON ledger_database
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
