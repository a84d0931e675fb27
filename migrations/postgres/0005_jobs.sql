-- The operator's long operations (announce, draw, ad-hoc draw, substitute,
-- verify) run as jobs detached from their request (src/service/jobs.rs);
-- a row says how one is going and how it ended, so that any instance on the
-- database answers for any job.
--
-- Jobs are not history: a row is updated as its job runs (state, step,
-- heartbeat, outcome), so unlike the ledger and the tables beside it this
-- table has no append-only triggers, and the service role may UPDATE it.
-- What a job did is whatever the ledger recorded; a row only reports it.
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    -- queued, running, succeeded or failed; a queued or running job whose
    -- heartbeat stopped is reported as abandoned.
    state TEXT NOT NULL,
    step TEXT NOT NULL,
    -- The instance running it, a random id per process.
    instance TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    -- Milliseconds since 1970 on the running instance's clock, renewed
    -- while the job runs.
    heartbeat_ms BIGINT NOT NULL,
    -- The HTTP status and JSON body the request would have answered.
    status BIGINT,
    outcome TEXT
);
