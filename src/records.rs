//! The store of record: what each ledger entry makes true besides itself.
//!
//! An announcement freezes a pool snapshot and may keep a commit–reveal
//! secret; a draw publishes a bundle; a substitution or a results notice
//! adds files to it. Those files live in the database, in the content store
//! ([`crate::store`]), and the rows that tie them to their entry are written
//! in the entry's own transaction ([`crate::ledger::Ledger::append_with`]):
//! whatever order a crash interrupts, the database holds an entry with
//! everything it names, or neither. Files on local disk are a cache of these
//! rows, rebuilt on demand.
//!
//! Tables (`migrations/*/0004_records.sql`, snapshots in `0003_store.sql`):
//! `bundle_files` (a bundle's files as of each entry; the newest version of
//! each path is the one served), `private_files` (never served), and the
//! store's snapshot tables. All are append-only, like the ledger.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, AnyPool, Row};

use crate::ledger::LedgerError;
use crate::snapshot::Hash32;
use crate::store;

/// One thing an entry makes true, naming content already in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// A file of a published bundle, from this entry on: `path` is relative
    /// to the bundle's folder (`manifest.json`, `public/assignments.csv`).
    BundleFile { bundle: String, path: String, file: Hash32 },
    /// A confidential file the service keeps and never serves.
    PrivateFile { name: String, file: Hash32 },
    /// A pool snapshot: its files under its combined hash. Registering a
    /// snapshot already stored is not an error (it is the same content).
    Snapshot {
        hash: Hash32,
        files: BTreeMap<String, Hash32>,
    },
}

/// Writes the rows of `attached` for entry `seq` on the entry's transaction.
pub(crate) async fn insert(conn: &mut AnyConnection, seq: u64, attached: &[Attached]) -> Result<(), LedgerError> {
    for item in attached {
        match item {
            Attached::BundleFile { bundle, path, file } => {
                sqlx::query("INSERT INTO bundle_files (bundle, path, entry_seq, file_hash) VALUES ($1, $2, $3, $4)")
                    .bind(bundle)
                    .bind(path)
                    .bind(seq as i64)
                    .bind(file.to_hex())
                    .execute(&mut *conn)
                    .await?;
            }
            Attached::PrivateFile { name, file } => {
                sqlx::query("INSERT INTO private_files (name, entry_seq, file_hash) VALUES ($1, $2, $3)")
                    .bind(name)
                    .bind(seq as i64)
                    .bind(file.to_hex())
                    .execute(&mut *conn)
                    .await?;
            }
            Attached::Snapshot { hash, files } => {
                store::put_snapshot(conn, hash, files).await?;
            }
        }
    }
    Ok(())
}

/// One file of a bundle as served: the newest recorded version of its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub path: String,
    pub file: Hash32,
    /// The entry that recorded this version.
    pub entry_seq: u64,
}

/// A bundle's files as served, by path, or none when no entry recorded it.
pub async fn bundle_files(pool: &AnyPool, bundle: &str) -> Result<Vec<BundleFile>, LedgerError> {
    let rows = sqlx::query(
        "SELECT path, entry_seq, file_hash FROM bundle_files b
         WHERE bundle = $1
           AND entry_seq = (SELECT MAX(entry_seq) FROM bundle_files n WHERE n.bundle = b.bundle AND n.path = b.path)
         ORDER BY path",
    )
    .bind(bundle)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let entry_seq = row.try_get::<i64, _>(1)? as u64;
            Ok(BundleFile {
                path: row.try_get(0)?,
                entry_seq,
                file: parse_hash(entry_seq, &row.try_get::<String, _>(2)?)?,
            })
        })
        .collect()
}

/// Every recorded bundle with the newest entry that changed it: what a
/// cache compares its copies against.
pub async fn bundle_versions(pool: &AnyPool) -> Result<BTreeMap<String, u64>, LedgerError> {
    let rows = sqlx::query("SELECT bundle, MAX(entry_seq) FROM bundle_files GROUP BY bundle")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)? as u64)))
        .collect()
}

/// The content hash of a private file, if one is recorded under `name`.
pub async fn private_file(pool: &AnyPool, name: &str) -> Result<Option<Hash32>, LedgerError> {
    let row = sqlx::query("SELECT entry_seq, file_hash FROM private_files WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.map(|row| parse_hash(row.try_get::<i64, _>(0)? as u64, &row.try_get::<String, _>(1)?))
        .transpose()
}

fn parse_hash(seq: u64, text: &str) -> Result<Hash32, LedgerError> {
    Hash32::parse(text).ok_or_else(|| LedgerError::Corrupt {
        seq,
        message: format!("a file it records has a malformed hash {text:?}"),
    })
}
