//! The public search ("was this business drawn?") over a year of draws at
//! national scale: twenty lists of 90,538 businesses each (every business of
//! the bundled Panzhou pool, so the names and codes are real ones), 1.8
//! million rows in all. Run with `cargo bench --bench search`; criterion
//! reports the median of one search, counted over every draw, with the
//! first page of hits; and the indexing of one list, done once per draw
//! (again after a substitution or a results notice).

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use shuangsui::history::History;
use shuangsui::plan::{Plan, PlanFile};
use shuangsui::pools::{load, LoadOptions};
use shuangsui::public::publications::parse_rows;
use shuangsui::public::{CurrentList, DrawIndex, PublishedDraw, SearchIndex, SEARCH_LIMIT};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DRAWS: usize = 20;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One published draw's public manifest: that of a real draw of the
/// quarterly plan, written to a scratch folder.
fn published(out: &Path) -> PublishedDraw {
    let data = root().join("data");
    let plan = Plan::load(&root().join("config/plans/quarterly-scjg.toml")).unwrap();
    let seed =
        shuangsui::entropy::parse_seed("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").unwrap();
    let pools = load(&data, LoadOptions::default()).unwrap();
    let history = History::default();
    let outcome = shuangsui::draw::draw(&pools, &plan, &history, &seed.seed).unwrap();
    let (confidential, public) = shuangsui::bundle::contents(
        &pools,
        &plan,
        &history,
        &[],
        &seed,
        &outcome,
        "2026-03-01T10:00:00+08:00",
    );
    let path = shuangsui::bundle::write(out, "bench", &confidential, &public).unwrap();
    let manifest = shuangsui::bundle::read(&path.join("public")).unwrap().manifest;
    PublishedDraw {
        name: "bench".into(),
        dir: path,
        manifest,
        unannounced: false,
        ceremony_place: None,
    }
}

fn benches(c: &mut Criterion) {
    let out = tempfile::tempdir().unwrap();
    let draw = published(out.path());
    let pools = load(&root().join("data"), LoadOptions::default()).unwrap();
    let mut csv = String::from("序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\n");
    for (n, target) in pools.targets.iter().enumerate() {
        let name = pools.target_name(target).replace(',', "，");
        csv.push_str(&format!(
            "{},{},{name},SCJG-130,年报检查,C1,C1;C2\n",
            n + 1,
            target.code
        ));
    }
    let list = Arc::new(CurrentList::new(parse_rows(csv.as_bytes()).unwrap(), None).unwrap());
    // Each draw's index built on its own, so that a search reads as much
    // memory as it would over twenty different lists.
    let index = SearchIndex::of_draws(
        (0..DRAWS)
            .map(|_| Arc::new(DrawIndex::new(&draw, Arc::clone(&list))))
            .collect(),
    );

    c.bench_function("index one list of 90,538 businesses", |b| {
        b.iter(|| DrawIndex::new(&draw, Arc::clone(&list)))
    });
    for (label, query) in [
        ("common words (红果)", "红果"),
        ("a whole business name", "盘州市翰林王记烟酒店"),
        ("part of a credit code (MAGCJ)", "MAGCJ"),
        ("a whole credit code", "92520281MAGCJBRMDT"),
        ("nothing (不存在的名字)", "不存在的名字"),
    ] {
        c.bench_function(&format!("search {label} in {DRAWS} national draws"), |b| {
            b.iter(|| index.find(query, 0, SEARCH_LIMIT).total)
        });
    }
}

criterion_group! {
    name = search_benches;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(search_benches);
