//! The ledger: an append-only, hash-chained record of everything the service
//! does — pool snapshots registered, plans announced, draws made, and so on.
//!
//! Each entry's hash covers its content and the previous entry's hash, so
//! rewriting any past entry changes every hash after it: anyone who kept an
//! older head can tell. Entries are never updated or deleted; this module has
//! no code path that could, and the database refuses it too: the schema is
//! made by the migrations in `migrations/` (one folder per database), whose
//! triggers refuse UPDATE, DELETE, SQLite's `REPLACE` and PostgreSQL's
//! `TRUNCATE`, and any insert that does not extend the head. On PostgreSQL
//! the migrations run as the table's owner and the service may connect as a
//! role that can only INSERT and SELECT ([`Ledger::open_as`]).
//!
//! Each entry has a unique key, so an action that must happen once (a task's
//! draw, a scheduled occurrence) is claimed by inserting its entry, and a
//! second attempt — after a restart, or from another instance sharing the
//! database — finds the key taken.
//!
//! The database is reached through `sqlx`'s `Any` driver: SQLite by default
//! (`sqlite://…`), PostgreSQL by changing the URL (`postgres://…`).
//!
//! Each database also holds a random id, made once by the migrations
//! ([`Ledger::database_id`]): the data folder records it, so a folder is
//! never opened on another database that happens to be reachable at the
//! configured URL.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, Connection, Row};

pub use crate::records::Attached;
use crate::snapshot::Hash32;

const ENTRY_DOMAIN: &[u8] = b"shuangsui/v1/ledger";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("ledger database schema: {0}")]
    Migrate(#[from] MigrateError),
    /// The owner's URL and the service's reach different databases.
    #[error(
        "the migration database URL and the database URL reach different databases \
         (ids {owner} and {service}); they must name the same database, as two roles"
    )]
    TwoDatabases { owner: String, service: String },
    #[error("ledger entry {seq}: {message}")]
    Corrupt { seq: u64, message: String },
    /// What an entry names in the store could not be written or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Opening an existing ledger found no database file.
    #[error("no ledger database at {path}: not the service's data folder, or the service never started there")]
    Missing { path: String },
}

/// What kind of event an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    SnapshotRegistered,
    PlanAnnounced,
    DrawMade,
    OccurrenceSkipped,
    ResultRecorded,
    ResultsPublished,
    OfficerSubstituted,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SnapshotRegistered => "snapshot_registered",
            Kind::PlanAnnounced => "plan_announced",
            Kind::DrawMade => "draw_made",
            Kind::OccurrenceSkipped => "occurrence_skipped",
            Kind::ResultRecorded => "result_recorded",
            Kind::ResultsPublished => "results_published",
            Kind::OfficerSubstituted => "officer_substituted",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Kind::SnapshotRegistered,
            Kind::PlanAnnounced,
            Kind::DrawMade,
            Kind::OccurrenceSkipped,
            Kind::ResultRecorded,
            Kind::ResultsPublished,
            Kind::OfficerSubstituted,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key an entry claims. Its text is part of every entry's hash, so the
