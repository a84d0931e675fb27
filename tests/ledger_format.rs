//! The ledger format, pinned: every entry's key text, kind and payload JSON
//! are hashed into the chain, so an existing ledger verifies only while the
//! service writes them exactly as it always has. These golden strings change
//! only on purpose, with a migration for the ledgers already kept.

use chrono::NaiveDate;
use shuangsui::desk::{
    Announcement, BeaconRound, DrawRecord, HistoryDraw, MergeSource, Redraw, SeedMethod, SubstitutionRecord,
};
use shuangsui::ids::{CertNo, CreditCode};
use shuangsui::ledger::{Head, Key, Kind, Ledger, Payload};
use shuangsui::plan::{Plan, PlanFile};
use shuangsui::pools::SnapshotHashes;
use shuangsui::results::{InspectionResult, Notice};
use shuangsui::scheduled::Skipped;
use shuangsui::snapshot::Hash32;
use shuangsui::substitution::{Entry, Reason};

fn hash(byte: u8) -> Hash32 {
    Hash32([byte; 32])
}

fn h(byte: u8) -> String {
    hash(byte).to_hex()
}

#[test]
fn keys_are_written_as_they_always_were() {
    let snapshot = hash(0xab);
    let cases = [
        (Key::Snapshot(&snapshot), format!("snapshot:{}", "ab".repeat(32))),
        (
            Key::Announce("PZ-SCJG-2026Q1~2"),
            "announce:PZ-SCJG-2026Q1~2".to_owned(),
        ),
        (Key::Draw("PZ-SCJG-2026Q1"), "draw:PZ-SCJG-2026Q1".to_owned()),
        (
            Key::Substitute("PZ-SCJG-2026Q1", 3),
            "substitute:PZ-SCJG-2026Q1:3".to_owned(),
        ),
        (
            Key::Result("PZ-SCJG-2026Q1", "92520281MAGCJBRMDT"),
            "result:PZ-SCJG-2026Q1:92520281MAGCJBRMDT".to_owned(),
        ),
        (
            Key::ResultsNotice("PZ-SCJG-2026Q1", 42),
            "results-notice:PZ-SCJG-2026Q1:42".to_owned(),
        ),
    ];
    for (key, text) in cases {
        assert_eq!(key.to_string(), text);
    }
}

fn snapshot() -> SnapshotHashes {
    SnapshotHashes {
        departments: hash(1),
        items: hash(2),
        inspectors: hash(3),
        targets: hash(4),
        conflicts: hash(5),
    }
}

fn plan() -> Plan {
    Plan::load(std::path::Path::new("config/plans/quarterly-scjg.toml")).expect("the bundled plan loads")
}

fn announcement() -> Announcement {
    let plan = plan();
    Announcement {
        task_id: "PZ-SCJG-2026Q1~2".into(),
        plan_sha256: hash(6),
        plan,
        snapshot: snapshot(),
        snapshot_combined: hash(7),
        seed_method: SeedMethod::Commit {
            commitment: h(8),
            beacon: Some(BeaconRound {
                chain: "quicknet".into(),
                round: 12345,
                round_time: "2026-04-01T02:00:00Z".into(),
            }),
        },
        redraw: Some(Redraw {
            of: "PZ-SCJG-2026Q1".into(),
            reason: "复核".into(),
        }),
        occurrence: Some("quarterly@2026-04-01T02:00:00Z".into()),
        unannounced: false,
        merge_sources: vec![MergeSource {
            plan_id: "A".into(),
            task_id: "A-1".into(),
            bundle: "bundle-a".into(),
            result_sha256: hash(9),
        }],
        history_sources: vec![HistoryDraw {
            plan_id: "B".into(),
            task_id: "B-1".into(),
            bundle: "bundle-b".into(),
            result_sha256: hash(10),
            substitutions: 2,
        }],
        history_sha256: Some(hash(11)),
    }
}

fn draw_record() -> DrawRecord {
    DrawRecord {
        task_id: "PZ-SCJG-2026Q1".into(),
        bundle: "PZ-SCJG-2026Q1-0123456789ab".into(),
        seed: h(12),
        result_sha256: hash(13),
        manifest_sha256: hash(14),
        ledger_head_before: Head { seq: 7, hash: hash(15) },
    }
}

