//! The content-addressed store (`shuangsui::store`) against a real database:
//! byte-exact round trips, deduplication across snapshots, detection of a
//! hand-edited database, and transactions that roll back cleanly.
//!
//! Every case is written once against a pool and runs on SQLite (a fresh file
//! in a temp dir) and on PostgreSQL (a fresh database on the test server of
//! `tests/common/postgres.rs`), with the schema the service migrates.

use std::collections::BTreeMap;
use std::io::Read;

use proptest::prelude::*;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use shuangsui::generate::{generate, GenOptions};
use shuangsui::snapshot::{bytes_hash, Hash32};
use shuangsui::store::{self, StoreError, MAX_CHUNK};

// The harness also serves tests (and a macro) this file does not use.
#[allow(unused_macros, unused_imports)]
#[path = "common/postgres.rs"]
mod postgres;

use postgres::{Backend, TestDb};

struct Db {
    pool: AnyPool,
    _db: TestDb,
}

/// A fresh database on `backend` with the service's schema, applied by the
/// service's own migrator; `None` when PostgreSQL is skipped (the harness
/// prints why, and fails instead under `SHUANGSUI_REQUIRE_POSTGRES=1`).
async fn open(backend: Backend) -> Option<Db> {
    let db = TestDb::new(backend).await?;
    sqlx::any::install_default_drivers();
    // One connection for SQLite, as the ledger opens it.
    let pool = AnyPoolOptions::new()
        .max_connections(if db.is_postgres() { 4 } else { 1 })
        .connect(&db.url)
        .await
        .unwrap();
    shuangsui::ledger::migrator(!db.is_postgres()).run(&pool).await.unwrap();
    Some(Db { pool, _db: db })
}

async fn sqlite() -> Db {
    open(Backend::Sqlite).await.expect("SQLite is always there")
}

/// Runs a case on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(&super::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::open(super::postgres::Backend::Postgres).await {
                    super::$case(&db).await;
                }
            }
        }
    )*};
}

on_both!(
    round_trip_is_byte_exact,
    one_changed_line_adds_a_few_chunks,
    same_content_twice_stores_nothing_new,
    hand_edited_chunks_are_errors_naming_the_chunk,
    rolled_back_transaction_leaves_nothing,
    snapshots_name_their_files,
);

/// Deterministic pseudo-random bytes (xorshift).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// CSV-like text: compressible, with cut points, distinct from `noise`.
fn lines(seed: u64, count: usize) -> Vec<u8> {
    let words = noise(seed, count * 4);
    let mut text = String::from("统一社会信用代码,名称,信用风险分类\n");
    for (i, w) in words.chunks(4).enumerate() {
        text.push_str(&format!(
            "9152{:014},盘州市{}商店{},{}\n",
            i,
            w[0],
            w[1] as u32 * w[2] as u32,
            "ABCD".as_bytes()[w[3] as usize % 4] as char
        ));
    }
    text.into_bytes()
}

async fn store_bytes(db: &Db, bytes: &[u8]) -> (store::StoredFile, store::PutStats) {
    let mut tx = db.pool.begin().await.unwrap();
    let stored = store::put_bytes(&mut tx, bytes).await.unwrap();
    tx.commit().await.unwrap();
    stored
}

async fn read_back(db: &Db, file: &Hash32) -> Result<Vec<u8>, StoreError> {
    let mut conn = db.pool.acquire().await.unwrap();
    store::read_file(&mut conn, file).await
}