/// strings [`Key`]'s `Display` writes are the ledger format: an existing
/// ledger verifies only while they stay exactly as they are (pinned by the
/// `ledger_format` tests). Every key the service writes or looks up is built
/// here, never by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// `snapshot:HASH`: a pool snapshot registered (combined hash).
    Snapshot(&'a Hash32),
    /// `announce:TASK`.
    Announce(&'a str),
    /// `draw:TASK`: the task's draw, or the skip of a scheduled occurrence,
    /// which claims the same key so an occurrence is drawn or skipped, never
    /// both.
    Draw(&'a str),
    /// `substitute:TASK:N`: the task's N-th substitution.
    Substitute(&'a str, u32),
    /// `result:TASK:CREDIT_CODE`: one drawn business's result.
    Result(&'a str, &'a str),
    /// `results-notice:TASK:SEQ`: a results notice, named by the newest
    /// result entry it publishes.
    ResultsNotice(&'a str, u64),
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Snapshot(hash) => write!(f, "snapshot:{hash}"),
            Key::Announce(task) => write!(f, "announce:{task}"),
            Key::Draw(task) => write!(f, "draw:{task}"),
            Key::Substitute(task, n) => write!(f, "substitute:{task}:{n}"),
            Key::Result(task, credit_code) => write!(f, "result:{task}:{credit_code}"),
            Key::ResultsNotice(task, seq) => write!(f, "results-notice:{task}:{seq}"),
        }
    }
}

/// The content of one kind of entry. Each kind has exactly one payload type;
/// [`Ledger::append_typed`] writes it as compact JSON in the type's field
/// order, and that text is hashed as stored, so a payload type's serde shape
/// is ledger format too.
pub trait Payload: Serialize + for<'de> Deserialize<'de> {
    const KIND: Kind;
}

/// One ledger entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: u64,
    pub kind: Kind,
    /// Unique across the ledger: claims the action this entry records.
    pub key: String,
    /// The event's content as JSON text, hashed as stored.
    pub payload: String,
    /// RFC 3339, UTC+8.
    pub recorded_at: String,
    pub prev_hash: Hash32,
    pub hash: Hash32,
}

impl Entry {
    /// SHA-256 over the domain, the sequence number and every field, each
    /// length-prefixed, and the previous hash.
    pub fn compute_hash(seq: u64, kind: Kind, key: &str, payload: &str, recorded_at: &str, prev: &Hash32) -> Hash32 {
        let mut hasher = Sha256::new();
        hasher.update(ENTRY_DOMAIN);
        hasher.update(seq.to_be_bytes());
        for field in [kind.as_str(), key, payload, recorded_at] {
            hasher.update((field.len() as u32).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.update(prev.0);
        Hash32(hasher.finalize().into())
    }

    /// The entry's payload as its kind's type; an entry of another kind is
    /// a corrupt record where this one was expected.
    pub fn typed<P: Payload>(&self) -> Result<P, LedgerError> {
        if self.kind != P::KIND {
            return Err(LedgerError::Corrupt {
                seq: self.seq,
                message: format!("a {} entry where a {} entry was expected", self.kind, P::KIND),
            });
        }
        self.payload()
    }

    pub fn payload<T: for<'de> Deserialize<'de>>(&self) -> Result<T, LedgerError> {
        serde_json::from_str(&self.payload).map_err(|e| LedgerError::Corrupt {
            seq: self.seq,
            message: format!("payload: {e}"),
        })
    }
}

/// The newest entry's sequence number and hash: what the public keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash32,
}

impl Head {
    pub const GENESIS: Head = Head {
        seq: 0,
        hash: Hash32([0; 32]),
    };
}

/// Whether an append recorded a new entry or found its key already taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    New(Entry),
    Existing(Entry),
}

impl Appended {
    pub fn entry(&self) -> &Entry {
        match self {
            Appended::New(e) | Appended::Existing(e) => e,
        }
    }
}

#[derive(Clone)]
pub struct Ledger {
    pool: AnyPool,
    sqlite: bool,
}

/// The file of an SQLite URL (`sqlite://PATH?…` or `sqlite:PATH`).
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

/// The schema's migrations, in the binary. One list per database, since the
/// DDL differs; see `migrations/README.md`.
const SQLITE_MIGRATIONS: [(i64, &str, &str); 5] = [
    (1, "ledger", include_str!("../migrations/sqlite/0001_ledger.sql")),
    (
        2,
        "append only",
        include_str!("../migrations/sqlite/0002_append_only.sql"),
    ),
    (3, "store", include_str!("../migrations/sqlite/0003_store.sql")),
    (4, "records", include_str!("../migrations/sqlite/0004_records.sql")),
    (5, "jobs", include_str!("../migrations/sqlite/0005_jobs.sql")),
];
const POSTGRES_MIGRATIONS: [(i64, &str, &str); 5] = [
    (1, "ledger", include_str!("../migrations/postgres/0001_ledger.sql")),
    (
        2,
        "append only",
        include_str!("../migrations/postgres/0002_append_only.sql"),
    ),
    (3, "store", include_str!("../migrations/postgres/0003_store.sql")),
    (4, "records", include_str!("../migrations/postgres/0004_records.sql")),
    (5, "jobs", include_str!("../migrations/postgres/0005_jobs.sql")),
];

/// sqlx's migrator over one database's migrations. Built from the embedded
/// files rather than with `sqlx::migrate!`, which would need sqlx's
/// proc-macro crate for the same result (checksums are of the same SQL).
/// Locking stays on: on PostgreSQL the migrator holds an advisory lock, so
/// instances starting at once on an empty database migrate one at a time.
pub fn migrator(sqlite: bool) -> Migrator {
    let list = if sqlite {
        &SQLITE_MIGRATIONS
    } else {
        &POSTGRES_MIGRATIONS
    };
    let migrations = list
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// The prefix of the triggers' message for an insert that does not extend
/// the head: on a shared database another writer appended first, and the
/// append is retried like a taken seq.
const CONFLICT: &str = "ledger conflict";

async fn head_on(conn: &mut AnyConnection) -> Result<Head, LedgerError> {
    let row = sqlx::query("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        None => Ok(Head::GENESIS),
        Some(row) => {
            let seq = row.try_get::<i64, _>(0)? as u64;
            let hash = parse_hash(seq, &row.try_get::<String, _>(1)?)?;
            Ok(Head { seq, hash })
        }
    }
}

async fn by_key_on(conn: &mut AnyConnection, key: &str) -> Result<Option<Entry>, LedgerError> {
    let row = sqlx::query(&format!("{SELECT} WHERE entry_key = $1"))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| entry_from_row(&r)).transpose()
}

fn lost_race(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(e) => e.is_unique_violation() || e.message().contains(CONFLICT),
        _ => false,
    }
}

