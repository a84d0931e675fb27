//! Measures the content-addressed store on a large targets file: the time and
//! stored size to put it into a fresh SQLite store, the size added by the
//! same file with one line changed, and the time to read it back checked.
//!
//! ```sh
//! cargo run --release --example store_figures -- /tmp/big/targets.csv /tmp/G-store
//! ```
//!
//! The work folder (created, and removed at the end) holds the database and
//! the edited copy, each about as large as the file.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use shuangsui::store;

const SCHEMA: &str = include_str!("../migrations/sqlite/0003_store.sql");

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let source = PathBuf::from(args.first().map(String::as_str).unwrap_or("/tmp/big/targets.csv"));
    let work = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("/tmp/G-store"));
    std::fs::create_dir_all(&work)?;
    let result = run(&source, &work).await;
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    result
}

async fn run(source: &Path, work: &Path) -> Result<()> {
    sqlx::any::install_default_drivers();
    let db = work.join("store.db");
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    let csv_len = std::fs::metadata(source)?.len();
    println!("{}: {} bytes", source.display(), csv_len);

    let (first, seconds) = put(&pool, source).await?;
    let (stored, db_size) = (stored_bytes(&pool).await?, std::fs::metadata(&db)?.len());
    println!(
        "first put: {seconds:.2} s ({:.0} MB/s), {} chunks, {stored} bytes stored ({:.1}% of the CSV), database file {db_size} bytes",
        csv_len as f64 / seconds / 1e6,
        first.chunks.len(),
        100.0 * stored as f64 / csv_len as f64,
    );

    let edited = work.join("targets-edited.csv");
    edit_one_line(source, &edited)?;
    let (second, seconds) = put(&pool, &edited).await?;
    std::fs::remove_file(&edited)?;
    let added = stored_bytes(&pool).await? - stored;
    let db_added = std::fs::metadata(&db)?.len() as i64 - db_size as i64;
    let old: std::collections::HashSet<_> = first.chunks.iter().collect();
    let new_chunks = second.chunks.iter().filter(|c| !old.contains(c)).count();
    println!(
        "one line changed: {seconds:.2} s, {new_chunks} new chunks, {added} bytes added ({:.3}% of the CSV; goal 2%), database file grew {db_added} bytes",
        100.0 * added as f64 / csv_len as f64,
    );

    let started = Instant::now();
    let mut pieces = store::FilePieces::open(pool.clone(), &second.hash).await?;
    let mut read = 0u64;
    while let Some(piece) = pieces.next_piece().await? {
        read += piece.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "read back, every chunk and the file checked: {read} bytes in {seconds:.2} s ({:.0} MB/s)",
        read as f64 / seconds / 1e6
    );
    Ok(())
}

async fn put(pool: &AnyPool, path: &Path) -> Result<(store::StoredFile, f64)> {
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    let (file, stats) = store::put_reader(&mut tx, std::fs::File::open(path)?).await?;
    tx.commit().await?;
    let seconds = started.elapsed().as_secs_f64();
    println!("  {stats:?}");
    Ok((file, seconds))
}

async fn stored_bytes(pool: &AnyPool) -> Result<i64> {
    let row = sqlx::query(
        "SELECT (SELECT COALESCE(SUM(LENGTH(data)), 0) FROM store_chunks)
              + (SELECT COALESCE(SUM(LENGTH(chunks)), 0) FROM store_files)",
    )
    .fetch_one(pool)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// Copies the file with the line in its middle renamed, as an office
/// correcting one business's name would.
fn edit_one_line(source: &Path, to: &Path) -> Result<()> {
    let total = std::fs::metadata(source)?.len();
    let mut input = BufReader::with_capacity(1 << 20, std::fs::File::open(source)?);
    let mut output = BufWriter::with_capacity(1 << 20, std::fs::File::create(to)?);
    let (mut at, mut edited, mut line) = (0u64, false, Vec::new());
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        at += line.len() as u64;
        if !edited && at > total / 2 {
            let text = String::from_utf8(line.clone())?;
            let mut fields: Vec<String> = text.trim_end().split(',').map(str::to_owned).collect();
            fields[1].push_str("（分店）");
            line = format!("{}\n", fields.join(",")).into_bytes();
            edited = true;
        }
        output.write_all(&line)?;
    }
    output.flush()?;
    Ok(())
}
