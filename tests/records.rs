//! The store of record on both databases: what an entry makes true is
//! written in the entry's own transaction, or not at all, and like the
//! ledger it can only be added to.

mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::collections::BTreeMap;

use postgres::{on_both_databases, Backend, TestDb};
use shuangsui::ledger::{Appended, Attached, Kind, Ledger};
use shuangsui::records;
use shuangsui::snapshot::{bytes_hash, Hash32};
use shuangsui::store;

on_both_databases!(
    an_entry_and_what_it_makes_true_commit_together,
    a_taken_key_attaches_nothing,
    an_entry_naming_content_not_stored_is_not_written,
    what_entries_make_true_cannot_be_changed,
);

const AT: &str = "2026-03-02T09:00:00+08:00";

async fn stored(ledger: &Ledger, bytes: &[u8]) -> Hash32 {
    let mut conn = ledger.raw_pool().acquire().await.unwrap();
    let (file, _) = store::put_bytes(&mut conn, bytes).await.unwrap();
    file.hash
}

fn bundle_file(path: &str, file: Hash32) -> Attached {
    Attached::BundleFile {
        bundle: "B-1".into(),
        path: path.into(),
        file,
    }
}

async fn an_entry_and_what_it_makes_true_commit_together(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let manifest = stored(&ledger, b"{\"manifest\":1}").await;
    let first_list = stored(&ledger, b"[]").await;
    let drawn = ledger
        .append_with(
            Kind::DrawMade,
            "draw:T",
            "{}",
            AT,
            &[
                bundle_file("manifest.json", manifest),
                bundle_file("substitutions.json", first_list),
            ],
        )
        .await
        .unwrap();
    let second_list = stored(&ledger, b"[{\"swap\":1}]").await;
    let swapped = ledger
        .append_with(
            Kind::OfficerSubstituted,
            "substitution:T:1",
            "{}",
            AT,
            &[bundle_file("substitutions.json", second_list)],
        )
        .await
        .unwrap();

    // The newest version of each path is the one served.
    let files = records::bundle_files(ledger.raw_pool(), "B-1").await.unwrap();
    let seen: Vec<(&str, Hash32, u64)> = files.iter().map(|f| (f.path.as_str(), f.file, f.entry_seq)).collect();
    assert_eq!(
        seen,
        [
            ("manifest.json", manifest, drawn.entry().seq),
            ("substitutions.json", second_list, swapped.entry().seq)
        ]
    );
    assert_eq!(
        records::bundle_versions(ledger.raw_pool()).await.unwrap(),
        BTreeMap::from([("B-1".to_owned(), swapped.entry().seq)])
    );
    assert!(records::bundle_files(ledger.raw_pool(), "B-2")
        .await
        .unwrap()
        .is_empty());

    let secret = stored(&ledger, b"00ff").await;
    ledger
        .append_with(
            Kind::PlanAnnounced,
            "announce:U",
            "{}",
            AT,
            &[Attached::PrivateFile {
                name: "commit-abc".into(),
                file: secret,
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        records::private_file(ledger.raw_pool(), "commit-abc").await.unwrap(),
        Some(secret)
    );
    assert_eq!(
        records::private_file(ledger.raw_pool(), "commit-xyz").await.unwrap(),
        None
    );
    assert_eq!(ledger.verify_chain().await.unwrap().seq, 3);
}

async fn a_taken_key_attaches_nothing(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let ours = stored(&ledger, b"ours").await;
    let theirs = stored(&ledger, b"theirs").await;
    let first = ledger
        .append_with(
            Kind::DrawMade,
            "draw:T",
            "{}",
            AT,
            &[bundle_file("manifest.json", ours)],
        )
        .await
        .unwrap();
    assert!(matches!(first, Appended::New(_)));
    let second = ledger
        .append_with(
            Kind::DrawMade,
            "draw:T",
            "{\"other\":true}",
            AT,
            &[bundle_file("manifest.json", theirs), bundle_file("extra.csv", theirs)],
        )
        .await
        .unwrap();
    assert_eq!(second, Appended::Existing(first.entry().clone()));
    let files = records::bundle_files(ledger.raw_pool(), "B-1").await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file, ours);
}

async fn an_entry_naming_content_not_stored_is_not_written(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let missing = bytes_hash(b"never stored");
    let error = ledger
        .append_with(
            Kind::DrawMade,
            "draw:T",
            "{}",
            AT,
            &[bundle_file("manifest.json", missing)],
        )
        .await
        .expect_err("a row naming content the store does not hold is refused");
    assert!(!error.to_string().is_empty());
    assert_eq!(
        ledger.head().await.unwrap().seq,
        0,
        "the entry rolled back with its rows"
    );
    assert!(ledger.by_key("draw:T").await.unwrap().is_none());

    let snapshot = Attached::Snapshot {
        hash: bytes_hash(b"snapshot"),
        files: BTreeMap::from([("targets.csv".to_owned(), missing)]),
    };
    ledger
        .append_with(Kind::SnapshotRegistered, "snapshot:S", "{}", AT, &[snapshot])
        .await
        .expect_err("a snapshot naming a file not stored is refused");
    assert_eq!(ledger.head().await.unwrap().seq, 0);
}

async fn what_entries_make_true_cannot_be_changed(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let file = stored(&ledger, b"manifest").await;
    let other = stored(&ledger, b"forged").await;
    ledger
        .append_with(
            Kind::DrawMade,
            "draw:T",
            "{}",
            AT,
            &[
                bundle_file("manifest.json", file),
                Attached::PrivateFile {
                    name: "commit-abc".into(),
                    file,
                },
            ],
        )
        .await
        .unwrap();
    let mut attempts = vec![
        format!("UPDATE bundle_files SET file_hash = '{other}'"),
        "DELETE FROM bundle_files".to_owned(),
        format!("UPDATE private_files SET file_hash = '{other}'"),
        "DELETE FROM private_files".to_owned(),
    ];
    match db.backend {
        Backend::Sqlite => attempts.extend([
            format!("REPLACE INTO bundle_files VALUES ('B-1', 'manifest.json', 1, '{other}')"),
            format!("INSERT OR REPLACE INTO private_files VALUES ('commit-abc', 1, '{other}')"),
        ]),
        Backend::Postgres => attempts.extend(["TRUNCATE bundle_files".to_owned(), "TRUNCATE private_files".to_owned()]),
    }
    for sql in attempts {
        if let Ok(done) = sqlx::query(&sql).execute(ledger.raw_pool()).await {
            panic!("the database accepted {sql:?} ({} rows)", done.rows_affected());
        }
    }
    let files = records::bundle_files(ledger.raw_pool(), "B-1").await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file, file);
    assert_eq!(
        records::private_file(ledger.raw_pool(), "commit-abc").await.unwrap(),
        Some(file)
    );
}
