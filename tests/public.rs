//! The public pages and downloads on real bundles drawn through the library:
//! every page and export is made, nothing confidential reaches any of them,
//! and the search finds what was drawn.

mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use shuangsui::commands::{draw_bundle, substitute_in_bundle};
use shuangsui::ids::{CertNo, CreditCode};
use shuangsui::pools::LoadOptions;
use shuangsui::public::exports::PUBLIC_FILES;
use shuangsui::public::exports::{DRAWN_TEAM_HEADER, SUBSTITUTIONS_HEADER};
use shuangsui::public::{
    assignments_xlsx, bundle_zip, current_csv, draw_page, index_page, not_found_page, search_page, verify_page,
    AnnouncementView, CurrentList, LedgerHead, PublicRow, Publications, PublishedDraw, SearchIndex,
};
use shuangsui::substitution::{Reason, Request};

/// Draws `plan` with `seed` on `data` into `out` and returns the bundle path.
fn draw(data: &Path, plan: &Path, seed: &str, out: &Path) -> PathBuf {
    let seed = shuangsui::entropy::parse_seed(seed).unwrap();
    draw_bundle(
        data,
        plan,
        &seed,
        Default::default(),
        out,
        &shuangsui::clock::OfficeClock::system(shuangsui::clock::Zone::default()).stamp(),
        LoadOptions::default(),
    )
    .unwrap()
    .path
}

/// Two draws of a small generated pool: one from a ceremony, one ad hoc.
struct Fixture {
    _root: tempfile::TempDir,
    bundles: PathBuf,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let data = common::small_pool(root.path(), 7);
    let pools = common::load_pools(&data);
    let plan = root.path().join("plan.toml");
    std::fs::write(&plan, common::plan_toml(&pools, 3, "[selection]\ncount = 60\n")).unwrap();
    let bundles = root.path().join("bundles");
    draw(&data, &plan, "ceremony:2026 0112 0930 4471 8265 3390", &bundles);
    // The second plan has its own id, so both bundles can exist side by side.
    let second = root.path().join("plan2.toml");
    let text = std::fs::read_to_string(&plan).unwrap().replace("TEST-1", "TEST-2");
    std::fs::write(&second, text).unwrap();
    draw(&data, &second, "random", &bundles);
    // A bundle being written, and a folder that is not a bundle: both skipped.
    std::fs::create_dir_all(bundles.join(".TEST-3_000000000000.tmp-1/public")).unwrap();
    std::fs::create_dir_all(bundles.join("lost+found")).unwrap();
    Fixture { _root: root, bundles }
}

fn head() -> LedgerHead {
    LedgerHead {
        seq: 7,
        hash: "5e".repeat(32),
        checkpoint: None,
    }
}

/// credit code → risk class, from the confidential copy.
fn risk_classes(draw: &PublishedDraw) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(draw.dir.join("assignments.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(reader.headers().unwrap().get(7), Some("信用风险分类"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_owned(), r[7].to_owned())
        })
        .collect()
}

/// Nothing confidential in a page or export: no risk-class column, no
/// per-class counts, and no cell holding only a risk class.
fn assert_public(what: &str, text: &str) {
    for needle in ["信用风险分类", "风险分类", "\"strata\"", "risk class"] {
        assert!(!text.contains(needle), "{what} holds {needle:?}");
    }
    for class in ["A", "B", "C", "D"] {
        for cell in [
            format!("<td>{class}</td>"),
            format!("<dd>{class}</dd>"),
            format!(",{class}\r\n"),
        ] {
            assert!(!text.contains(&cell), "{what} holds a risk-class cell {cell:?}");
        }
    }
}