fn substitution() -> SubstitutionRecord {
    SubstitutionRecord {
        task_id: "PZ-SCJG-2026Q1".into(),
        bundle: "PZ-SCJG-2026Q1-0123456789ab".into(),
        entry: Entry {
            seq: 1,
            credit_code: CreditCode::parse("92520281MAGCJBRMDT").expect("a valid credit code"),
            out: CertNo::parse("PZ-0001").unwrap(),
            incoming: CertNo::parse("PZ-0002").unwrap(),
            reason: Reason::Leave,
            decided_at: "2026-04-02T09:30:00+08:00".into(),
            note: None,
            relation: None,
        },
        result_sha256: hash(16),
    }
}

fn result() -> InspectionResult {
    InspectionResult {
        task_id: "PZ-SCJG-2026Q1".into(),
        credit_code: "92520281MAGCJBRMDT".into(),
        codes: vec!["1".into(), "E".into()],
        inspection_date: NaiveDate::from_ymd_opt(2026, 4, 10).unwrap(),
        methods: vec!["书面检查".into()],
        follow_up: String::new(),
        closed: true,
    }
}

fn notice() -> Notice {
    Notice {
        task_id: "PZ-SCJG-2026Q1".into(),
        results: vec![20, 21],
    }
}

fn skipped() -> Skipped {
    Skipped {
        occurrence: "quarterly@2026-04-01T02:00:00Z".into(),
        reason: "missed while the service was down".into(),
        task_id: "PZ-SCJG-2026Q1-20260401".into(),
    }
}

fn text<P: Payload>(payload: &P) -> String {
    serde_json::to_string(payload).unwrap()
}

/// Checks the golden text and that it reads back to the same value.
fn pinned<P: Payload + PartialEq + std::fmt::Debug>(payload: P, kind: Kind, golden: &str) {
    assert_eq!(P::KIND, kind);
    assert_eq!(text(&payload), golden, "{kind} payload bytes");
    assert_eq!(
        serde_json::from_str::<P>(golden).unwrap(),
        payload,
        "{kind} payload reads back"
    );
}