impl Ledger {
    /// Opens (creating if needed) the ledger at a database URL such as
    /// `sqlite:///var/lib/shuangsui/ledger.db?mode=rwc` or `postgres://…`,
    /// bringing its schema up to date as that same role.
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        Ledger::open_as(url, url).await
    }

    /// Migrates the database as `owner_url`'s role, then opens it as
    /// `url`'s. On PostgreSQL with two roles the owner grants the service
    /// role INSERT and SELECT on the ledger and SELECT on its id, nothing
    /// more, so the service cannot change history or drop the triggers that
    /// refuse it. Both URLs must reach the same database.
    pub async fn open_as(url: &str, owner_url: &str) -> Result<Ledger, LedgerError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let owner = if owner_url == url {
            None
        } else {
            let mut owner = AnyConnection::connect(owner_url).await?;
            migrator(sqlite).run_direct(&mut owner).await?;
            Some(owner)
        };
        // One writer connection for SQLite: appends are serialised anyway,
        // and SQLite's single writer would otherwise answer "busy".
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 8 })
            .connect(url)
            .await?;
        let ledger = Ledger { pool, sqlite };
        match owner {
            None => ledger.migrate().await?,
            Some(mut owner) => {
                let result = ledger.grant_from(&mut owner).await;
                owner.close().await?;
                result?;
            }
        }
        // Write-ahead logging, kept in the file: a reader then never waits for
        // a writer, and a draw's transaction (seconds of store chunks on a
        // national pool) no longer holds up the public reads, which read on a
        // connection of their own (`Ledger::open_existing`). Switched after
        // the migrations, which first starts racing on a new file run more
        // safely with readers waiting for writers; a switch refused because
        // another process holds the file is made at the next start.
        if sqlite {
            if let Err(e) = sqlx::query("PRAGMA journal_mode=WAL").execute(&ledger.pool).await {
                tracing::warn!(error = %e, "the ledger stays in rollback-journal mode until the next start");
            }
        }
        Ok(ledger)
    }

    /// Brings the schema up to date. PostgreSQL's migrator holds an advisory
    /// lock meanwhile; SQLite's takes none, so two processes starting at once
    /// on a new file can both try a migration and the second fail on what
    /// the first made. Run again, the migrator finds it applied and goes on.
    async fn migrate(&self) -> Result<(), MigrateError> {
        let migrator = migrator(self.sqlite);
        // Each migration is applied and recorded in one transaction, so a
        // try that fails on another's work finds one more migration recorded
        // at the next: with several processes racing, one can lose once per
        // migration, never more. A fixed small number of tries failed six
        // first starts at once.
        let mut tries_left = migrator.migrations.len();
        loop {
            match migrator.run(&self.pool).await {
                Err(_) if self.sqlite && tries_left > 0 => tries_left -= 1,
                result => return result,
            }
        }
    }

    /// As the owner: grants the service's role what it needs, then checks
    /// that both connections reach the same database (the service role can
    /// read the id only once granted).
    async fn grant_from(&self, owner: &mut AnyConnection) -> Result<(), LedgerError> {
        if !self.sqlite {
            let role: String = sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(&self.pool)
                .await?;
            let owner_role: String = sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(&mut *owner)
                .await?;
            if role != owner_role {
                let role = format!("\"{}\"", role.replace('"', "\"\""));
                for grant in [
                    format!("GRANT SELECT, INSERT ON ledger TO {role}"),
                    format!("GRANT SELECT ON ledger_database TO {role}"),
                    // The store only grows, like the ledger: rows are added
                    // beside the entries that need them, never changed.
                    format!("GRANT SELECT, INSERT ON store_chunks, store_files, store_snapshots, store_snapshot_files TO {role}"),
                    // What the entries make true, added in their transactions.
                    format!("GRANT SELECT, INSERT ON bundle_files, private_files TO {role}"),
                    // Jobs are not history: their rows change as they run.
                    format!("GRANT SELECT, INSERT, UPDATE ON jobs TO {role}"),
                ] {
                    sqlx::query(&grant).execute(&mut *owner).await?;
                }
            }
        }
        let owner_id = id_on(&mut *owner, self.sqlite).await?.unwrap_or_default();
        let service_id = match self.database_id().await {
            Ok(id) => id.unwrap_or_default(),
            // Another database, where the service role has no grant.
            Err(LedgerError::Database(sqlx::Error::Database(e))) if e.code().as_deref() == Some("42501") => {
                "unreadable".into()
            }
            Err(e) => return Err(e),
        };
        if owner_id != service_id {
            return Err(LedgerError::TwoDatabases {
                owner: owner_id,
                service: service_id,
            });
        }
        Ok(())
    }

    /// The database's id, made once by the migrations; `None` for a ledger
    /// the migrations have not reached (one opened read-only as it was left
    /// by an older version).
    pub async fn database_id(&self) -> Result<Option<String>, LedgerError> {
        let mut conn = self.pool.acquire().await?;
        id_on(&mut conn, self.sqlite).await
    }

    /// The id of the database at `url`, creating nothing: `None` when it
    /// holds no ledger yet (no SQLite file, no table).
    pub async fn probe_id(url: &str) -> Result<Option<String>, LedgerError> {
        sqlx::any::install_default_drivers();
        let url = match sqlite_path(url) {
            Some(path) if !std::path::Path::new(path).is_file() => return Ok(None),
            Some(path) => format!("sqlite://{path}?mode=ro"),
            None => url.to_owned(),
        };
        let mut conn = AnyConnection::connect(&url).await?;
        let id = id_on(&mut conn, url.starts_with("sqlite:")).await;
        conn.close().await?;
        id
    }

    /// Opens an existing ledger to read it, creating nothing: an SQLite file
    /// must exist and is opened read-only, and on either database the table
    /// must be there. For checking a ledger, where creating an empty one
    /// would make a wrong path look like a clean record.
    pub async fn open_existing(url: &str) -> Result<Ledger, LedgerError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = match sqlite_path(url) {
            Some(path) => {
                if !std::path::Path::new(path).is_file() {
                    return Err(LedgerError::Missing { path: path.to_owned() });
                }
                format!("sqlite://{path}?mode=ro")
            }
            None => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 4 })
            .connect(&url)
            .await?;
        // Fails with "no such table" on a database that is not a ledger.
        sqlx::query("SELECT seq FROM ledger LIMIT 1")
            .fetch_optional(&pool)
            .await?;
        Ok(Ledger { pool, sqlite })
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// Appends an entry unless one with `key` exists, in which case that one
    /// is returned. Safe against concurrent appenders: the sequence number
    /// and the key are both unique in the database, so a race loses cleanly
    /// and is retried.
    pub async fn append(
        &self,
        kind: Kind,
        key: &str,
        payload: &str,
        recorded_at: &str,
    ) -> Result<Appended, LedgerError> {
        self.append_with(kind, key, payload, recorded_at, &[]).await
    }

    /// Appends an entry and records what it makes true ([`Attached`]) in
    /// the same transaction: both commit, or neither. The files attached
    /// must already be in the store (their content is named by its hash, so
    /// storing it first leaves nothing wrong behind if the entry is never
    /// written). When the key is taken, nothing is attached and the existing
    /// entry is returned.
    pub async fn append_with(
        &self,
        kind: Kind,
        key: &str,
        payload: &str,
        recorded_at: &str,
        attached: &[Attached],
    ) -> Result<Appended, LedgerError> {
        for _ in 0..16 {
            // Every read and write on the transaction's connection: on SQLite
            // it is the pool's only one. SQLite's transaction takes the write
            // lock at once: a deferred one that read the head would fail with
            // "database is locked", not wait, when another process's
            // transaction wrote first.
            let mut tx = if self.sqlite {
                self.pool.begin_with("BEGIN IMMEDIATE").await?
            } else {
                self.pool.begin().await?
            };
            if let Some(existing) = by_key_on(&mut tx, key).await? {
                tx.rollback().await?;
                return Ok(Appended::Existing(existing));
            }
            let head = head_on(&mut tx).await?;
            let seq = head.seq + 1;
            let hash = Entry::compute_hash(seq, kind, key, payload, recorded_at, &head.hash);
            let inserted = sqlx::query(
                "INSERT INTO ledger (seq, kind, entry_key, payload, recorded_at, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(seq as i64)
            .bind(kind.as_str())
            .bind(key)
            .bind(payload)
            .bind(recorded_at)
            .bind(head.hash.to_hex())
            .bind(hash.to_hex())
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                // Another writer took this seq or this key: look again.
                Err(e) if lost_race(&e) => {
                    tx.rollback().await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            crate::records::insert(&mut tx, seq, attached).await?;
            match tx.commit().await {
                Ok(()) => {}
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
            return Ok(Appended::New(Entry {
                seq,
                kind,
                key: key.to_owned(),
                payload: payload.to_owned(),
                recorded_at: recorded_at.to_owned(),
                prev_hash: head.hash,
                hash,
            }));
        }
        Err(LedgerError::Corrupt {
            seq: 0,
            message: "could not append after 16 contended attempts".into(),
        })
    }

    /// [`Ledger::append_with`] for a typed payload under its key.
    pub async fn append_typed_with<P: Payload>(
        &self,
        key: &Key<'_>,
        payload: &P,
        recorded_at: &str,
        attached: &[Attached],
    ) -> Result<Appended, LedgerError> {
        let text = serde_json::to_string(payload).expect("ledger payloads serialise");
        self.append_with(P::KIND, &key.to_string(), &text, recorded_at, attached)
            .await
    }

    /// Appends a typed payload under its key: the one way the service
    /// writes an entry, so a kind cannot be recorded with another kind's
    /// content.
    pub async fn append_typed<P: Payload>(
        &self,
        key: &Key<'_>,
        payload: &P,
        recorded_at: &str,
    ) -> Result<Appended, LedgerError> {
        let text = serde_json::to_string(payload).expect("ledger payloads serialise");
        self.append(P::KIND, &key.to_string(), &text, recorded_at).await
    }

    /// The entry holding `key`, if any.
    pub async fn get(&self, key: &Key<'_>) -> Result<Option<Entry>, LedgerError> {
        self.by_key(&key.to_string()).await
    }

    /// Every entry of a payload type's kind with its payload, oldest first.
    pub async fn all<P: Payload>(&self) -> Result<Vec<(P, Entry)>, LedgerError> {
        let entries = self.of_kind(P::KIND).await?;
        entries.into_iter().map(|e| Ok((e.typed()?, e))).collect()
    }

    pub async fn head(&self) -> Result<Head, LedgerError> {
        head_on(&mut *self.pool.acquire().await?).await
    }

    pub async fn by_key(&self, key: &str) -> Result<Option<Entry>, LedgerError> {
        by_key_on(&mut *self.pool.acquire().await?, key).await
    }

    /// Entries from `after` (exclusive), oldest first, at most `limit`.
    pub async fn entries(&self, after: u64, limit: u32) -> Result<Vec<Entry>, LedgerError> {
        let rows = sqlx::query(&format!("{SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(seq_bound(after))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The sequence numbers and hashes of the entries from `after`
    /// (exclusive), oldest first, at most `limit`: the leaves of the
    /// checkpoint tree, without reading the payloads.
    pub async fn hashes(&self, after: u64, limit: u32) -> Result<Vec<(u64, Hash32)>, LedgerError> {
        let rows = sqlx::query("SELECT seq, hash FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(seq_bound(after))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let seq = row.try_get::<i64, _>(0)? as u64;
                Ok((seq, parse_hash(seq, &row.try_get::<String, _>(1)?)?))
            })
            .collect()
    }

    /// Every entry of a kind, oldest first.
    pub async fn of_kind(&self, kind: Kind) -> Result<Vec<Entry>, LedgerError> {
        let rows = sqlx::query(&format!("{SELECT} WHERE kind = $1 ORDER BY seq"))
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Walks the whole chain and recomputes every hash; returns the head, or
    /// the first entry that does not hold.
    pub async fn verify_chain(&self) -> Result<Head, LedgerError> {
        let mut head = Head::GENESIS;
        loop {
            let batch = self.entries(head.seq, 1000).await?;
            if batch.is_empty() {
                return Ok(head);
            }
            for entry in batch {
                let bad = |message: String| LedgerError::Corrupt {
                    seq: entry.seq,
                    message,
                };
                if entry.seq != head.seq + 1 {
                    return Err(bad(format!("sequence jumps from {} to {}", head.seq, entry.seq)));
                }
                if entry.prev_hash != head.hash {
                    return Err(bad("its previous hash is not the hash of the entry before".into()));
                }
                let recomputed = Entry::compute_hash(
                    entry.seq,
                    entry.kind,
                    &entry.key,
                    &entry.payload,
                    &entry.recorded_at,
                    &entry.prev_hash,
                );
                if recomputed != entry.hash {
                    return Err(bad(format!(
                        "its content hashes to {recomputed}, not the stored {}",
                        entry.hash
                    )));
                }
                head = Head {
                    seq: entry.seq,
                    hash: entry.hash,
                };
            }
        }
    }

    /// The database the ledger lives in, for what is written beside it:
    /// the content store, the rows entries attach ([`crate::records`]) and
    /// the jobs of migration 0005, which are not history.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// For tests and drills only: the raw pool, to play an attacker who
    /// edits the database behind the service's back.
    #[doc(hidden)]
    pub fn raw_pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The id in `ledger_database`, if the table is there.
async fn id_on(conn: &mut AnyConnection, sqlite: bool) -> Result<Option<String>, LedgerError> {
    let exists = if sqlite {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_database'"
    } else {
        "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'ledger_database'"
    };
    let count: i64 = sqlx::query_scalar(exists).fetch_one(&mut *conn).await?;
    if count == 0 {
        return Ok(None);
    }
    Ok(sqlx::query_scalar("SELECT id FROM ledger_database")
        .fetch_optional(&mut *conn)
        .await?)
}

const SELECT: &str = "SELECT seq, kind, entry_key, payload, recorded_at, prev_hash, hash FROM ledger";

fn parse_hash(seq: u64, text: &str) -> Result<Hash32, LedgerError> {
    Hash32::parse(text).ok_or_else(|| LedgerError::Corrupt {
        seq,
        message: format!("{text:?} is not a hash"),
    })
}

fn entry_from_row(row: &AnyRow) -> Result<Entry, LedgerError> {
    let seq = row.try_get::<i64, _>(0)? as u64;
    let kind_text: String = row.try_get(1)?;
    let kind = Kind::parse(&kind_text).ok_or_else(|| LedgerError::Corrupt {
        seq,
        message: format!("unknown kind {kind_text:?}"),
    })?;
    Ok(Entry {
        seq,
        kind,
        key: row.try_get(2)?,
        payload: row.try_get(3)?,
        recorded_at: row.try_get(4)?,
        prev_hash: parse_hash(seq, &row.try_get::<String, _>(5)?)?,
        hash: parse_hash(seq, &row.try_get::<String, _>(6)?)?,
    })
}

/// A sequence number as the database compares it: past `i64::MAX`, which no
/// entry reaches, it stays the largest there is instead of wrapping to a
/// negative number below every entry.
fn seq_bound(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn memory() -> Ledger {
        Ledger::open("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn appends_chain_and_claim_keys_once() {
        let ledger = memory().await;
        let a = ledger.append(Kind::PlanAnnounced, "task:1", "{}", "t1").await.unwrap();
        let b = ledger
            .append(Kind::DrawMade, "draw:1", "{\"x\":1}", "t2")
            .await
            .unwrap();
        let again = ledger
            .append(Kind::DrawMade, "draw:1", "{\"x\":2}", "t3")
            .await
            .unwrap();
        assert!(matches!(a, Appended::New(_)) && matches!(b, Appended::New(_)));
        assert_eq!(
            again,
            Appended::Existing(b.entry().clone()),
            "a claimed key returns the first entry"
        );
        assert_eq!(b.entry().prev_hash, a.entry().hash);
        let head = ledger.verify_chain().await.unwrap();
        assert_eq!(
            head,
            Head {
                seq: 2,
                hash: b.entry().hash
            }
        );
    }

    #[tokio::test]
    async fn the_database_refuses_updates_and_deletes() {
        let ledger = memory().await;
        ledger.append(Kind::PlanAnnounced, "task:1", "{}", "t1").await.unwrap();
        let update = sqlx::query("UPDATE ledger SET payload = 'x'")
            .execute(ledger.raw_pool())
            .await;
        let delete = sqlx::query("DELETE FROM ledger").execute(ledger.raw_pool()).await;
        assert!(update.is_err() && delete.is_err());
    }

    #[tokio::test]
    async fn a_rewritten_entry_is_found() {
        let ledger = memory().await;
        for n in 0..5 {
            ledger
                .append(Kind::PlanAnnounced, &format!("task:{n}"), "{}", "t")
                .await
                .unwrap();
        }
        // An attacker with the database file drops the guard and edits entry 3.
        sqlx::query("DROP TRIGGER ledger_no_update")
            .execute(ledger.raw_pool())
            .await
            .unwrap();
        sqlx::query("UPDATE ledger SET payload = '{\"forged\":true}' WHERE seq = 3")
            .execute(ledger.raw_pool())
            .await
            .unwrap();
        match ledger.verify_chain().await {
            Err(LedgerError::Corrupt { seq: 3, .. }) => {}
            other => panic!("expected entry 3 to be reported, got {other:?}"),
        }
    }
}
