//! Synthetic 一单两库 for demos, tests and benchmarks.
//!
//! Real item lists, officer directories and target directories hold personal
//! and confidential data (risk classes, declared conflicts), so the project
//! ships a generator instead: a county-level city modelled on 盘州市 (Guizhou,
//! division code 520281) at the scale of its 2020 report — 635 items, 1,343
//! officers, 90,538 targets, 27 townships, 16 departments. All names, codes
//! and legal-basis texts are invented but plausible; no row describes a real
//! business or person. The city itself — townships, departments, fields,
//! laws, industries, names — is data, in `catalogue.toml` (module `catalogue`).
//!
//! The output is the five CSV files of `docs/DATA.md` (Chinese headers, id
//! column first) and is a pure function of [`GenOptions`]: the same options give
//! the same bytes on every machine and with every future `rand`. That is why
//! the randomness comes only from the draw's ChaCha20 stream
//! ([`crate::random::Stream`]) keyed per file by SHA-256 of the seed, and
//! everything built on top of it (bounded integers, weighted choice,
//! permutations) is written out in `sampling` rather than borrowed from
//! `rand`, whose algorithms may change between versions. Each file has its
//! own stream, so e.g. changing `--inspectors` does not reshuffle the targets.
//!
//! The stream's words become bounded integers by multiply-shift, not by
//! `Stream::below`'s modulo rule: the bundled `data/` and the golden vectors
//! were generated that way (see `sampling`).
//!
//! One module per thing made: `items`, `inspectors`, `targets` (with `names`)
//! and `conflicts`; this module writes them as files. Targets are streamed,
//! so ten million of them take about 150 MB.

mod catalogue;
mod conflicts;
mod inspectors;
mod items;
mod names;
mod sampling;
mod targets;
#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::Path;

use catalogue::catalogue;
use conflicts::{draw_conflict_targets, draw_conflicts};
use inspectors::make_officers;
use items::make_items;
use sampling::Rng;
use targets::write_targets;

/// Sizes and seed of one synthetic data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    pub seed: u64,
    pub items: usize,
    pub inspectors: usize,
    pub targets: usize,
    pub conflicts: usize,
}

impl Default for GenOptions {
    /// Panzhou's 2020 figures (seed 2020).
    fn default() -> Self {
        GenOptions {
            seed: 2020,
            items: 635,
            inspectors: 1343,
            targets: 90_538,
            conflicts: 3000,
        }
    }
}

/// Rows written per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenSummary {
    pub departments: usize,
    pub items: usize,
    pub inspectors: usize,
    pub targets: usize,
    pub conflicts: usize,
}

/// Writes `departments.csv`, `items.csv`, `inspectors.csv`, `targets.csv` and
/// `conflicts.csv` into `out_dir`, creating it if needed.
///
/// Each file appears atomically (written under a `.tmp` name, synced, then
/// renamed), so a crash leaves either the old file or the complete new one.
/// Fails with `InvalidInput` when more conflicts are asked for than there are
/// (officer, target) pairs.
pub fn generate(opts: &GenOptions, out_dir: &Path) -> io::Result<GenSummary> {
    let pairs = (opts.inspectors as u128) * (opts.targets as u128);
    if opts.conflicts as u128 > pairs {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} conflicts asked for, but {} inspectors × {} targets give only {pairs} pairs",
                opts.conflicts, opts.inspectors, opts.targets
            ),
        ));
    }
    fs::create_dir_all(out_dir)?;
    let cat = catalogue();
    let departments = &cat.departments;

    write_csv(out_dir, "departments.csv", |w| {
        w.write_record(["部门名称"])?;
        for dept in departments {
            w.write_record([&dept.name])?;
        }
        Ok(())
    })?;

    let items = make_items(cat, opts);
    write_csv(out_dir, "items.csv", |w| {
        w.write_record(ITEM_HEADERS)?;
        for item in &items {
            let [a, b, c, d] = item.ratios;
            let dept = &departments[item.dept];
            w.write_record([
                item.code.as_str(),
                &item.name,
                &dept.name,
                &dept.fields[item.field].name,
                &item.legal_basis,
                item.category,
                item.method,
                item.entity_types,
                item.industries,
                a,
                b,
                c,
                d,
            ])?;
        }
        Ok(())
    })?;

    let mut items_per_dept = vec![0u64; departments.len()];
    for item in &items {
        items_per_dept[item.dept] += 1;
    }
    let officers = make_officers(cat, opts, &items_per_dept);
    write_csv(out_dir, "inspectors.csv", |w| {
        w.write_record(INSPECTOR_HEADERS)?;
        for o in &officers {
            w.write_record([
                o.cert_no.as_str(),
                &o.name,
                &departments[o.dept].name,
                &o.areas,
                &cat.townships[o.township].name,
                &o.valid_until,
            ])?;
        }
        Ok(())
    })?;

    let mut conflict_rng = Rng::for_section(opts.seed, "conflicts");
    let conflict_targets = draw_conflict_targets(&mut conflict_rng, opts);
    let named = write_csv(out_dir, "targets.csv", |w| {
        write_targets(cat, w, opts, &conflict_targets)
    })?;
    let conflicts = draw_conflicts(cat, &mut conflict_rng, &officers, &conflict_targets, &named);
    write_csv(out_dir, "conflicts.csv", |w| {
        w.write_record(CONFLICT_HEADERS)?;
        for c in &conflicts {
            let target = &named[&c.target];
            w.write_record([
                officers[c.officer].cert_no.as_str(),
                target.code.as_str(),
                &cat.relations[c.relation].0,
            ])?;
        }
        Ok(())
    })?;

    Ok(GenSummary {
        departments: departments.len(),
        items: items.len(),
        inspectors: officers.len(),
        targets: opts.targets,
        conflicts: conflicts.len(),
    })
}

const ITEM_HEADERS: [&str; 13] = [
    "事项编号",
    "事项名称",
    "抽查主体",
    "执法领域",
    "抽查依据",
    "事项类别",
    "抽查方式",
    "抽查对象类型",
    "行业范围",
    "A类比例",
    "B类比例",
    "C类比例",
    "D类比例",
];
const INSPECTOR_HEADERS: [&str; 6] = ["执法证号", "姓名", "所属部门", "执法领域", "居住乡镇", "证件有效期至"];
pub(super) const TARGET_HEADERS: [&str; 6] = [
    "统一社会信用代码",
    "名称",
    "主体类型",
    "行业",
    "所属区域",
    "信用风险分类",
];
const CONFLICT_HEADERS: [&str; 3] = ["执法证号", "统一社会信用代码", "回避关系"];

pub(super) type CsvWriter = csv::Writer<BufWriter<File>>;

/// Runs `body` against a CSV writer on `<name>.tmp`, then syncs and renames
/// it to `name`; on failure the temporary file is removed.
fn write_csv<R>(dir: &Path, name: &str, body: impl FnOnce(&mut CsvWriter) -> io::Result<R>) -> io::Result<R> {
    let tmp = dir.join(format!("{name}.tmp"));
    let written = (|| {
        let file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(file);
        let result = body(&mut writer)?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .into_inner()
            .map_err(|e| e.into_error())?;
        // Without the sync a crash shortly after the rename could leave the
        // new name pointing at a file whose data never reached the disk.
        file.sync_all()?;
        Ok(result)
    })();
    match written {
        Ok(result) => {
            fs::rename(&tmp, dir.join(name))?;
            Ok(result)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}
