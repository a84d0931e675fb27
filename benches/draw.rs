//! Speed goals of the core draw, on the bundled Panzhou-scale data:
//! load the 一单两库, draw the quarterly plan and the joint plan on the full
//! pool, verify a bundle, and substitute officers after a draw. Run with
//! `cargo bench`; criterion reports the median.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use shuangsui::bundle;
use shuangsui::draw::draw;
use shuangsui::history::History;
use shuangsui::plan::{Plan, PlanFile};
use shuangsui::pools::{load, LoadOptions};
use shuangsui::substitution::{Reason, Roster};

/// The allocator of the `shuangsui` binary (src/main.rs), so that the
/// figures are those of the program offices run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn benches(c: &mut Criterion) {
    let data = root().join("data");
    let plan = Plan::load(&root().join("config/plans/quarterly-scjg.toml")).expect("the shipped quarterly plan");
    let seed = shuangsui::entropy::parse_seed(SEED).unwrap();

    c.bench_function("load full pool", |b| {
        b.iter(|| load(&data, LoadOptions::default()).unwrap())
    });

    let pools = load(&data, LoadOptions::default()).unwrap();
    let history = History::default();
    c.bench_function("draw quarterly plan on full pool", |b| {
        b.iter(|| draw(&pools, &plan, &history, &seed.seed).unwrap())
    });

    let joint = Plan::load(&root().join("config/plans/joint-food-health.toml")).expect("the shipped joint plan");
    c.bench_function("draw joint plan on full pool", |b| {
        b.iter(|| draw(&pools, &joint, &history, &seed.seed).unwrap())
    });

    let outcome = draw(&pools, &plan, &history, &seed.seed).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (confidential, public) = bundle::contents(
        &pools,
        &plan,
        &history,
        &[],
        &seed,
        &outcome,
        &shuangsui::clock::OfficeClock::system(shuangsui::clock::Zone::default()).stamp(),
    );
    let path = bundle::write(out.path(), "bench", &confidential, &public).unwrap();
    c.bench_function("verify bundle (load + redraw + compare)", |b| {
        b.iter(|| {
            let report = shuangsui::verify::verify(&path, &data, LoadOptions::default()).unwrap();
            assert!(report.verified());
        })
    });

    // Fifty substitutions, each on another visit, replayed from the draw:
    // what `verify` adds for a bundle that has them.
    let asks: Vec<_> = outcome
        .visits
        .iter()
        .step_by(outcome.visits.len() / 50)
        .take(50)
        .map(|v| {
            (
                pools.targets[v.target as usize].code,
                pools.inspectors[v.team[0] as usize].cert.clone(),
            )
        })
        .collect();
    c.bench_function("50 substitutions on the quarterly draw", |b| {
        b.iter(|| {
            let mut roster = Roster::new(&pools, &plan, &history, &seed.seed, outcome.clone());
            for (code, out) in &asks {
                roster.substitute(code, out, Reason::Leave).unwrap();
            }
            roster.result_sha256()
        })
    });
}

criterion_group! {
    name = draw_benches;
    config = Criterion::default().sample_size(30);
    targets = benches
}
criterion_main!(draw_benches);