#[test]
fn every_page_and_export_on_real_bundles() {
    let f = fixture();
    let publications = Publications::open(&f.bundles);
    let draws = publications.list().unwrap();
    let names: Vec<&str> = draws.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(draws.len(), 2, "{names:?}");
    let ceremony = draws.iter().find(|d| d.name.starts_with("TEST-1_")).unwrap();
    let ad_hoc = draws.iter().find(|d| d.name.starts_with("TEST-2_")).unwrap();
    assert!(!ceremony.is_ad_hoc());
    assert!(ad_hoc.is_ad_hoc(), "a random seed is ad hoc on its own");

    let rows: Vec<Vec<PublicRow>> = draws.iter().map(|d| d.rows().unwrap()).collect();
    for (d, r) in draws.iter().zip(&rows) {
        assert_eq!(r.len(), d.manifest.counts.visits);
        assert!(r.len() > 20);
        assert_eq!(
            r.iter().map(|r| r.number).collect::<Vec<_>>(),
            (1..=r.len() as u32).collect::<Vec<_>>()
        );
        assert!(r.iter().all(|r| r.team.len() == 2 && r.team[0] == r.leader));
        assert!(r
            .iter()
            .all(|r| !r.items.is_empty() && r.items.len() == r.item_names.len()));
    }
    let risk = risk_classes(ceremony);
    assert_eq!(risk.len(), ceremony.manifest.counts.visits);

    let announcements = [AnnouncementView {
        task_id: "T-2026-001".into(),
        plan_id: "TEST-1".into(),
        plan_name: "测试计划".into(),
        department: ceremony.manifest.plan.content.department().to_owned(),
        inspection_date: "2026-03-02".into(),
        seed_method: "公开摇号：2026-01-05 10:00 现场录入".into(),
        announced_at: "2026-01-01 09:00".into(),
        snapshot_combined: ceremony.manifest.snapshot_combined.to_hex(),
        drawn: Some(ceremony.name.clone()),
    }];
    let index = index_page(&draws, &announcements, &head());
    assert!(index.contains(&format!("href=\"/draws/{}\"", ceremony.name)));
    assert!(index.contains(&ceremony.manifest.result_sha256.to_hex()));
    assert!(index.contains(&ceremony.manifest.seed.hex));
    assert_public("index", &index);

    let ceremony_rows = &rows[draws.iter().position(|d| d.name == ceremony.name).unwrap()];
    let ceremony_list = ceremony.current().unwrap();
    assert!(ceremony_list.substitutions.is_none());
    assert!(ceremony_list
        .rows
        .iter()
        .zip(ceremony_rows)
        .all(|(c, r)| c.drawn == *r && c.team == r.team));
    let page = draw_page(ceremony, &ceremony_list, &head());
    assert_eq!(
        page.matches("<tr><td class=\"n\" data-label=\"序号\">").count(),
        ceremony_rows.len()
    );
    for row in ceremony_rows {
        assert!(page.contains(&format!("<code>{}</code>", row.credit_code)));
    }
    assert!(page.contains("2026 0112 0930 4471 8265 3390"), "the ceremony text");
    assert!(!page.contains("未事先公告"));
    assert!(page.contains(&ceremony.manifest.snapshot.conflicts.to_hex()));
    assert_public("draw page", &page);
    let ad_hoc_rows = &rows[draws.iter().position(|d| d.name == ad_hoc.name).unwrap()];
    assert_eq!(ad_hoc.current().unwrap().len(), ad_hoc_rows.len());
    let ad_hoc_page = draw_page(ad_hoc, &ad_hoc.current().unwrap(), &head());
    assert!(ad_hoc_page.contains("未事先公告的临时抽取"));
    assert!(ad_hoc_page.contains("ad hoc, not announced in advance"));
    assert_public("ad hoc draw page", &ad_hoc_page);

    // Search: full code, partial code in lower case, part of a name.
    let search = SearchIndex::build(&draws).unwrap();
    assert_eq!(search.len(), rows.iter().map(Vec::len).sum::<usize>());
    let sample = &ceremony_rows[ceremony_rows.len() / 2];
    let hits = search.search(&sample.credit_code, 50);
    assert!(hits
        .iter()
        .any(|h| h.draw_name == ceremony.name && h.credit_code == sample.credit_code && h.team == sample.team));
    assert!(hits.iter().all(|h| h.credit_code == sample.credit_code));
    let partial = sample.credit_code[6..14].to_lowercase();
    assert!(search
        .search(&partial, 50)
        .iter()
        .any(|h| h.credit_code == sample.credit_code));
    let name_part: String = sample.name.chars().skip(2).take(3).collect();
    let by_name = search.search(&name_part, 500);
    assert!(by_name.iter().any(|h| h.credit_code == sample.credit_code));
    assert!(by_name.iter().all(|h| h.name.contains(&name_part)));
    assert!(search.search("   ", 50).is_empty());
    let results = search_page(&sample.credit_code, &hits, &head());
    assert!(results.contains(&sample.name));
    assert_public("search page", &results);
    let nothing = search_page("不存在的企业名称", &search.search("不存在的企业名称", 50), &head());
    assert!(nothing.contains("未找到"));
    assert_public("empty search page", &nothing);

    let verify = verify_page(&head());
    assert!(verify.contains("shuangsui verify BUNDLE --data DIR"));
    assert!(verify.contains("python3 tools/verify.py BUNDLE --data DIR"));
    assert!(verify.contains(&"5e".repeat(32)));
    assert!(!verify.contains(&sample.credit_code));
    assert_public("verify page", &verify);
    assert_public("not found page", &not_found_page("x"));

    // The Excel list: a zip, codes and certificate numbers as text, and the
    // same cells as the public CSV, then the team as drawn and the (no)
    // substitutions, and no risk class.
    let xlsx = assignments_xlsx(ceremony, &ceremony_list).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.clone())).unwrap();
    let sheet = workbook.worksheet_range("抽查名单").unwrap();
    let cells: Vec<&[Data]> = sheet.rows().collect();
    assert!(matches!(&cells[0][0], Data::String(title) if title.contains(&ceremony.manifest.plan.id)));
    let header: Vec<String> = cells[1].iter().map(|c| c.to_string()).collect();
    let mut expected = shuangsui::public::publications::PUBLIC_HEADER.to_vec();
    expected.extend([DRAWN_TEAM_HEADER, SUBSTITUTIONS_HEADER]);
    assert_eq!(header, expected);
    assert_eq!(cells.len(), ceremony_rows.len() + 2);
    for (cells, row) in cells[2..].iter().zip(ceremony_rows) {
        assert_eq!(cells.len(), 9);
        assert_eq!(cells[7], Data::String(row.team.join(";")), "the team as drawn");
        assert_eq!(cells[8], Data::Empty, "no substitution");
        assert_eq!(cells[0], Data::Float(f64::from(row.number)));
        assert_eq!(cells[1], Data::String(row.credit_code.clone()), "credit code as text");
        assert_eq!(cells[2], Data::String(row.name.clone()));
        assert_eq!(cells[5], Data::String(row.leader.clone()), "certificate number as text");
        assert_eq!(cells[6], Data::String(row.team.join(";")));
        assert_ne!(cells[1].to_string(), risk[&row.credit_code]);
    }
    let mut shared = String::new();
    zip::ZipArchive::new(Cursor::new(xlsx))
        .unwrap()
        .by_name("xl/sharedStrings.xml")
        .unwrap()
        .read_to_string(&mut shared)
        .unwrap();
    assert_public("xlsx shared strings", &shared);
    for class in ["A", "B", "C", "D"] {
        assert!(
            !shared.contains(&format!(">{class}<")),
            "a risk class {class} in the workbook"
        );
    }

    // The zip: the same bytes twice, the five public files only, as on disk.
    let zipped = bundle_zip(ceremony).unwrap();
    assert_eq!(zipped, bundle_zip(ceremony).unwrap(), "deterministic");
    let mut archive = zip::ZipArchive::new(Cursor::new(zipped)).unwrap();
    let entries: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let expected: Vec<String> = PUBLIC_FILES.iter().map(|n| format!("{}/{n}", ceremony.name)).collect();
    assert_eq!(entries, expected);
    for file in PUBLIC_FILES {
        let mut bytes = Vec::new();
        archive
            .by_name(&format!("{}/{file}", ceremony.name))
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(
            bytes,
            std::fs::read(ceremony.public_dir().join(file)).unwrap(),
            "{file}"
        );
        assert_public(file, &String::from_utf8(bytes).unwrap());
    }
}