/// The file read through the streaming API, piece by piece.
async fn read_pieces(db: &Db, file: &Hash32) -> Result<Vec<u8>, StoreError> {
    let mut pieces = store::FilePieces::open(db.pool.clone(), file).await?;
    let mut bytes = Vec::new();
    while let Some(piece) = pieces.next_piece().await? {
        assert!(piece.len() <= MAX_CHUNK);
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
}

/// The file read through `std::io::Read` on a blocking thread.
async fn read_blocking(db: &Db, file: &Hash32) -> std::io::Result<Vec<u8>> {
    let reader = store::FilePieces::open(db.pool.clone(), file)
        .await
        .map_err(std::io::Error::other)?
        .into_blocking_reader();
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let mut bytes = Vec::new();
        // Small reads, so pieces are split across calls.
        let mut buf = [0u8; 7919];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(bytes),
                n => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap()
}

/// Stored bytes as the database holds them: chunk data and chunk lists.
async fn stored_size(db: &Db) -> i64 {
    let chunks = sqlx::query("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM store_chunks")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap();
    let lists = sqlx::query("SELECT COALESCE(SUM(LENGTH(chunks)), 0) FROM store_files")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap();
    chunks + lists
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

async fn round_trip_is_byte_exact(db: &Db) {
    let big = lines(1, 120_000);
    assert!(big.len() > 20 * MAX_CHUNK);
    for content in [
        Vec::new(),
        "9152,盘州市,A\n".as_bytes().to_vec(),
        big,
        noise(3, 5 * MAX_CHUNK + 1),
    ] {
        let (file, _) = store_bytes(db, &content).await;
        assert_eq!(file.hash, bytes_hash(&content));
        assert_eq!(file.len, content.len() as u64);
        assert_eq!(read_back(db, &file.hash).await.unwrap(), content);
        assert_eq!(read_pieces(db, &file.hash).await.unwrap(), content);
        assert_eq!(read_blocking(db, &file.hash).await.unwrap(), content);
    }
    // Streamed in through a reader, the same file as from memory.
    let content = lines(2, 60_000);
    let mut tx = db.pool.begin().await.unwrap();
    let (streamed, _) = store::put_reader(&mut tx, std::io::Cursor::new(content.clone()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (in_memory, stats) = store_bytes(db, &content).await;
    assert_eq!(streamed, in_memory);
    assert_eq!(stats.chunks_new, 0);
    assert_eq!(read_back(db, &streamed.hash).await.unwrap(), content);

    let absent = bytes_hash(b"never stored");
    assert!(matches!(read_back(db, &absent).await, Err(StoreError::MissingFile { file }) if file == absent));
}

/// A generated targets file of about 25 MB, stored; then the same file with
/// one business's name changed: the second adds at most 2% of its size.
async fn one_changed_line_adds_a_few_chunks(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        seed: 15,
        items: 40,
        inspectors: 200,
        targets: 250_000,
        conflicts: 100,
    };
    generate(&opts, dir.path()).unwrap();
    let targets = dir.path().join("targets.csv");
    let original = std::fs::read(&targets).unwrap();
    assert!(original.len() > 20_000_000, "{} bytes", original.len());

    let mut tx = db.pool.begin().await.unwrap();
    let (first, _) = store::put_reader(&mut tx, std::fs::File::open(&targets).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after_first = stored_size(db).await;
    // CSV compresses: the first copy is well under the file's size.
    assert!(after_first < original.len() as i64 / 2, "{after_first} stored");

    // One line in the middle: a business renamed (a longer name).
    let text = String::from_utf8(original.clone()).unwrap();
    let middle = text.len() / 2;
    let start = text.as_bytes()[..middle].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let end = start + text[start..].find('\n').unwrap();
    let fields: Vec<&str> = text[start..end].split(',').collect();
    let renamed = format!("{},{}（分店）,{}", fields[0], fields[1], fields[2..].join(","));
    let edited = format!("{}{renamed}{}", &text[..start], &text[end..]).into_bytes();
    std::fs::write(&targets, &edited).unwrap();

    let mut tx = db.pool.begin().await.unwrap();
    let (second, stats) = store::put_reader(&mut tx, std::fs::File::open(&targets).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let added = stored_size(db).await - after_first;
    let limit = edited.len() as i64 / 50;
    eprintln!(
        "one changed line in {} bytes of CSV: {added} bytes added ({stats:?})",
        edited.len()
    );
    assert!(
        added <= limit,
        "one changed line added {added} bytes, over 2% ({limit})"
    );
    assert!(stats.chunks_new <= 3, "{stats:?}");
    assert_eq!(stats.chunks_new + stats.chunks_existing, second.chunks.len() as u64);
    assert_ne!(first.hash, second.hash);
    assert_eq!(read_back(db, &second.hash).await.unwrap(), edited);
    assert_eq!(read_back(db, &first.hash).await.unwrap(), original);
}

async fn same_content_twice_stores_nothing_new(db: &Db) {
    let content = lines(4, 50_000);
    let (first, stats) = store_bytes(db, &content).await;
    assert_eq!(stats.chunks_new, first.chunks.len() as u64);
    let (size, chunks, files) = (
        stored_size(db).await,
        count(db, "store_chunks").await,
        count(db, "store_files").await,
    );

    let (again, stats) = store_bytes(db, &content).await;
    assert_eq!(again, first);
    assert_eq!((stats.chunks_new, stats.bytes_new), (0, 0));
    assert_eq!(stats.chunks_existing, first.chunks.len() as u64);
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(!store::put_file(&mut conn, &first).await.unwrap());
    drop(conn);
    assert_eq!(stored_size(db).await, size);
    assert_eq!(count(db, "store_chunks").await, chunks);
    assert_eq!(count(db, "store_files").await, files);
}

async fn hand_edited_chunks_are_errors_naming_the_chunk(db: &Db) {
    let content = lines(5, 60_000);
    let (file, _) = store_bytes(db, &content).await;
    let (victim, donor) = (file.chunks[2], file.chunks[3]);
    let victim_hex = victim.to_hex();
    let original: Vec<u8> = sqlx::query("SELECT data FROM store_chunks WHERE hash = $1")
        .bind(&victim_hex)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let set = |data: Vec<u8>| {
        let victim_hex = victim_hex.clone();
        async move {
            sqlx::query("UPDATE store_chunks SET data = $1 WHERE hash = $2")
                .bind(data)
                .bind(victim_hex)
                .execute(&db.pool)
                .await
                .unwrap();
        }
    };
    let names_victim = |e: &StoreError| matches!(e, StoreError::CorruptChunk { chunk, file: f, .. } if *chunk == victim && *f == file.hash);

    // Another chunk's bytes: valid zstd, the wrong content.
    let donor_data: Vec<u8> = sqlx::query("SELECT data FROM store_chunks WHERE hash = $1")
        .bind(donor.to_hex())
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let mut flipped = original.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x20;
    // The right length, well-formed zstd, one character changed.
    let mut raw = zstd::bulk::decompress(&original, MAX_CHUNK).unwrap();
    let at = raw.iter().position(|&b| b == b',').unwrap();
    raw[at] = b';';
    let recompressed = zstd::bulk::compress(&raw, 3).unwrap();
    for bad in [donor_data, flipped, b"not zstd".to_vec(), recompressed] {
        set(bad).await;
        let whole = read_back(db, &file.hash).await.unwrap_err();
        assert!(names_victim(&whole), "{whole}");
        assert!(whole.to_string().contains(&victim_hex), "{whole}");
        let streamed = read_pieces(db, &file.hash).await.unwrap_err();
        assert!(names_victim(&streamed), "{streamed}");
        let blocking = read_blocking(db, &file.hash).await.unwrap_err();
        assert!(blocking.to_string().contains(&victim_hex), "{blocking}");
    }

    // A recorded length that does not match what decompresses.
    set(original.clone()).await;
    sqlx::query("UPDATE store_chunks SET raw_len = raw_len + 1 WHERE hash = $1")
        .bind(&victim_hex)
        .execute(&db.pool)
        .await
        .unwrap();
    let e = read_back(db, &file.hash).await.unwrap_err();
    assert!(names_victim(&e), "{e}");
    sqlx::query("UPDATE store_chunks SET raw_len = raw_len - 1 WHERE hash = $1")
        .bind(&victim_hex)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(read_back(db, &file.hash).await.unwrap(), content);

    // Chunks each sound but in another order: the file's hash catches it,
    // before the last chunk is handed out.
    let mut list = file.chunks.clone();
    list.swap(0, 1);
    let bytes: Vec<u8> = list.iter().flat_map(|h| h.0).collect();
    sqlx::query("UPDATE store_files SET chunks = $1 WHERE hash = $2")
        .bind(bytes)
        .bind(file.hash.to_hex())
        .execute(&db.pool)
        .await
        .unwrap();
    let e = read_back(db, &file.hash).await.unwrap_err();
    assert!(
        matches!(e, StoreError::CorruptFile { file: f, .. } if f == file.hash),
        "{e}"
    );
    let mut pieces = store::FilePieces::open(db.pool.clone(), &file.hash).await.unwrap();
    let mut handed_out = 0;
    let e = loop {
        match pieces.next_piece().await {
            Ok(Some(piece)) => handed_out += piece.len(),
            Ok(None) => panic!("a reordered file read to its end"),
            Err(e) => break e,
        }
    };
    assert!(matches!(e, StoreError::CorruptFile { .. }), "{e}");
    assert!(handed_out < content.len());
    assert!(read_blocking(db, &file.hash).await.is_err());

    // A chunk deleted: named as missing.
    sqlx::query("DELETE FROM store_chunks WHERE hash = $1")
        .bind(&victim_hex)
        .execute(&db.pool)
        .await
        .unwrap();
    let e = read_back(db, &file.hash).await.unwrap_err();
    assert!(
        matches!(e, StoreError::MissingChunk { chunk, .. } if chunk == victim),
        "{e}"
    );
}

async fn rolled_back_transaction_leaves_nothing(db: &Db) {
    let content = lines(6, 40_000);
    let mut tx = db.pool.begin().await.unwrap();
    let (file, stats) = store::put_bytes(&mut tx, &content).await.unwrap();
    assert!(stats.chunks_new > 3);
    let files = BTreeMap::from([("targets.csv".to_owned(), file.hash)]);
    let name = bytes_hash(b"snapshot");
    assert!(store::put_snapshot(&mut tx, &name, &files).await.unwrap());
    // Inside the transaction the content is there...
    assert_eq!(store::read_file(&mut tx, &file.hash).await.unwrap(), content);
    tx.rollback().await.unwrap();

    // ...and after the rollback none of it.
    for table in ["store_chunks", "store_files", "store_snapshots", "store_snapshot_files"] {
        assert_eq!(count(db, table).await, 0, "{table}");
    }
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(store::file_info(&mut conn, &file.hash).await.unwrap().is_none());
    assert!(store::snapshot_files(&mut conn, &name).await.unwrap().is_none());
    drop(conn);

    // Written again and committed, it is all stored.
    let mut tx = db.pool.begin().await.unwrap();
    let (again, stats) = store::put_bytes(&mut tx, &content).await.unwrap();
    assert_eq!(stats.chunks_new, again.chunks.len() as u64);
    tx.commit().await.unwrap();
    assert_eq!(read_back(db, &again.hash).await.unwrap(), content);
}

async fn snapshots_name_their_files(db: &Db) {
    let (targets, _) = store_bytes(db, &lines(7, 30_000)).await;
    let (items, _) = store_bytes(db, b"code,name\nA1,x\n").await;
    let (empty, _) = store_bytes(db, b"").await;
    let files = BTreeMap::from([
        ("targets.csv".to_owned(), targets.hash),
        ("items.csv".to_owned(), items.hash),
        ("conflicts.csv".to_owned(), empty.hash),
    ]);
    let name = bytes_hash(b"combined");
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(store::put_snapshot(&mut conn, &name, &files).await.unwrap());
    assert_eq!(
        store::snapshot_files(&mut conn, &name).await.unwrap(),
        Some(files.clone())
    );

    // The same name again keeps what was stored first.
    let other = BTreeMap::from([("items.csv".to_owned(), items.hash)]);
    assert!(!store::put_snapshot(&mut conn, &name, &other).await.unwrap());
    assert_eq!(store::snapshot_files(&mut conn, &name).await.unwrap(), Some(files));

    // A snapshot of a file never stored is refused, naming it.
    let ghost = bytes_hash(b"ghost");
    let e = store::put_snapshot(
        &mut conn,
        &bytes_hash(b"other"),
        &BTreeMap::from([("x.csv".to_owned(), ghost)]),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, StoreError::SnapshotFileMissing { file, .. } if file == ghost),
        "{e}"
    );

    // A file row removed behind the store's back: the snapshot is corrupt.
    sqlx::query("DELETE FROM store_snapshot_files WHERE name = 'items.csv'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let e = store::snapshot_files(&mut conn, &name).await.unwrap_err();
    assert!(
        matches!(e, StoreError::CorruptSnapshot { snapshot, .. } if snapshot == name),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any byte string comes back exactly, through either read path.
    #[test]
    fn any_bytes_round_trip(
        content in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2_000),
            proptest::collection::vec(any::<u8>(), 0..600_000),
            (any::<u64>(), 0usize..1_500_000).prop_map(|(seed, len)| lines(seed, len / 60)),
        ],
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let db = sqlite().await;
            let (file, _) = store_bytes(&db, &content).await;
            prop_assert_eq!(file.hash, bytes_hash(&content));
            prop_assert_eq!(&read_back(&db, &file.hash).await.unwrap(), &content);
            prop_assert_eq!(&read_pieces(&db, &file.hash).await.unwrap(), &content);
            Ok(())
        })?;
    }
}