/// A ceremony's place was added later: an announcement made before it
/// reads back without one and is written as it was.
#[test]
fn a_ceremony_is_written_with_its_place_and_without_one_as_before() {
    let at = "2026-03-16T09:30:00+08:00";
    let before = format!(r#"{{"kind":"ceremony","at":"{at}"}}"#);
    let old: SeedMethod = serde_json::from_str(&before).unwrap();
    assert_eq!(
        old,
        SeedMethod::Ceremony {
            at: at.into(),
            place: None
        }
    );
    assert_eq!(serde_json::to_string(&old).unwrap(), before);
    let placed = SeedMethod::Ceremony {
        at: at.into(),
        place: Some("一楼摇号室".into()),
    };
    let text = format!(r#"{{"kind":"ceremony","at":"{at}","place":"一楼摇号室"}}"#);
    assert_eq!(serde_json::to_string(&placed).unwrap(), text);
    assert_eq!(serde_json::from_str::<SeedMethod>(&text).unwrap(), placed);
}

#[test]
fn payloads_are_written_as_they_always_were() {
    pinned(
        snapshot(),
        Kind::SnapshotRegistered,
        &format!(
            r#"{{"departments":"{}","items":"{}","inspectors":"{}","targets":"{}","conflicts":"{}"}}"#,
            h(1),
            h(2),
            h(3),
            h(4),
            h(5)
        ),
    );
    let plan_json = serde_json::to_string(&plan()).unwrap();
    pinned(
        announcement(),
        Kind::PlanAnnounced,
        &format!(
            concat!(
                r#"{{"task_id":"PZ-SCJG-2026Q1~2","plan":{plan},"plan_sha256":"{h6}","#,
                r#""snapshot":{{"departments":"{h1}","items":"{h2}","inspectors":"{h3}","targets":"{h4}","conflicts":"{h5}"}},"#,
                r#""snapshot_combined":"{h7}","#,
                r#""seed_method":{{"kind":"commit","commitment":"{h8}","beacon":{{"chain":"quicknet","round":12345,"round_time":"2026-04-01T02:00:00Z"}}}},"#,
                r#""redraw":{{"of":"PZ-SCJG-2026Q1","reason":"复核"}},"occurrence":"quarterly@2026-04-01T02:00:00Z","unannounced":false,"#,
                r#""merge_sources":[{{"plan_id":"A","task_id":"A-1","bundle":"bundle-a","result_sha256":"{h9}"}}],"#,
                r#""history_sources":[{{"plan_id":"B","task_id":"B-1","bundle":"bundle-b","result_sha256":"{h10}","substitutions":2}}],"#,
                r#""history_sha256":"{h11}"}}"#
            ),
            plan = plan_json,
            h1 = h(1),
            h2 = h(2),
            h3 = h(3),
            h4 = h(4),
            h5 = h(5),
            h6 = h(6),
            h7 = h(7),
            h8 = h(8),
            h9 = h(9),
            h10 = h(10),
            h11 = h(11)
        ),
    );
    pinned(
        draw_record(),
        Kind::DrawMade,
        &format!(
            concat!(
                r#"{{"task_id":"PZ-SCJG-2026Q1","bundle":"PZ-SCJG-2026Q1-0123456789ab","seed":"{}","#,
                r#""result_sha256":"{}","manifest_sha256":"{}","ledger_head_before":{{"seq":7,"hash":"{}"}}}}"#
            ),
            h(12),
            h(13),
            h(14),
            h(15)
        ),
    );
    pinned(
        substitution(),
        Kind::OfficerSubstituted,
        &format!(
            concat!(
                r#"{{"task_id":"PZ-SCJG-2026Q1","bundle":"PZ-SCJG-2026Q1-0123456789ab","#,
                r#""entry":{{"seq":1,"credit_code":"92520281MAGCJBRMDT","out":"PZ-0001","in":"PZ-0002","reason":"leave","decided_at":"2026-04-02T09:30:00+08:00"}},"#,
                r#""result_sha256":"{}"}}"#
            ),
            h(16)
        ),
    );
    pinned(
        result(),
        Kind::ResultRecorded,
        concat!(
            r#"{"task_id":"PZ-SCJG-2026Q1","credit_code":"92520281MAGCJBRMDT","codes":["1","E"],"#,
            r#""inspection_date":"2026-04-10","methods":["书面检查"],"follow_up":"","closed":true}"#
        ),
    );
    pinned(
        notice(),
        Kind::ResultsPublished,
        r#"{"task_id":"PZ-SCJG-2026Q1","results":[20,21]}"#,
    );
    pinned(
        skipped(),
        Kind::OccurrenceSkipped,
        concat!(
            r#"{"occurrence":"quarterly@2026-04-01T02:00:00Z","reason":"missed while the service was down","#,
            r#""task_id":"PZ-SCJG-2026Q1-20260401"}"#
        ),
    );
}

/// One entry of each kind through the typed append: the chain's head hash
/// over all of them is pinned, so key text, kind text, payload bytes and the
/// entry hash cannot drift apart unnoticed.
#[tokio::test]
async fn a_ledger_of_every_kind_has_the_same_head() {
    let ledger = Ledger::open("sqlite::memory:").await.unwrap();
    let at = "2026-04-01T10:00:00+08:00";
    let snapshot_hash = hash(7);
    ledger
        .append_typed(&Key::Snapshot(&snapshot_hash), &snapshot(), at)
        .await
        .unwrap();
    ledger
        .append_typed(&Key::Announce("PZ-SCJG-2026Q1~2"), &announcement(), at)
        .await
        .unwrap();
    ledger
        .append_typed(&Key::Draw("PZ-SCJG-2026Q1"), &draw_record(), at)
        .await
        .unwrap();
    ledger
        .append_typed(&Key::Substitute("PZ-SCJG-2026Q1", 1), &substitution(), at)
        .await
        .unwrap();
    let key = Key::Result("PZ-SCJG-2026Q1", "92520281MAGCJBRMDT");
    ledger.append_typed(&key, &result(), at).await.unwrap();
    ledger
        .append_typed(&Key::ResultsNotice("PZ-SCJG-2026Q1", 5), &notice(), at)
        .await
        .unwrap();
    ledger
        .append_typed(&Key::Draw("PZ-SCJG-2026Q1-20260401"), &skipped(), at)
        .await
        .unwrap();
    let head = ledger.verify_chain().await.unwrap();
    assert_eq!(head.seq, 7);
    assert_eq!(
        head.hash.to_hex(),
        "8ca9a7492abf13316a2de25ba47809d9e8abe5ab09d0dd9888c0d596f5e68106"
    );

    // Read back typed, and refused as the wrong kind.
    let (record, _) = &ledger.all::<DrawRecord>().await.unwrap()[0];
    assert_eq!(*record, draw_record());
    let skip = ledger
        .get(&Key::Draw("PZ-SCJG-2026Q1-20260401"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(skip.typed::<Skipped>().unwrap(), skipped());
    assert!(skip.typed::<DrawRecord>().is_err(), "a skip is not a draw");
}