#[test]
fn get_finds_bundles_and_refuses_traversal() {
    let f = fixture();
    let publications = Publications::open(&f.bundles);
    let name = publications.list().unwrap()[0].name.clone();
    let draw = publications.get(&name).unwrap().expect("an existing bundle");
    assert_eq!(draw.dir, f.bundles.join(&name));
    // The bundle folder holds the confidential manifest; `get` must read public/.
    assert_eq!(draw.manifest.visibility, shuangsui::bundle::Visibility::Public);
    assert!(draw.manifest.strata.is_none());
    for bad in [
        "..".to_owned(),
        format!("../bundles/{name}"),
        format!("{name}/.."),
        format!("{name}/public"),
        format!("./{name}"),
        format!("{name}\\..\\x"),
        ".TEST-3_000000000000.tmp-1".to_owned(),
        "lost+found".to_owned(),
        f.bundles.join(&name).display().to_string(),
        String::new(),
    ] {
        assert!(publications.get(&bad).unwrap().is_none(), "{bad:?}");
    }
}

#[test]
fn a_tampered_public_list_is_refused() {
    let f = fixture();
    let publications = Publications::open(&f.bundles);
    let draw = publications.list().unwrap().remove(0);
    let path = draw.public_dir().join("assignments.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\r\n1,", "\r\n1,X", 1)).unwrap();
    assert_eq!(draw.rows().unwrap_err().kind(), std::io::ErrorKind::InvalidData);
}

/// The row of the draw page's list for `code` (not the substitutions table).
fn list_row<'p>(page: &'p str, code: &str) -> &'p str {
    page.split("<tr>")
        .find(|tr| {
            tr.starts_with("<td class=\"n\" data-label=\"序号\">") && tr.contains(&format!("<code>{code}</code>"))
        })
        .unwrap_or_else(|| panic!("no row for {code}"))
}

/// A substitution made on a bundle (the CLI's `shuangsui substitute`) shows
/// in every view of the draw: the page, the search, the downloads; the team
/// as drawn stays beside it, and the hashed draw record is left as it was.
#[test]
fn a_substitution_reaches_every_view_and_the_drawn_record_stays() {
    let root = tempfile::tempdir().unwrap();
    let data = common::small_pool(root.path(), 7);
    let pools = common::load_pools(&data);
    let plan = root.path().join("plan.toml");
    std::fs::write(&plan, common::plan_toml(&pools, 3, "[selection]\ncount = 60\n")).unwrap();
    let bundles = root.path().join("bundles");
    let bundle = draw(&data, &plan, "ceremony:2026 0112 0930 4471 8265 3390", &bundles);
    let publications = Publications::open(&bundles);
    let published = publications.list().unwrap().remove(0);
    let drawn_bytes = std::fs::read(published.public_dir().join("assignments.csv")).unwrap();
    let rows = published.rows().unwrap();
    let victim = rows[rows.len() / 2].clone();
    let out = victim.team[0].clone();
    let request = Request {
        credit_code: CreditCode::parse(&victim.credit_code).unwrap(),
        out: CertNo::parse(&out).unwrap(),
        reason: Reason::Leave,
        note: "病假".into(),
        relation: String::new(),
    };
    let entry = substitute_in_bundle(
        &bundle,
        &data,
        &request,
        "2026-03-01T10:00:00+08:00",
        LoadOptions::default(),
    )
    .unwrap();
    let incoming = entry.incoming.to_string();
    let mut current_team = victim.team.clone();
    current_team[0] = incoming.clone();

    // One list, the substitute leading in the place of the leader replaced.
    let list = published.current().unwrap();
    let row = list
        .rows
        .iter()
        .find(|r| r.drawn.credit_code == victim.credit_code)
        .unwrap();
    assert_eq!(row.team, current_team);
    assert_eq!(row.leader(), incoming);
    assert_eq!(row.drawn_team(), victim.team);
    assert_eq!(list.rows.iter().filter(|r| r.is_substituted()).count(), 1);

    // The draw page.
    let page = draw_page(&published, &list, &head());
    let tr = list_row(&page, &victim.credit_code);
    assert!(
        tr.contains(&format!(
            "<td data-label=\"组长\"><code>{incoming}</code></td><td data-label=\"检查人员\"><code>{}</code>",
            current_team.join("<br>")
        )),
        "the page shows the current leader and team: {tr}"
    );
    assert!(tr.contains(&format!(
        "抽取时 <span class=\"en\">as drawn</span>：<code>{}</code>",
        victim.team.join("、")
    )));
    assert!(!page.contains("病假"), "the confidential note stays out");

    // The search and its page.
    let index = SearchIndex::build(&publications.list().unwrap()).unwrap();
    let hits = index.search(&victim.credit_code, 10);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].leader.as_str(), &hits[0].team),
        (incoming.as_str(), &current_team)
    );
    assert_eq!(hits[0].drawn_team, victim.team);
    assert_eq!(hits[0].substitutions, [1]);
    let found = search_page(&victim.credit_code, &hits, &head());
    assert!(found.contains(&format!("<code>{incoming}</code>")) && found.contains("抽取时检查组"));

    // The current list as CSV and Excel: the current team, then the drawn one.
    let csv = current_csv(&published, &list);
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    let record = reader
        .records()
        .map(Result::unwrap)
        .find(|r| r[1] == victim.credit_code)
        .unwrap();
    assert_eq!(&record[5], incoming);
    assert_eq!(&record[6], current_team.join(";"));
    assert_eq!(&record[7], victim.team.join(";"));
    assert_eq!(&record[8], format!("#1 {out}→{incoming}"));
    let xlsx = assignments_xlsx(&published, &list).unwrap();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    let sheet = workbook.worksheet_range("抽查名单").unwrap();
    let cells = sheet
        .rows()
        .find(|r| r[1] == Data::String(victim.credit_code.clone()))
        .unwrap();
    assert_eq!(cells[5], Data::String(incoming.clone()));
    assert_eq!(cells[6], Data::String(current_team.join(";")));
    assert_eq!(cells[7], Data::String(victim.team.join(";")));
    assert_eq!(cells[8], Data::String(format!("#1 {out}→{incoming}")));

    // The draw itself is untouched and still matches its hash.
    assert_eq!(
        std::fs::read(published.public_dir().join("assignments.csv")).unwrap(),
        drawn_bytes
    );
    assert_eq!(published.rows().unwrap(), rows);
    let mut zipped = zip::ZipArchive::new(Cursor::new(bundle_zip(&published).unwrap())).unwrap();
    let mut bytes = Vec::new();
    zipped
        .by_name(&format!("{}/assignments.csv", published.name))
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes, drawn_bytes);
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Timings for the README: `cargo test --release --test public -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn timing_draw_page() {
    let root = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = draw(
        &repo.join("data"),
        &repo.join("config/plans/quarterly-scjg.toml"),
        "ceremony:2026-1128-1000-0000-0001",
        &root.path().join("bundles"),
    );
    let publications = Publications::open(&root.path().join("bundles"));
    let name = bundle.file_name().unwrap().to_str().unwrap();
    let real = publications.get(name).unwrap().unwrap();
    let runs = 21;
    let time = |draw: &PublishedDraw| {
        let mut read = Vec::new();
        let mut total = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let list = draw.current().unwrap();
            read.push(start.elapsed());
            size = draw_page(draw, &list, &head()).len();
            total.push(start.elapsed());
        }
        (median(read), median(total), size)
    };
    let (read, total, size) = time(&real);
    println!(
        "quarterly plan, {} rows: current() {read:?}, current() + draw_page {total:?}, page {size} bytes",
        real.manifest.counts.visits
    );

    // A 10,000-row list: the real rows repeated under new codes, written as a
    // public bundle whose manifest records the new file's hash.
    let rows = real.rows().unwrap();
    let synthetic_dir = root.path().join("synthetic/BIG_000000000000");
    std::fs::create_dir_all(synthetic_dir.join("public")).unwrap();
    let mut csv = String::from("\u{feff}序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\r\n");
    for n in 0..10_000usize {
        let row = &rows[n % rows.len()];
        csv.push_str(&format!(
            "{},{}{:04},{},{},{},{},{}\r\n",
            n + 1,
            &row.credit_code[..14],
            n,
            row.name,
            row.items.join(";"),
            row.item_names.join("；"),
            row.leader,
            row.team.join(";")
        ));
    }
    std::fs::write(synthetic_dir.join("public/assignments.csv"), &csv).unwrap();
    let mut manifest = real.manifest.clone();
    manifest.counts.visits = 10_000;
    for file in &mut manifest.files {
        if file.name == "assignments.csv" {
            file.sha256 = shuangsui::snapshot::bytes_hash(csv.as_bytes());
        }
    }
    std::fs::write(
        synthetic_dir.join("public/manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let big = Publications::open(&root.path().join("synthetic"))
        .get("BIG_000000000000")
        .unwrap()
        .unwrap();
    let (read, total, size) = time(&big);
    println!("synthetic, 10000 rows: current() {read:?}, current() + draw_page {total:?}, page {size} bytes");

    let mut xlsx = Vec::new();
    let mut zips = Vec::new();
    let real_list = real.current().unwrap();
    for _ in 0..5 {
        let start = Instant::now();
        assignments_xlsx(&real, &real_list).unwrap();
        xlsx.push(start.elapsed());
        let start = Instant::now();
        bundle_zip(&real).unwrap();
        zips.push(start.elapsed());
    }
    println!(
        "quarterly plan: assignments_xlsx {:?}, bundle_zip {:?}",
        median(xlsx),
        median(zips)
    );

    // Search over 100 draws of 2,000 rows.
    let draws: Vec<PublishedDraw> = (0..100)
        .map(|k| {
            let mut d = real.clone();
            d.name = format!("D{k:03}");
            d
        })
        .collect();
    let big_rows = big.rows().unwrap();
    let per_draw: Vec<CurrentList> = (0..100)
        .map(|k| CurrentList::new(big_rows[(k * 80) % 8000..(k * 80) % 8000 + 2000].to_vec(), None).unwrap())
        .collect();
    let start = Instant::now();
    let index = SearchIndex::from_lists(&draws, per_draw);
    println!("search index of {} rows built in {:?}", index.len(), start.elapsed());
    let code = big_rows[5000].credit_code.clone();
    for query in [
        code.as_str(),
        &code[4..12],
        "盘州市",
        "不存在的企业名称",
        "zzzzzzzz",
        &big_rows[5000].name,
    ] {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..51 {
            let start = Instant::now();
            n = index.search(query, shuangsui::public::SEARCH_LIMIT).len();
            times.push(start.elapsed());
        }
        println!("search {query:?}: {n} hits in {:?}", median(times));
    }
}

/// The catalogue the service reads through reads a draw once while its
/// files stay as they were; a substitution or a results notice on one draw
/// makes it read that draw again, not the others, and the search index is
/// made again from the draws' own indexes, the unchanged ones shared.
#[test]
fn a_draw_is_read_once_until_its_own_files_change() {
    use shuangsui::public::catalogue::SETTLE;
    use shuangsui::public::Catalogue;
    use std::sync::Arc;

    let root = tempfile::tempdir().unwrap();
    let data = common::small_pool(root.path(), 7);
    let pools = common::load_pools(&data);
    let plan = root.path().join("plan.toml");
    std::fs::write(&plan, common::plan_toml(&pools, 3, "[selection]\ncount = 60\n")).unwrap();
    let bundles = root.path().join("bundles");
    let changed = draw(&data, &plan, "ceremony:2026 0112 0930 4471 8265 3390", &bundles);
    let second = root.path().join("plan2.toml");
    std::fs::write(
        &second,
        std::fs::read_to_string(&plan).unwrap().replace("TEST-1", "TEST-2"),
    )
    .unwrap();
    let kept = draw(&data, &second, "random", &bundles);
    let (changed_name, kept_name) = [&changed, &kept]
        .map(|b| b.file_name().unwrap().to_str().unwrap().to_owned())
        .into();
    let settle = || std::thread::sleep(SETTLE + Duration::from_millis(30));
    settle();

    let publications = Publications::open(&bundles);
    let catalogue = Catalogue::new();
    let get = |name: &str| catalogue.get(&publications, name).unwrap().unwrap();
    let first = get(&changed_name);
    assert!(Arc::ptr_eq(&first, &get(&changed_name)), "read once");
    assert!(Arc::ptr_eq(
        &first,
        &catalogue.cached(&publications, &changed_name).unwrap().unwrap()
    ));
    assert!(catalogue.get(&publications, "../bundles").unwrap().is_none());
    let (index, broken) = catalogue.search_index(&publications).unwrap();
    assert!(broken.is_empty());
    assert!(Arc::ptr_eq(&index, &catalogue.search_index(&publications).unwrap().0));
    let of = |index: &shuangsui::public::SearchIndex, name: &str| {
        index.draws().iter().find(|d| d.name() == name).unwrap().clone()
    };
    assert!(
        Arc::ptr_eq(&of(&index, &changed_name), &first.index),
        "the draw's own index"
    );
    let kept_index = of(&index, &kept_name);

    // A substitution on one draw: read again, with the substitute; the other
    // draw's index is shared by the new search index.
    let victim = first.list.rows[first.list.len() / 2].drawn.clone();
    let request = Request {
        credit_code: CreditCode::parse(&victim.credit_code).unwrap(),
        out: CertNo::parse(&victim.team[0]).unwrap(),
        reason: Reason::Leave,
        note: "病假".into(),
        relation: String::new(),
    };
    let entry = substitute_in_bundle(
        &changed,
        &data,
        &request,
        "2026-03-01T10:00:00+08:00",
        LoadOptions::default(),
    )
    .unwrap();
    let substituted = get(&changed_name);
    assert!(!Arc::ptr_eq(&first, &substituted));
    let row = substituted
        .list
        .rows
        .iter()
        .find(|r| r.drawn.credit_code == victim.credit_code)
        .unwrap();
    assert_eq!(row.leader(), entry.incoming.as_str());
    // While another search makes the index anew, a search is given the
    // index made before, not kept waiting; the one making it gets the new.
    let elsewhere = catalogue.hold_rebuild().unwrap();
    assert!(
        Arc::ptr_eq(&catalogue.search_index(&publications).unwrap().0, &index),
        "the index before, while another search makes the new one"
    );
    drop(elsewhere);
    let (grown, _) = catalogue.search_index(&publications).unwrap();
    assert!(!Arc::ptr_eq(&grown, &index));
    assert!(catalogue.hold_rebuild().is_some(), "the search that made it is done");
    assert!(
        Arc::ptr_eq(&of(&grown, &kept_name), &kept_index),
        "the other draw is not read again"
    );
    let hit = grown
        .search(&victim.credit_code, 10)
        .into_iter()
        .find(|h| h.draw_name == changed_name)
        .unwrap();
    assert_eq!(hit.leader, entry.incoming.as_str(), "the search has the substitute");

    // A results notice: that draw alone again.
    settle();
    let before = get(&changed_name);
    assert!(Arc::ptr_eq(&before, &get(&changed_name)));
    let notice = format!(
        "\u{feff}统一社会信用代码,名称,检查结果代码,检查结果,完成日期,公告日期,账本序号\r\n\
         {},企业,1,未发现问题,2026-03-05,2026-03-09,7\r\n",
        victim.credit_code
    );
    std::fs::write(changed.join("public/results.csv"), notice).unwrap();
    assert!(!Arc::ptr_eq(&before, &get(&changed_name)));
    let (noticed, _) = catalogue.search_index(&publications).unwrap();
    assert!(Arc::ptr_eq(&of(&noticed, &kept_name), &kept_index));
    let hit = noticed
        .search(&victim.credit_code, 10)
        .into_iter()
        .find(|h| h.draw_name == changed_name)
        .unwrap();
    let result = hit.result.expect("the search has the published result");
    assert_eq!(
        (result.codes, result.completed),
        (vec!["1".to_owned()], "2026-03-05".to_owned())
    );

    // A hand edit is read, and refused, at once.
    settle();
    let path = kept.join("public/assignments.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\r\n1,", "\r\n1,X", 1)).unwrap();
    let error = catalogue.get(&publications, &kept_name).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    let (without, broken) = catalogue.search_index(&publications).unwrap();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].name, kept_name);
    assert!(without.draws().iter().all(|d| d.name() != kept_name));
}
