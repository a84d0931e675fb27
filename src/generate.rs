//! Synthetic 一单两库 for demos, tests and benchmarks.
//!
//! Real item lists, officer directories and target directories hold personal
//! and confidential data (risk classes, declared conflicts), so the project
//! ships a generator instead: a county-level city modelled on 盘州市 (Guizhou,
//! division code 520281) at the scale of its 2020 report — 635 items, 1,343
//! officers, 90,538 targets, 27 townships, 16 departments. All names, codes
//! and legal-basis texts are invented but plausible; no row describes a real
//! business or person.
//!
//! The output is the five CSV files of `docs/DATA.md` (Chinese headers, id
//! column first) and is a pure function of [`GenOptions`]: the same options give
//! the same bytes on every machine and with every future `rand`. That is why
//! the randomness comes only from ChaCha20 keyed by SHA-256 of the seed, read
//! with `next_u64`, and everything built on top of it (bounded integers,
//! weighted choice, permutations) is written out here rather than borrowed
//! from `rand`, whose algorithms may change between versions. Each file has its
//! own stream, so e.g. changing `--inspectors` does not reshuffle the targets.
//!
//! Targets are streamed: memory holds one 8-byte key per target (to keep credit
//! codes unique) and the few targets named in conflicts, so ten million targets
//! take about 150 MB.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter};
use std::path::Path;

use chrono::{Days, NaiveDate};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::ids::CreditCode;

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

    write_csv(out_dir, "departments.csv", |w| {
        w.write_record(["部门名称"])?;
        for dept in &DEPARTMENTS {
            w.write_record([dept.name])?;
        }
        Ok(())
    })?;

    let items = make_items(opts);
    write_csv(out_dir, "items.csv", |w| {
        w.write_record(ITEM_HEADERS)?;
        for item in &items {
            let [a, b, c, d] = item.ratios;
            w.write_record([
                item.code.as_str(),
                &item.name,
                DEPARTMENTS[item.dept].name,
                DEPARTMENTS[item.dept].fields[item.field].name,
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

    let mut items_per_dept = vec![0u64; DEPARTMENTS.len()];
    for item in &items {
        items_per_dept[item.dept] += 1;
    }
    let officers = make_officers(opts, &items_per_dept);
    write_csv(out_dir, "inspectors.csv", |w| {
        w.write_record(INSPECTOR_HEADERS)?;
        for o in &officers {
            w.write_record([
                o.cert_no.as_str(),
                &o.name,
                DEPARTMENTS[o.dept].name,
                &o.areas,
                TOWNSHIPS[o.township].name,
                &o.valid_until,
            ])?;
        }
        Ok(())
    })?;

    let mut conflict_rng = Rng::for_section(opts.seed, "conflicts");
    let conflict_targets = draw_conflict_targets(&mut conflict_rng, opts);
    let named = write_csv(out_dir, "targets.csv", |w| write_targets(w, opts, &conflict_targets))?;
    let conflicts = draw_conflicts(&mut conflict_rng, &officers, &conflict_targets, &named);
    write_csv(out_dir, "conflicts.csv", |w| {
        w.write_record(CONFLICT_HEADERS)?;
        for c in &conflicts {
            let target = &named[&c.target];
            w.write_record([
                officers[c.officer].cert_no.as_str(),
                target.code.as_str(),
                RELATIONS[c.relation].0,
            ])?;
        }
        Ok(())
    })?;

    Ok(GenSummary {
        departments: DEPARTMENTS.len(),
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
const TARGET_HEADERS: [&str; 6] = [
    "统一社会信用代码",
    "名称",
    "主体类型",
    "行业",
    "所属区域",
    "信用风险分类",
];
const CONFLICT_HEADERS: [&str; 3] = ["执法证号", "统一社会信用代码", "回避关系"];

type CsvWriter = csv::Writer<BufWriter<File>>;

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

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/// ChaCha20 with the few derived operations the generator needs, all written
/// here so their results never depend on a `rand` version.
struct Rng(ChaCha20Rng);

impl Rng {
    /// An independent stream per file: the key is SHA-256 of the seed and a
    /// section label, so sections do not shift when another one's size changes.
    fn for_section(seed: u64, section: &str) -> Self {
        let key = Sha256::new()
            .chain_update(b"shuangsui gen-data v1\0")
            .chain_update(seed.to_le_bytes())
            .chain_update(section.as_bytes())
            .finalize();
        Rng(ChaCha20Rng::from_seed(key.into()))
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift with rejection,
    /// so small ranges carry no modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "empty range");
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.0.next_u64()) * u128::from(n);
            if product as u64 >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.index(xs.len())]
    }

    /// True with probability `percent`/100.
    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.index(i + 1);
            order.swap(i, j);
        }
        order
    }
}

/// Integer weights prepared for repeated weighted choice.
struct Weights {
    cumulative: Vec<u64>,
}

impl Weights {
    fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut total = 0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += u64::from(w);
                total
            })
            .collect::<Vec<_>>();
        assert!(total > 0, "weights must not all be zero");
        Weights { cumulative }
    }

    fn of<T>(table: &[(T, u32)]) -> Self {
        Self::new(table.iter().map(|&(_, w)| w))
    }

    /// An index drawn with probability proportional to its weight.
    fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.below(*self.cumulative.last().expect("non-empty"));
        self.cumulative.partition_point(|&c| c <= x)
    }
}

/// Splits `total` in proportion to `weights` by the largest-remainder method
/// (ties to the earlier index), in integers only so it is exact everywhere.
fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact = |w: u64| u128::from(total) * u128::from(w);
    let mut shares: Vec<u64> = weights.iter().map(|&w| (exact(w) / u128::from(sum)) as u64).collect();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder.sort_by_key(|&i| (std::cmp::Reverse(exact(weights[i]) % u128::from(sum)), i));
    let left = total - shares.iter().sum::<u64>();
    for &i in by_remainder.iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

/// Like [`apportion`], but every entry with a non-zero weight first gets
/// `floor` when the total allows it, so no department or field is left empty.
fn apportion_with_floor(total: u64, weights: &[u64], floor: u64) -> Vec<u64> {
    let eligible = weights.iter().filter(|&&w| w > 0).count() as u64;
    if eligible * floor > total {
        return apportion(total, weights);
    }
    let mut shares = apportion(total - eligible * floor, weights);
    for (share, &w) in shares.iter_mut().zip(weights) {
        if w > 0 {
            *share += floor;
        }
    }
    shares
}

// ---------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------

struct Item {
    code: String,
    name: String,
    dept: usize,
    field: usize,
    legal_basis: String,
    category: &'static str,
    method: &'static str,
    entity_types: &'static str,
    industries: &'static str,
    ratios: [&'static str; 4],
}

/// Default ratios (percent, A–D) of general items: mostly the common
/// 1/3/10/30, with the variations seen in real lists.
const GENERAL_RATIOS: &[([&str; 4], u32)] = &[
    (["1", "3", "10", "30"], 12),
    (["2", "5", "15", "40"], 4),
    (["0.5", "3", "10", "30"], 2),
    (["1", "3", "5", "20"], 2),
];
/// Key items (safety, quality) have no upper limit and go up to 100% for D.
const KEY_RATIOS: &[([&str; 4], u32)] = &[
    (["5", "10", "30", "100"], 6),
    (["10", "20", "50", "100"], 2),
    (["3", "10", "30", "100"], 2),
];

fn make_items(opts: &GenOptions) -> Vec<Item> {
    let mut rng = Rng::for_section(opts.seed, "items");
    let general = Weights::of(GENERAL_RATIOS);
    let key = Weights::of(KEY_RATIOS);
    let dept_weights: Vec<u64> = DEPARTMENTS.iter().map(|d| u64::from(d.items)).collect();
    let per_dept = apportion(opts.items as u64, &dept_weights);

    let mut items = Vec::with_capacity(opts.items);
    for (dept_index, (dept, &count)) in DEPARTMENTS.iter().zip(&per_dept).enumerate() {
        let field_weights: Vec<u64> = dept.fields.iter().map(|f| u64::from(f.weight)).collect();
        let per_field = apportion_with_floor(count, &field_weights, 1);
        let mut number = 0;
        for (field_index, (field, &field_count)) in dept.fields.iter().zip(&per_field).enumerate() {
            // Each item is one (object, aspect) pair of its field, drawn
            // without repetition; sorted back so the list reads grouped by
            // object, as published lists do.
            let combos = field.objects.len() * field.aspects.len();
            let order = rng.permutation(combos);
            let mut chosen: Vec<(usize, usize)> = (0..field_count as usize)
                .map(|k| (order[k % combos], k / combos))
                .collect();
            chosen.sort_unstable_by_key(|&(combo, round)| (round, combo));
            let methods = Weights::of(field.methods);

            for (combo, round) in chosen {
                number += 1;
                let object = &field.objects[combo / field.aspects.len()];
                let aspect = field.aspects[combo % field.aspects.len()];
                let mut name = format!("{}{}的检查", object.name, aspect);
                if round > 0 {
                    // Only when asked for more items than the field has pairs.
                    name.push_str(&format!("（子项{}）", round + 1));
                }
                let is_key = rng.percent(field.key_percent);
                let ratios = match (is_key, field.ratios) {
                    (false, Some(fixed)) => fixed,
                    (false, None) => GENERAL_RATIOS[general.sample(&mut rng)].0,
                    (true, _) => KEY_RATIOS[key.sample(&mut rng)].0,
                };
                let mut legal_basis = rng.pick(field.laws).to_string();
                if field.laws.len() > 1 && rng.percent(30) {
                    let second = rng.pick(field.laws);
                    if !legal_basis.contains(second) {
                        legal_basis.push('；');
                        legal_basis.push_str(second);
                    }
                }
                items.push(Item {
                    code: format!("{}-{number:03}", dept.abbr),
                    name,
                    dept: dept_index,
                    field: field_index,
                    legal_basis,
                    category: if is_key { "重点" } else { "一般" },
                    method: field.methods[methods.sample(&mut rng)].0,
                    entity_types: object.entity_types,
                    industries: object.industries,
                    ratios,
                });
            }
        }
    }
    items
}

// ---------------------------------------------------------------------------
// Inspectors
// ---------------------------------------------------------------------------

struct Officer {
    cert_no: String,
    name: String,
    dept: usize,
    /// The department's fields this officer holds, `;`-joined in field order.
    areas: String,
    township: usize,
    valid_until: String,
}

/// Every field of a department must be held by at least this share (percent)
/// of its officers, so teams of two or more can be drawn per item.
const MIN_FIELD_COVERAGE_PERCENT: u64 = 40;

fn make_officers(opts: &GenOptions, items_per_dept: &[u64]) -> Vec<Officer> {
    let mut rng = Rng::for_section(opts.seed, "inspectors");
    // Officers follow the item list: a department with no items gets none,
    // unless there are no items at all. Two per department first, so every
    // department that has items can field a team.
    let weights: Vec<u64> = if items_per_dept.iter().any(|&n| n > 0) {
        items_per_dept.to_vec()
    } else {
        DEPARTMENTS.iter().map(|d| u64::from(d.items)).collect()
    };
    let per_dept = apportion_with_floor(opts.inspectors as u64, &weights, 2);

    // Officers live mostly in the city's sub-districts.
    let homes = Weights::new(
        TOWNSHIPS
            .iter()
            .map(|t| t.weight * if t.name.ends_with("街道") { 3 } else { 1 }),
    );
    let surnames = Weights::of(SURNAMES);
    let first_day = NaiveDate::from_ymd_opt(2028, 1, 1).expect("valid date");
    let last_day = NaiveDate::from_ymd_opt(2032, 12, 31).expect("valid date");
    let span = (last_day - first_day).num_days() as u64 + 1;

    let mut officers = Vec::with_capacity(opts.inspectors);
    for (dept_index, (dept, &count)) in DEPARTMENTS.iter().zip(&per_dept).enumerate() {
        let field_sets = assign_areas(&mut rng, dept.fields.len(), count as usize);
        // Numbers run per department with small gaps, like certificates
        // issued over the years; the department number keeps them unique.
        let mut serial = 0u64;
        for fields in field_sets {
            serial += 1 + rng.below(3);
            let mut name = String::from(SURNAMES[surnames.sample(&mut rng)].0);
            let given_len = if rng.percent(75) { 2 } else { 1 };
            for _ in 0..given_len {
                name.push_str(rng.pick(GIVEN_NAME_CHARS));
            }
            let areas = fields
                .iter()
                .map(|&f| dept.fields[f].name)
                .collect::<Vec<_>>()
                .join(";");
            let township = homes.sample(&mut rng);
            let valid_until = first_day + Days::new(rng.below(span));
            officers.push(Officer {
                cert_no: format!("52028120{:02}{serial:04}", dept_index + 1),
                name,
                dept: dept_index,
                areas,
                township,
                valid_until: valid_until.format("%Y-%m-%d").to_string(),
            });
        }
    }
    officers
}

/// Chooses 1–3 of a department's `field_count` fields for each of `officers`
/// officers, so that every field ends up held by at least
/// [`MIN_FIELD_COVERAGE_PERCENT`] of them (when three each can reach it).
///
/// How many fields an officer holds is drawn first; the total is then topped
/// up if it cannot give every field its share. Each officer takes the fields
/// held least so far (ties at random), which keeps all fields within one
/// holder of each other, so the minimum is `total / field_count`, rounded down.
fn assign_areas(rng: &mut Rng, field_count: usize, officers: usize) -> Vec<Vec<usize>> {
    // Weights for holding 1, 2 or 3 fields: departments with more fields
    // train their officers more broadly.
    let spread: [u32; 3] = match field_count {
        0..=3 => [50, 40, 10],
        4 => [25, 50, 25],
        5 => [10, 50, 40],
        _ => [5, 35, 60],
    };
    let spread = Weights::new(spread);
    let max_each = field_count.min(3);
    let mut counts: Vec<usize> = (0..officers).map(|_| (spread.sample(rng) + 1).min(max_each)).collect();

    let per_field = (officers as u64 * MIN_FIELD_COVERAGE_PERCENT).div_ceil(100) as usize;
    let needed = (per_field * field_count).min(officers * max_each);
    let mut total: usize = counts.iter().sum();
    while total < needed {
        for count in counts.iter_mut() {
            if total < needed && *count < max_each {
                *count += 1;
                total += 1;
            }
        }
    }

    let mut held = vec![0usize; field_count];
    counts
        .into_iter()
        .map(|count| {
            let tie_break: Vec<u64> = (0..field_count).map(|_| rng.below(1 << 32)).collect();
            let mut order: Vec<usize> = (0..field_count).collect();
            order.sort_unstable_by_key(|&f| (held[f], tie_break[f], f));
            let mut fields = order[..count].to_vec();
            fields.sort_unstable();
            for &f in &fields {
                held[f] += 1;
            }
            fields
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// Entity types: label, the institution-type character of the credit code
/// (GB 32100-2015 position 2), and weight.
const ENTITY_TYPES: [(&str, u8, u32); 3] = [
    ("个体工商户", b'2', 65),
    ("企业", b'1', 32),
    ("农民专业合作社", b'3', 3),
];
const INDIVIDUAL: usize = 0;
const ENTERPRISE: usize = 1;
const COOPERATIVE: usize = 2;

/// Registration division codes (positions 3–8). Most are Panzhou's own;
/// 520222 is 盘县, its code before it became a city in 2017, still carried by
/// older businesses; the rest are the prefecture and neighbouring districts.
const DIVISIONS: [(&str, u32); 6] = [
    ("520281", 80),
    ("520222", 12),
    ("520200", 5),
    ("520201", 1),
    ("520203", 1),
    ("520204", 1),
];

const RISK_CLASSES: [(&str, u32); 4] = [("A", 30), ("B", 55), ("C", 12), ("D", 3)];

/// GB 32100-2015's 31 characters (no I, O, S, V, Z).
const CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The value (index in [`CODE_ALPHABET`]) of a character of that alphabet.
const fn code_value(c: u8) -> u8 {
    let mut i = 0;
    while CODE_ALPHABET[i] != c {
        i += 1;
    }
    i as u8
}

/// A target that a conflict names, remembered while targets stream past.
struct NamedTarget {
    code: CreditCode,
    township: usize,
}

/// Hashes the packed 50-bit code keys; they are random already, so one
/// multiply spreads them and SipHash would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

/// Streams `opts.targets` rows and returns the targets at `wanted` indices.
fn write_targets(
    w: &mut CsvWriter,
    opts: &GenOptions,
    wanted: &BTreeMap<u64, u32>,
) -> io::Result<BTreeMap<u64, NamedTarget>> {
    let mut rng = Rng::for_section(opts.seed, "targets");
    let entity_types = Weights::new(ENTITY_TYPES.iter().map(|e| e.2));
    let divisions = Weights::of(&DIVISIONS);
    let risks = Weights::of(&RISK_CLASSES);
    let townships = Weights::new(TOWNSHIPS.iter().map(|t| t.weight));
    let individual_industries = Weights::new(INDUSTRIES.iter().map(|i| i.individual));
    let enterprise_industries = Weights::new(INDUSTRIES.iter().map(|i| i.enterprise));

    let mut used = KeySet::with_capacity_and_hasher(opts.targets, Default::default());
    let mut named = BTreeMap::new();
    let mut wanted_iter = wanted.keys().peekable();
    let mut name = String::with_capacity(96);

    w.write_record(TARGET_HEADERS)?;
    for index in 0..opts.targets as u64 {
        let entity = entity_types.sample(&mut rng);
        let industry = match entity {
            INDIVIDUAL => individual_industries.sample(&mut rng),
            ENTERPRISE => enterprise_industries.sample(&mut rng),
            COOPERATIVE => COOPERATIVE_INDUSTRY,
            _ => unreachable!("three entity types"),
        };
        let township = townships.sample(&mut rng);
        let risk = RISK_CLASSES[risks.sample(&mut rng)].0;
        let code = unique_credit_code(&mut rng, &mut used, entity, &divisions);

        name.clear();
        match entity {
            INDIVIDUAL => individual_name(&mut rng, &mut name, industry, township),
            ENTERPRISE => enterprise_name(&mut rng, &mut name, industry),
            COOPERATIVE => cooperative_name(&mut rng, &mut name, township),
            _ => unreachable!("three entity types"),
        }

        w.write_record([
            code.as_str(),
            &name,
            ENTITY_TYPES[entity].0,
            INDUSTRIES[industry].name,
            TOWNSHIPS[township].name,
            risk,
        ])?;
        if wanted_iter.peek() == Some(&&index) {
            wanted_iter.next();
            named.insert(index, NamedTarget { code, township });
        }
    }
    Ok(named)
}

/// Draws 17 characters until they are new, and completes them with the
/// GB 32100-2015 check character.
///
/// Uniqueness is tracked on a 50-bit packing of the variable parts (entity
/// type, division, nine body characters at 5 bits each), which identifies
/// the code exactly at an eighth of the space of the text.
fn unique_credit_code(rng: &mut Rng, used: &mut KeySet, entity: usize, divisions: &Weights) -> CreditCode {
    loop {
        let division = divisions.sample(rng);
        let mut first17 = [0u8; 17];
        first17[0] = b'9'; // registered by market regulation (工商)
        first17[1] = ENTITY_TYPES[entity].1;
        first17[2..8].copy_from_slice(DIVISIONS[division].0.as_bytes());
        let mut body = [0u8; 9];
        if rng.percent(75) {
            // Registered since 2015: "MA" and seven characters.
            body[0] = code_value(b'M');
            body[1] = code_value(b'A');
            for c in &mut body[2..] {
                *c = rng.below(31) as u8;
            }
        } else {
            // Older: the nine-character organisation code, eight digits and a check.
            for c in &mut body[..8] {
                *c = rng.below(10) as u8;
            }
            body[8] = rng.below(31) as u8;
        }
        let mut key = ((entity as u64) << 48) | ((division as u64) << 45);
        for (i, &value) in body.iter().enumerate() {
            key |= u64::from(value) << (5 * i);
            first17[8 + i] = CODE_ALPHABET[value as usize];
        }
        if used.insert(key) {
            return CreditCode::complete(&first17).expect("alphabet characters only");
        }
    }
}

/// A two-character trade name (字号), e.g. 鑫源, 盘江.
fn push_trade_name(rng: &mut Rng, name: &mut String) {
    name.push_str(rng.pick(TRADE_FIRST));
    name.push_str(rng.pick(TRADE_SECOND));
}

/// 盘州市{字号}{行业词}有限公司, sometimes registered under the province.
fn enterprise_name(rng: &mut Rng, name: &mut String, industry: usize) {
    name.push_str(if rng.percent(90) { "盘州市" } else { "贵州" });
    push_trade_name(rng, name);
    name.push_str(rng.pick(INDUSTRIES[industry].company_words));
    let suffix = rng.below(100);
    name.push_str(match suffix {
        0..=79 => "有限公司",
        80..=96 => "有限责任公司",
        _ => "股份有限公司",
    });
}

/// 盘州市{镇}{字号 | 张记 | 张伟}{小吃店 …}.
fn individual_name(rng: &mut Rng, name: &mut String, industry: usize, township: usize) {
    name.push_str("盘州市");
    name.push_str(TOWNSHIPS[township].short);
    match rng.below(10) {
        0..=4 => push_trade_name(rng, name),
        5..=7 => {
            name.push_str(rng.pick(SURNAMES).0);
            name.push('记');
        }
        _ => {
            name.push_str(rng.pick(SURNAMES).0);
            name.push_str(rng.pick(GIVEN_NAME_CHARS));
            name.push_str(rng.pick(GIVEN_NAME_CHARS));
        }
    }
    name.push_str(rng.pick(INDUSTRIES[industry].shop_words));
}

/// 盘州市[{镇}]{字号}{刺梨种植 | 生猪养殖}农民专业合作社.
fn cooperative_name(rng: &mut Rng, name: &mut String, township: usize) {
    name.push_str("盘州市");
    if rng.percent(30) {
        name.push_str(TOWNSHIPS[township].short);
    }
    push_trade_name(rng, name);
    let (product, kind) = rng.pick(COOPERATIVE_PRODUCTS);
    name.push_str(product);
    name.push_str(kind);
    name.push_str("农民专业合作社");
}

// ---------------------------------------------------------------------------
// Conflicts
// ---------------------------------------------------------------------------

const RELATIONS: [(&str, u32); 4] = [("近亲属", 45), ("曾任职", 20), ("持股", 10), ("其他利害关系", 25)];

struct Conflict {
    officer: usize,
    target: u64,
    relation: usize,
}

/// Draws which targets the conflicts name, before the targets exist, so only
/// those need remembering while they stream. Maps target index → how many
/// conflicts name it, never more than there are officers.
fn draw_conflict_targets(rng: &mut Rng, opts: &GenOptions) -> BTreeMap<u64, u32> {
    let mut wanted = BTreeMap::new();
    for _ in 0..opts.conflicts {
        loop {
            let target = rng.below(opts.targets as u64);
            let count = wanted.entry(target).or_insert(0u32);
            if (*count as usize) < opts.inspectors {
                *count += 1;
                break;
            }
        }
    }
    wanted
}

/// Pairs each drawn target with distinct officers. Declared relations are
/// mostly local (a relative's shop, a former employer nearby), so half the
/// time the officer is drawn among those living in the target's township.
fn draw_conflicts(
    rng: &mut Rng,
    officers: &[Officer],
    wanted: &BTreeMap<u64, u32>,
    named: &BTreeMap<u64, NamedTarget>,
) -> Vec<Conflict> {
    let mut by_township = vec![Vec::new(); TOWNSHIPS.len()];
    for (i, o) in officers.iter().enumerate() {
        by_township[o.township].push(i);
    }
    let relations = Weights::of(&RELATIONS);

    let mut conflicts = Vec::new();
    for (&target, &count) in wanted {
        let locals = &by_township[named[&target].township];
        let mut chosen: Vec<usize> = Vec::with_capacity(count as usize);
        while chosen.len() < count as usize {
            let officer = if !locals.is_empty() && rng.percent(50) {
                rng.pick(locals)
            } else {
                rng.index(officers.len())
            };
            if !chosen.contains(&officer) {
                chosen.push(officer);
                conflicts.push(Conflict {
                    officer,
                    target,
                    relation: relations.sample(rng),
                });
            }
        }
    }
    // Grouped by officer, as declarations are collected.
    conflicts.sort_unstable_by_key(|c| (c.officer, c.target));
    conflicts
}

// ---------------------------------------------------------------------------
// Reference data: Panzhou's townships, departments and naming vocabulary
// ---------------------------------------------------------------------------

struct Township {
    name: &'static str,
    /// Used inside shop names: 红果街道 → 盘州市红果张记小吃店.
    short: &'static str,
    /// Relative number of registered businesses.
    weight: u32,
}

const fn town(name: &'static str, short: &'static str, weight: u32) -> Township {
    Township { name, short, weight }
}

static TOWNSHIPS: [Township; 27] = [
    town("红果街道", "红果", 12),
    town("亦资街道", "亦资", 9),
    town("翰林街道", "翰林", 7),
    town("两河街道", "两河", 7),
    town("胜境街道", "胜境", 6),
    town("柏果镇", "柏果", 5),
    town("洒基镇", "洒基", 3),
    town("英武镇", "英武", 3),
    town("盘关镇", "盘关", 4),
    town("平关镇", "平关", 4),
    town("石桥镇", "石桥", 3),
    town("民主镇", "民主", 3),
    town("大山镇", "大山", 3),
    town("保田镇", "保田", 3),
    town("老厂镇", "老厂", 3),
    town("乐民镇", "乐民", 3),
    town("鸡场坪镇", "鸡场坪", 3),
    town("双凤镇", "双凤", 4),
    town("刘官镇", "刘官", 4),
    town("火铺镇", "火铺", 3),
    town("响水镇", "响水", 3),
    town("板桥镇", "板桥", 2),
    town("竹海镇", "竹海", 2),
    town("丹霞镇", "丹霞", 2),
    town("新民镇", "新民", 2),
    town("普古彝族苗族乡", "普古", 2),
    town("保基苗族彝族乡", "保基", 1),
];

struct Department {
    name: &'static str,
    /// Prefix of item codes (pinyin initials).
    abbr: &'static str,
    /// Items at Panzhou's scale (they sum to 635); also the apportioning weight.
    items: u32,
    fields: &'static [Field],
}

/// An enforcement field (执法领域). Its items are the pairs of what is
/// inspected (`objects`) and which aspect (`aspects`).
struct Field {
    name: &'static str,
    /// Share of the department's items.
    weight: u32,
    /// Chance (percent) that an item is 重点 rather than 一般.
    key_percent: u64,
    methods: &'static [(&'static str, u32)],
    laws: &'static [&'static str],
    objects: &'static [Object],
    aspects: &'static [&'static str],
    /// Ratios every general item of the field uses, when a rule fixes them.
    ratios: Option<[&'static str; 4]>,
}

/// What an item inspects, and the target scope that follows from it
/// (`;`-separated lists; empty means every entity type or industry).
struct Object {
    name: &'static str,
    entity_types: &'static str,
    industries: &'static str,
}

const fn obj(name: &'static str, entity_types: &'static str, industries: &'static str) -> Object {
    Object {
        name,
        entity_types,
        industries,
    }
}

const ON_SITE: &[(&str, u32)] = &[("实地核查", 7), ("书面检查", 3)];
const ON_SITE_ONLY: &[(&str, u32)] = &[("实地核查", 1)];
const ON_PAPER: &[(&str, u32)] = &[("书面检查", 6), ("实地核查", 4)];
const ONLINE: &[(&str, u32)] = &[("网络监测", 5), ("实地核查", 3), ("书面检查", 2)];

const ENT: &str = "企业";
const IND: &str = "个体工商户";
const ENT_IND: &str = "企业;个体工商户";
const COOP: &str = "农民专业合作社";
const ALL: &str = "";

const FOOD: &str = "住宿和餐饮业";
const TRADE: &str = "批发和零售业";
const MANUFACTURING: &str = "制造业";
const CONSTRUCTION: &str = "建筑业";
const MINING: &str = "采矿业";
const HEALTH: &str = "卫生和社会工作";
const EDUCATION: &str = "教育";
const REAL_ESTATE: &str = "房地产业";
const BUSINESS_SERVICES: &str = "租赁和商务服务业";
const AGRICULTURE_INDUSTRY: &str = "农、林、牧、渔业";
const TRANSPORT: &str = "交通运输、仓储和邮政业";
const UTILITIES: &str = "电力、热力、燃气及水生产和供应业";
const RESIDENT_SERVICES: &str = "居民服务、修理和其他服务业";
const ENTERTAINMENT: &str = "文化、体育和娱乐业";
const TELECOM: &str = "信息传输、软件和信息技术服务业";

static DEPARTMENTS: [Department; 16] = [
    Department {
        name: "盘州市市场监督管理局",
        abbr: "SCJG",
        items: 200,
        fields: &[
            Field {
                name: "食品安全",
                weight: 30,
                key_percent: 45,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国食品安全法》第一百一十条",
                    "《中华人民共和国食品安全法》第八十七条",
                    "《食品生产经营监督检查管理办法》第九条",
                ],
                objects: &[
                    obj("食品生产者", ENT, MANUFACTURING),
                    obj("食品销售者", ALL, TRADE),
                    obj("餐饮服务提供者", ALL, FOOD),
                    obj("集体用餐配送单位", ENT, FOOD),
                    obj("食品小作坊", IND, ALL),
                    obj("食用农产品销售者", ALL, TRADE),
                    obj("网络食品交易第三方平台提供者", ENT, ALL),
                ],
                aspects: &[
                    "许可条件保持情况",
                    "进货查验记录制度落实情况",
                    "从业人员健康管理情况",
                    "食品贮存条件",
                    "标签标识",
                    "食品添加剂使用情况",
                    "食品安全自查制度执行情况",
                    "过期变质食品处置情况",
                    "场所环境卫生状况",
                    "食品安全管理人员配备情况",
                ],
                ratios: None,
            },
            Field {
                name: "特种设备",
                weight: 15,
                key_percent: 70,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《中华人民共和国特种设备安全法》第五十七条",
                    "《特种设备安全监察条例》第五十条",
                ],
                objects: &[
                    obj("特种设备使用单位", ALL, ALL),
                    obj("电梯维护保养单位", ENT, ALL),
                    obj("气瓶充装单位", ENT, ALL),
                    obj("特种设备生产单位", ENT, MANUFACTURING),
                    obj("压力管道使用单位", ENT, ALL),
                ],
                aspects: &[
                    "使用登记情况",
                    "定期检验情况",
                    "作业人员持证情况",
                    "安全管理制度落实情况",
                    "安全技术档案建立情况",
                    "维护保养情况",
                    "应急预案和演练情况",
                ],
                ratios: None,
            },
            Field {
                name: "产品质量",
                weight: 20,
                key_percent: 15,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国产品质量法》第十五条",
                    "《中华人民共和国计量法》第十八条",
                    "《中华人民共和国工业产品生产许可证管理条例》第三十七条",
                ],
                objects: &[
                    obj("工业产品生产企业", ENT, MANUFACTURING),
                    obj("产品销售者", ALL, TRADE),
                    obj("计量器具使用单位", ALL, ALL),
                    obj("定量包装商品生产者", ENT, MANUFACTURING),
                    obj("加油站", ENT, TRADE),
                    obj("眼镜制配场所", ENT_IND, ALL),
                    obj("电线电缆和建材产品生产企业", ENT, MANUFACTURING),
                    obj("集贸市场经营者", ALL, TRADE),
                ],
                aspects: &[
                    "产品质量状况",
                    "产品标识标注情况",
                    "质量管理制度落实情况",
                    "计量器具管理情况",
                    "证照和认证标志使用情况",
                    "不合格产品处置情况",
                ],
                ratios: None,
            },
            Field {
                name: "登记监管",
                weight: 15,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &[
                    "《企业信息公示暂行条例》第十四条",
                    "《中华人民共和国市场主体登记管理条例》第三十八条",
                    "《个体工商户年度报告暂行办法》第十二条",
                ],
                objects: &[
                    obj("企业", ENT, ALL),
                    obj("个体工商户", IND, ALL),
                    obj("农民专业合作社", COOP, ALL),
                    obj("分支机构", ENT, ALL),
                    obj("外商投资企业", ENT, ALL),
                ],
                aspects: &[
                    "年度报告公示信息",
                    "即时公示信息",
                    "登记的住所（经营场所）",
                    "登记事项变更情况",
                    "营业执照公示情况",
                    "经营范围规范情况",
                    "登记事项与实际经营一致情况",
                ],
                // Company-disclosure checks have a national floor of 3%.
                ratios: Some(["3", "3", "10", "30"]),
            },
            Field {
                name: "价格监督",
                weight: 10,
                key_percent: 0,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国价格法》第三十四条",
                    "《明码标价和禁止价格欺诈规定》第二十一条",
                ],
                objects: &[
                    obj("商品零售经营者", ALL, TRADE),
                    obj("餐饮服务经营者", ALL, FOOD),
                    obj("停车场经营者", ALL, ALL),
                    obj("民营医疗机构", ALL, HEALTH),
                    obj("物业服务企业", ENT, REAL_ESTATE),
                    obj("教育培训机构", ALL, EDUCATION),
                ],
                aspects: &[
                    "明码标价情况",
                    "价格欺诈行为",
                    "收费公示情况",
                    "政府定价执行情况",
                    "价格承诺履行情况",
                ],
                ratios: None,
            },
            Field {
                name: "广告监管",
                weight: 10,
                key_percent: 5,
                methods: ONLINE,
                laws: &["《中华人民共和国广告法》第四十九条", "《互联网广告管理办法》第二十五条"],
                objects: &[
                    obj("广告发布者", ALL, ALL),
                    obj("广告经营者", ENT, BUSINESS_SERVICES),
                    obj("户外广告发布者", ALL, ALL),
                    obj("互联网广告发布者", ENT, ALL),
                    obj("医疗器械和保健食品广告主", ENT, ALL),
                ],
                aspects: &[
                    "广告发布内容",
                    "广告审查制度落实情况",
                    "广告业务档案管理情况",
                    "广告证明文件核对情况",
                    "广告可识别性情况",
                ],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市生态环境局",
        abbr: "STHJ",
        items: 42,
        fields: &[
            Field {
                name: "大气污染防治",
                weight: 25,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国大气污染防治法》第二十九条",
                    "《中华人民共和国环境保护法》第二十四条",
                ],
                objects: &[
                    obj("工业企业", ENT, MANUFACTURING),
                    obj("燃煤锅炉使用单位", ENT, ALL),
                    obj("餐饮油烟排放单位", ALL, FOOD),
                    obj("煤矿企业", ENT, MINING),
                ],
                aspects: &[
                    "污染防治设施运行情况",
                    "污染物排放达标情况",
                    "扬尘和无组织排放控制情况",
                    "自动监测设备运行情况",
                ],
                ratios: None,
            },
            Field {
                name: "水污染防治",
                weight: 20,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国水污染防治法》第三十条",
                    "《中华人民共和国环境保护法》第二十四条",
                ],
                objects: &[
                    obj("工业废水排放单位", ENT, MANUFACTURING),
                    obj("洗车场", ENT_IND, RESIDENT_SERVICES),
                    obj("畜禽养殖场", ALL, AGRICULTURE_INDUSTRY),
                    obj("煤矿矿井水排放单位", ENT, MINING),
                ],
                aspects: &["污水处理设施运行情况", "排放口规范化设置情况", "水污染物排放达标情况"],
                ratios: None,
            },
            Field {
                name: "固体废物污染防治",
                weight: 20,
                key_percent: 40,
                methods: ON_SITE,
                laws: &["《中华人民共和国固体废物污染环境防治法》第二十七条"],
                objects: &[
                    obj("危险废物产生单位", ENT, ALL),
                    obj("医疗废物产生单位", ALL, HEALTH),
                    obj("机动车维修单位", ENT_IND, RESIDENT_SERVICES),
                    obj("一般工业固体废物产生单位", ENT, MANUFACTURING),
                ],
                aspects: &["贮存和转移联单制度执行情况", "管理台账记录情况", "利用处置情况"],
                ratios: None,
            },
            Field {
                name: "排污许可",
                weight: 20,
                key_percent: 10,
                methods: ON_PAPER,
                laws: &["《排污许可管理条例》第二十九条"],
                objects: &[
                    obj("重点管理排污单位", ENT, ALL),
                    obj("简化管理排污单位", ENT, ALL),
                    obj("登记管理排污单位", ALL, ALL),
                ],
                aspects: &[
                    "持证排污情况",
                    "执行报告提交情况",
                    "自行监测情况",
                    "环境管理台账记录情况",
                ],
                ratios: None,
            },
            Field {
                name: "建设项目环境保护",
                weight: 15,
                key_percent: 10,
                methods: ON_SITE,
                laws: &[
                    "《建设项目环境保护管理条例》第十九条",
                    "《中华人民共和国环境影响评价法》第二十七条",
                ],
                objects: &[
                    obj("在建项目建设单位", ENT, ALL),
                    obj("已投产项目建设单位", ENT, ALL),
                    obj("改扩建项目建设单位", ENT, ALL),
                ],
                aspects: &[
                    "环境影响评价制度执行情况",
                    "“三同时”制度执行情况",
                    "竣工环境保护验收情况",
                ],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市应急管理局",
        abbr: "YJGL",
        items: 38,
        fields: &[
            Field {
                name: "危险化学品安全",
                weight: 30,
                key_percent: 70,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《中华人民共和国安全生产法》第六十五条",
                    "《危险化学品安全管理条例》第七条",
                ],
                objects: &[
                    obj("危险化学品经营单位", ENT, TRADE),
                    obj("危险化学品使用单位", ENT, MANUFACTURING),
                    obj("加油站", ENT, TRADE),
                    obj("危险化学品储存单位", ENT, ALL),
                ],
                aspects: &[
                    "安全生产许可（经营许可）情况",
                    "安全管理制度和操作规程执行情况",
                    "重大危险源管控情况",
                    "从业人员安全培训情况",
                    "隐患排查治理情况",
                ],
                ratios: None,
            },
            Field {
                name: "烟花爆竹安全",
                weight: 15,
                key_percent: 60,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《烟花爆竹安全管理条例》第三十九条",
                    "《烟花爆竹经营许可实施办法》第二十九条",
                ],
                objects: &[
                    obj("烟花爆竹批发企业", ENT, TRADE),
                    obj("烟花爆竹零售经营者", ENT_IND, TRADE),
                ],
                aspects: &["经营许可情况", "储存条件", "安全管理制度落实情况", "流向登记情况"],
                ratios: None,
            },
            Field {
                name: "非煤矿山安全",
                weight: 25,
                key_percent: 60,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《中华人民共和国矿山安全法》第三十三条",
                    "《中华人民共和国安全生产法》第六十五条",
                ],
                objects: &[
                    obj("非煤矿山企业", ENT, MINING),
                    obj("尾矿库运营单位", ENT, MINING),
                    obj("采石场", ALL, MINING),
                ],
                aspects: &[
                    "安全生产许可情况",
                    "安全设施运行情况",
                    "隐患排查治理情况",
                    "应急救援预案情况",
                ],
                ratios: None,
            },
            Field {
                name: "工贸行业安全",
                weight: 30,
                key_percent: 20,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国安全生产法》第六十五条",
                    "《工贸企业有限空间作业安全规定》第二十二条",
                ],
                objects: &[
                    obj("冶金企业", ENT, MANUFACTURING),
                    obj("建材企业", ENT, MANUFACTURING),
                    obj("粉尘涉爆企业", ENT, MANUFACTURING),
                    obj("有限空间作业单位", ENT, ALL),
                    obj("商贸企业", ENT, TRADE),
                ],
                aspects: &[
                    "安全生产责任制落实情况",
                    "安全教育培训情况",
                    "重大事故隐患排查情况",
                    "应急预案备案和演练情况",
                ],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市卫生健康局",
        abbr: "WSJK",
        items: 44,
        fields: &[
            Field {
                name: "公共场所卫生",
                weight: 25,
                key_percent: 20,
                methods: ON_SITE,
                laws: &[
                    "《公共场所卫生管理条例》第十条",
                    "《公共场所卫生管理条例实施细则》第三十一条",
                ],
                objects: &[
                    obj("住宿场所", ALL, FOOD),
                    obj("美容美发场所", ENT_IND, RESIDENT_SERVICES),
                    obj("沐浴场所", ENT_IND, RESIDENT_SERVICES),
                    obj("游泳场所", ALL, ENTERTAINMENT),
                ],
                aspects: &[
                    "卫生许可情况",
                    "从业人员健康检查情况",
                    "卫生管理制度落实情况",
                    "公共用品用具消毒情况",
                ],
                ratios: None,
            },
            Field {
                name: "生活饮用水卫生",
                weight: 15,
                key_percent: 40,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国传染病防治法》第五十三条",
                    "《生活饮用水卫生监督管理办法》第十六条",
                ],
                objects: &[
                    obj("集中式供水单位", ENT, UTILITIES),
                    obj("二次供水单位", ALL, ALL),
                    obj("涉水产品生产企业", ENT, MANUFACTURING),
                ],
                aspects: &["卫生许可情况", "水质检测情况", "从业人员健康管理情况"],
                ratios: None,
            },
            Field {
                name: "医疗机构执业",
                weight: 25,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《医疗机构管理条例》第四十条",
                    "《中华人民共和国基本医疗卫生与健康促进法》第八十六条",
                ],
                objects: &[
                    obj("民营医院", ENT, HEALTH),
                    obj("诊所", ALL, HEALTH),
                    obj("医疗美容机构", ALL, HEALTH),
                ],
                aspects: &[
                    "执业登记情况",
                    "医务人员资质情况",
                    "医疗废物处置情况",
                    "病历书写和管理情况",
                ],
                ratios: None,
            },
            Field {
                name: "职业卫生",
                weight: 20,
                key_percent: 40,
                methods: ON_SITE,
                laws: &["《中华人民共和国职业病防治法》第六十二条"],
                objects: &[
                    obj("存在职业病危害因素的用人单位", ENT, MANUFACTURING),
                    obj("煤矿企业", ENT, MINING),
                    obj("建筑施工企业", ENT, CONSTRUCTION),
                ],
                aspects: &[
                    "职业病危害项目申报情况",
                    "职业健康检查情况",
                    "职业病危害因素检测情况",
                    "防护设施和用品配备情况",
                ],
                ratios: None,
            },
            Field {
                name: "传染病防治",
                weight: 15,
                key_percent: 30,
                methods: ON_SITE,
                laws: &["《中华人民共和国传染病防治法》第五十三条", "《消毒管理办法》第三十八条"],
                objects: &[
                    obj("医疗机构", ALL, HEALTH),
                    obj("消毒产品生产企业", ENT, MANUFACTURING),
                    obj("托育机构", ALL, ALL),
                ],
                aspects: &["预检分诊制度落实情况", "消毒隔离制度执行情况", "疫情报告情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市交通运输局",
        abbr: "JTYS",
        items: 36,
        fields: &[
            Field {
                name: "道路旅客运输",
                weight: 25,
                key_percent: 40,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国道路运输条例》第五十九条",
                    "《道路旅客运输及客运站管理规定》第八十条",
                ],
                objects: &[
                    obj("客运企业", ENT, TRANSPORT),
                    obj("客运站经营者", ENT, TRANSPORT),
                    obj("出租汽车经营者", ENT_IND, TRANSPORT),
                ],
                aspects: &[
                    "经营资质情况",
                    "车辆技术管理情况",
                    "驾驶员从业资格情况",
                    "安全生产管理情况",
                ],
                ratios: None,
            },
            Field {
                name: "道路货物运输",
                weight: 30,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国道路运输条例》第五十九条",
                    "《道路货物运输及站场管理规定》第五十二条",
                ],
                objects: &[
                    obj("普通货运经营者", ENT_IND, TRANSPORT),
                    obj("危险货物运输企业", ENT, TRANSPORT),
                    obj("货运站场经营者", ENT, TRANSPORT),
                ],
                aspects: &[
                    "经营资质情况",
                    "车辆和驾驶员管理情况",
                    "超限超载源头管理情况",
                    "安全生产管理情况",
                ],
                ratios: None,
            },
            Field {
                name: "机动车维修",
                weight: 20,
                key_percent: 0,
                methods: ON_SITE,
                laws: &["《机动车维修管理规定》第四十五条"],
                objects: &[
                    obj("一类机动车维修企业", ENT, RESIDENT_SERVICES),
                    obj("二类机动车维修企业", ENT, RESIDENT_SERVICES),
                    obj("三类机动车维修经营者", ENT_IND, RESIDENT_SERVICES),
                ],
                aspects: &[
                    "经营备案情况",
                    "维修质量管理情况",
                    "维修配件管理情况",
                    "维修收费公示情况",
                ],
                ratios: None,
            },
            Field {
                name: "交通建设工程",
                weight: 25,
                key_percent: 50,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《公路水运工程质量监督管理规定》第三十二条",
                    "《建设工程质量管理条例》第四十七条",
                ],
                objects: &[
                    obj("公路工程施工单位", ENT, CONSTRUCTION),
                    obj("公路工程监理单位", ENT, ALL),
                    obj("公路养护作业单位", ENT, CONSTRUCTION),
                ],
                aspects: &[
                    "质量管理体系运行情况",
                    "安全生产条件",
                    "工地试验检测情况",
                    "原材料进场检验情况",
                ],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市住房和城乡建设局",
        abbr: "ZJ",
        items: 35,
        fields: &[
            Field {
                name: "建筑工程质量安全",
                weight: 35,
                key_percent: 60,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《建设工程质量管理条例》第四十七条",
                    "《建设工程安全生产管理条例》第四十三条",
                ],
                objects: &[
                    obj("建筑施工企业", ENT, CONSTRUCTION),
                    obj("工程监理企业", ENT, ALL),
                    obj("预拌混凝土生产企业", ENT, MANUFACTURING),
                ],
                aspects: &[
                    "质量保证体系运行情况",
                    "安全生产许可条件保持情况",
                    "危大工程管控情况",
                    "关键岗位人员到岗履职情况",
                ],
                ratios: None,
            },
            Field {
                name: "建筑市场",
                weight: 25,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &[
                    "《中华人民共和国建筑法》第十三条",
                    "《建筑业企业资质管理规定》第二十八条",
                ],
                objects: &[
                    obj("建筑业企业", ENT, CONSTRUCTION),
                    obj("勘察设计企业", ENT, ALL),
                    obj("劳务分包企业", ENT, CONSTRUCTION),
                ],
                aspects: &["资质条件保持情况", "施工许可情况", "农民工实名制管理情况", "分包行为"],
                ratios: None,
            },
            Field {
                name: "房地产市场",
                weight: 20,
                key_percent: 0,
                methods: ON_SITE,
                laws: &[
                    "《城市房地产开发经营管理条例》第三十六条",
                    "《房地产经纪管理办法》第三十一条",
                ],
                objects: &[
                    obj("房地产开发企业", ENT, REAL_ESTATE),
                    obj("房地产经纪机构", ENT_IND, REAL_ESTATE),
                    obj("物业服务企业", ENT, REAL_ESTATE),
                ],
                aspects: &["资质情况", "商品房预售情况", "信息公示情况", "合同网签备案情况"],
                ratios: None,
            },
            Field {
                name: "城镇燃气",
                weight: 20,
                key_percent: 70,
                methods: ON_SITE_ONLY,
                laws: &["《城镇燃气管理条例》第十五条"],
                objects: &[
                    obj("燃气经营企业", ENT, UTILITIES),
                    obj("瓶装燃气供应站", ENT_IND, TRADE),
                    obj("餐饮场所燃气用户", ALL, FOOD),
                ],
                aspects: &[
                    "燃气经营许可情况",
                    "安全管理制度落实情况",
                    "燃气设施安全状况",
                    "入户安检情况",
                ],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市自然资源局",
        abbr: "ZRZY",
        items: 28,
        fields: &[
            Field {
                name: "矿产资源",
                weight: 40,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国矿产资源法》第十一条",
                    "《矿产资源开采登记管理办法》第十七条",
                ],
                objects: &[
                    obj("煤矿企业", ENT, MINING),
                    obj("非金属矿山企业", ENT, MINING),
                    obj("砂石土矿开采者", ALL, MINING),
                ],
                aspects: &[
                    "采矿许可证持有情况",
                    "越界开采情况",
                    "矿山地质环境恢复治理情况",
                    "矿业权人勘查开采信息公示情况",
                ],
                ratios: None,
            },
            Field {
                name: "土地利用",
                weight: 40,
                key_percent: 0,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国土地管理法》第六十七条",
                    "《闲置土地处置办法》第二十七条",
                ],
                objects: &[
                    obj("建设用地使用权人", ALL, ALL),
                    obj("临时用地使用单位", ENT, ALL),
                    obj("设施农业用地使用者", ALL, AGRICULTURE_INDUSTRY),
                    obj("采矿用地使用单位", ENT, MINING),
                ],
                aspects: &["土地用途改变情况", "供地合同履约情况", "闲置土地情况", "耕地保护情况"],
                ratios: None,
            },
            Field {
                name: "测绘地理信息",
                weight: 20,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &["《中华人民共和国测绘法》第三十八条", "《测绘资质管理办法》第二十一条"],
                objects: &[
                    obj("测绘资质单位", ENT, "科学研究和技术服务业"),
                    obj("地图编制单位", ENT, ALL),
                ],
                aspects: &["资质条件保持情况", "测绘成果质量", "涉密成果保密管理情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市农业农村局",
        abbr: "NYNC",
        items: 40,
        fields: &[
            Field {
                name: "农药",
                weight: 20,
                key_percent: 30,
                methods: ON_SITE,
                laws: &["《农药管理条例》第四十一条"],
                objects: &[
                    obj("农药经营者", ENT_IND, TRADE),
                    obj("农药使用单位", ALL, AGRICULTURE_INDUSTRY),
                ],
                aspects: &["经营许可情况", "进货查验情况", "购销台账情况", "农药标签情况"],
                ratios: None,
            },
            Field {
                name: "兽药饲料",
                weight: 20,
                key_percent: 20,
                methods: ON_SITE,
                laws: &["《兽药管理条例》第四十五条", "《饲料和饲料添加剂管理条例》第三十四条"],
                objects: &[
                    obj("兽药经营企业", ENT_IND, TRADE),
                    obj("饲料生产企业", ENT, MANUFACTURING),
                    obj("畜禽养殖场户", ALL, AGRICULTURE_INDUSTRY),
                ],
                aspects: &["经营（生产）许可情况", "产品质量情况", "购销和使用记录情况"],
                ratios: None,
            },
            Field {
                name: "种子",
                weight: 15,
                key_percent: 10,
                methods: ON_SITE,
                laws: &["《中华人民共和国种子法》第五十条"],
                objects: &[obj("种子经营者", ENT_IND, TRADE), obj("种子生产经营备案者", ALL, ALL)],
                aspects: &["生产经营许可（备案）情况", "种子标签和使用说明", "生产经营档案情况"],
                ratios: None,
            },
            Field {
                name: "农产品质量安全",
                weight: 25,
                key_percent: 50,
                methods: ON_SITE,
                laws: &["《中华人民共和国农产品质量安全法》第五十四条"],
                objects: &[
                    obj("农民专业合作社", COOP, ALL),
                    obj("农产品生产企业", ENT, AGRICULTURE_INDUSTRY),
                    obj("农产品收购单位", ENT_IND, ALL),
                ],
                aspects: &[
                    "生产记录情况",
                    "农药兽药残留自检情况",
                    "承诺达标合格证开具情况",
                    "质量安全追溯情况",
                ],
                ratios: None,
            },
            Field {
                name: "动物防疫",
                weight: 20,
                key_percent: 40,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《中华人民共和国动物防疫法》第七十六条",
                    "《生猪屠宰管理条例》第二十七条",
                ],
                objects: &[
                    obj("畜禽养殖场", ALL, AGRICULTURE_INDUSTRY),
                    obj("生猪定点屠宰企业", ENT, MANUFACTURING),
                    obj("动物诊疗机构", ENT_IND, ALL),
                ],
                aspects: &["动物防疫条件情况", "强制免疫情况", "病死动物无害化处理情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市文化广电旅游局",
        abbr: "WGLY",
        items: 28,
        fields: &[
            Field {
                name: "文化市场",
                weight: 35,
                key_percent: 10,
                methods: ON_SITE,
                laws: &[
                    "《娱乐场所管理条例》第三十三条",
                    "《互联网上网服务营业场所管理条例》第四条",
                ],
                objects: &[
                    obj("歌舞娱乐场所", ENT_IND, ENTERTAINMENT),
                    obj("游艺娱乐场所", ENT_IND, ENTERTAINMENT),
                    obj("互联网上网服务营业场所", ENT_IND, ENTERTAINMENT),
                ],
                aspects: &[
                    "经营许可情况",
                    "未成年人保护情况",
                    "安全管理情况",
                    "上网人员实名登记情况",
                ],
                ratios: None,
            },
            Field {
                name: "旅游市场",
                weight: 30,
                key_percent: 20,
                methods: ON_SITE,
                laws: &["《中华人民共和国旅游法》第八十五条", "《旅行社条例》第四十一条"],
                objects: &[
                    obj("旅行社", ENT, BUSINESS_SERVICES),
                    obj("A级旅游景区", ALL, ALL),
                    obj("旅游饭店", ENT, FOOD),
                ],
                aspects: &["经营许可情况", "旅游合同签订情况", "导游管理情况", "安全管理情况"],
                ratios: None,
            },
            Field {
                name: "广播电视",
                weight: 15,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &[
                    "《广播电视管理条例》第四十七条",
                    "《卫星电视广播地面接收设施管理规定》第十一条",
                ],
                objects: &[
                    obj("有线电视站", ENT, TELECOM),
                    obj("卫星地面接收设施安装服务机构", ENT_IND, ALL),
                ],
                aspects: &["许可证持有情况", "传输内容管理情况", "设施安装备案情况"],
                ratios: None,
            },
            Field {
                name: "出版物市场",
                weight: 20,
                key_percent: 0,
                methods: ON_SITE,
                laws: &["《出版管理条例》第四十九条", "《印刷业管理条例》第三十三条"],
                objects: &[
                    obj("出版物发行单位", ENT_IND, TRADE),
                    obj("印刷企业", ENT, MANUFACTURING),
                ],
                aspects: &["经营许可情况", "进销货台账情况", "违禁出版物排查情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市商务局",
        abbr: "SW",
        items: 18,
        fields: &[
            Field {
                name: "单用途商业预付卡",
                weight: 40,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &["《单用途商业预付卡管理办法（试行）》第三十三条"],
                objects: &[
                    obj("零售企业", ENT, TRADE),
                    obj("住宿餐饮企业", ENT, FOOD),
                    obj("美容美发企业", ENT, RESIDENT_SERVICES),
                ],
                aspects: &["发卡备案情况", "预收资金管理情况", "发卡信息报送情况"],
                ratios: None,
            },
            Field {
                name: "报废机动车回收",
                weight: 30,
                key_percent: 20,
                methods: ON_SITE,
                laws: &["《报废机动车回收管理办法》第二十条"],
                objects: &[
                    obj("报废机动车回收拆解企业", ENT, ALL),
                    obj("报废机动车回收网点", ENT, ALL),
                ],
                aspects: &[
                    "资质认定条件保持情况",
                    "回收拆解台账情况",
                    "“五大总成”处置情况",
                    "环保设施运行情况",
                ],
                ratios: None,
            },
            Field {
                name: "再生资源回收",
                weight: 30,
                key_percent: 0,
                methods: ON_SITE,
                laws: &["《再生资源回收管理办法》第二十一条"],
                objects: &[
                    obj("再生资源回收经营者", ENT_IND, TRADE),
                    obj("再生资源回收站点", ALL, ALL),
                ],
                aspects: &["经营备案情况", "收购登记情况", "安全和环保管理情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市人力资源和社会保障局",
        abbr: "RS",
        items: 20,
        fields: &[
            Field {
                name: "劳动用工",
                weight: 40,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &["《劳动保障监察条例》第十一条", "《中华人民共和国劳动合同法》第七十四条"],
                objects: &[
                    obj("用人单位", ENT, ALL),
                    obj("劳务派遣单位", ENT, BUSINESS_SERVICES),
                    obj("人力资源服务机构", ENT, BUSINESS_SERVICES),
                ],
                aspects: &[
                    "劳动合同订立情况",
                    "工作时间和休息休假情况",
                    "女职工和未成年工保护情况",
                    "用工备案情况",
                ],
                ratios: None,
            },
            Field {
                name: "工资支付",
                weight: 35,
                key_percent: 30,
                methods: ON_SITE,
                laws: &["《保障农民工工资支付条例》第四十七条", "《劳动保障监察条例》第十一条"],
                objects: &[
                    obj("建筑施工企业", ENT, CONSTRUCTION),
                    obj("劳动密集型企业", ENT, MANUFACTURING),
                    obj("餐饮企业", ENT, FOOD),
                ],
                aspects: &[
                    "工资按时足额支付情况",
                    "最低工资标准执行情况",
                    "工资支付台账情况",
                    "工资保证金存储情况",
                ],
                ratios: None,
            },
            Field {
                name: "社会保险",
                weight: 25,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &["《中华人民共和国社会保险法》第七十九条"],
                objects: &[obj("参保单位", ENT, ALL), obj("个体参保经营者", IND, ALL)],
                aspects: &["参保登记情况", "缴费基数申报情况", "社会保险待遇领取情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市教育局",
        abbr: "JY",
        items: 18,
        fields: &[
            Field {
                name: "校外培训",
                weight: 45,
                key_percent: 20,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国民办教育促进法》第四十一条",
                    "《校外培训行政处罚暂行办法》第五条",
                ],
                objects: &[
                    obj("学科类校外培训机构", ALL, EDUCATION),
                    obj("非学科类校外培训机构", ALL, EDUCATION),
                ],
                aspects: &[
                    "办学许可情况",
                    "收费和资金监管情况",
                    "培训内容和时间情况",
                    "从业人员资质情况",
                ],
                ratios: None,
            },
            Field {
                name: "民办学校",
                weight: 35,
                key_percent: 10,
                methods: ON_PAPER,
                laws: &["《中华人民共和国民办教育促进法实施条例》第五十九条"],
                objects: &[
                    obj("民办幼儿园", ALL, EDUCATION),
                    obj("民办职业培训学校", ALL, EDUCATION),
                ],
                aspects: &["办学条件情况", "财务管理情况", "招生简章和广告备案情况"],
                ratios: None,
            },
            Field {
                name: "学校安全",
                weight: 20,
                key_percent: 60,
                methods: ON_SITE_ONLY,
                laws: &[
                    "《校车安全管理条例》第四十一条",
                    "《学校食品安全与营养健康管理规定》第五十二条",
                ],
                objects: &[obj("校车服务提供者", ENT, ALL), obj("学校食堂承包经营单位", ENT, FOOD)],
                aspects: &["安全管理制度落实情况", "从业人员资质情况", "应急处置预案情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市水务局",
        abbr: "SL",
        items: 20,
        fields: &[
            Field {
                name: "取水许可",
                weight: 35,
                key_percent: 0,
                methods: ON_PAPER,
                laws: &["《取水许可和水资源费征收管理条例》第四十五条"],
                objects: &[obj("取用水单位", ENT, ALL), obj("自备水源用户", ALL, ALL)],
                aspects: &[
                    "取水许可情况",
                    "取水计量设施安装情况",
                    "用水计划执行情况",
                    "取水量台账情况",
                ],
                ratios: None,
            },
            Field {
                name: "河道管理",
                weight: 30,
                key_percent: 20,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国河道管理条例》第二十五条",
                    "《中华人民共和国水法》第六十条",
                ],
                objects: &[
                    obj("河道采砂单位", ALL, MINING),
                    obj("涉河建设项目建设单位", ENT, CONSTRUCTION),
                ],
                aspects: &["许可情况", "作业范围和方式", "防洪安全影响情况"],
                ratios: None,
            },
            Field {
                name: "水土保持",
                weight: 35,
                key_percent: 10,
                methods: ON_SITE,
                laws: &["《中华人民共和国水土保持法》第四十三条"],
                objects: &[
                    obj("生产建设项目单位", ENT, ALL),
                    obj("矿山企业", ENT, MINING),
                    obj("采石取土经营者", ALL, MINING),
                ],
                aspects: &["水土保持方案审批情况", "水土保持措施落实情况", "水土保持设施验收情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市林业局",
        abbr: "LY",
        items: 20,
        fields: &[
            Field {
                name: "林木采伐",
                weight: 35,
                key_percent: 10,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国森林法》第五十六条",
                    "《中华人民共和国森林法实施条例》第三十二条",
                ],
                objects: &[
                    obj("木材经营加工单位", ENT_IND, MANUFACTURING),
                    obj("林木采伐单位", ALL, AGRICULTURE_INDUSTRY),
                    obj("林区施工单位", ENT, CONSTRUCTION),
                ],
                aspects: &["采伐许可情况", "木材来源登记情况", "伐区作业情况"],
                ratios: None,
            },
            Field {
                name: "野生动植物保护",
                weight: 35,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国野生动物保护法》第三十四条",
                    "《中华人民共和国野生植物保护条例》第十九条",
                ],
                objects: &[
                    obj("野生动物人工繁育单位", ALL, AGRICULTURE_INDUSTRY),
                    obj("野生动植物制品经营者", ENT_IND, TRADE),
                    obj("餐饮服务经营者", ALL, FOOD),
                ],
                aspects: &["许可证件情况", "来源证明和专用标识情况", "经营利用台账情况"],
                ratios: None,
            },
            Field {
                name: "林草种苗",
                weight: 30,
                key_percent: 0,
                methods: ON_SITE,
                laws: &[
                    "《中华人民共和国种子法》第五十条",
                    "《林木种子生产经营许可证管理办法》第二十五条",
                ],
                objects: &[
                    obj("林木种苗生产经营者", ALL, AGRICULTURE_INDUSTRY),
                    obj("花卉苗木经营者", ENT_IND, TRADE),
                ],
                aspects: &["生产经营许可情况", "种苗质量情况", "标签和档案情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市综合行政执法局",
        abbr: "ZHZF",
        items: 30,
        fields: &[
            Field {
                name: "市容环境卫生",
                weight: 30,
                key_percent: 0,
                methods: ON_SITE,
                laws: &[
                    "《城市市容和环境卫生管理条例》第三十六条",
                    "《贵州省城市市容和环境卫生管理规定》第二十九条",
                ],
                objects: &[
                    obj("临街经营商户", IND, ALL),
                    obj("餐饮经营者", ALL, FOOD),
                    obj("建筑工地", ENT, CONSTRUCTION),
                ],
                aspects: &["门前三包责任落实情况", "占道经营情况", "餐厨垃圾处置情况"],
                ratios: None,
            },
            Field {
                name: "城乡规划",
                weight: 25,
                key_percent: 10,
                methods: ON_SITE,
                laws: &["《中华人民共和国城乡规划法》第五十三条"],
                objects: &[
                    obj("建设单位", ENT, ALL),
                    obj("房地产开发企业", ENT, REAL_ESTATE),
                    obj("工业项目建设单位", ENT, MANUFACTURING),
                ],
                aspects: &[
                    "建设工程规划许可情况",
                    "按规划条件建设情况",
                    "临时建设情况",
                    "规划核实情况",
                ],
                ratios: None,
            },
            Field {
                name: "户外广告设置",
                weight: 20,
                key_percent: 0,
                methods: ON_SITE,
                laws: &["《城市市容和环境卫生管理条例》第十一条"],
                objects: &[obj("户外广告设置单位", ALL, ALL), obj("临街商户", IND, ALL)],
                aspects: &["设置审批情况", "设施安全情况", "维护管理情况"],
                ratios: None,
            },
            Field {
                name: "建筑垃圾",
                weight: 25,
                key_percent: 20,
                methods: ON_SITE,
                laws: &["《城市建筑垃圾管理规定》第二十条"],
                objects: &[obj("建筑垃圾运输单位", ENT, ALL), obj("施工单位", ENT, CONSTRUCTION)],
                aspects: &["处置核准情况", "运输车辆密闭情况", "消纳场所情况", "出入口冲洗设施情况"],
                ratios: None,
            },
        ],
    },
    Department {
        name: "盘州市医疗保障局",
        abbr: "YB",
        items: 18,
        fields: &[
            Field {
                name: "定点医疗机构",
                weight: 40,
                key_percent: 30,
                methods: ON_SITE,
                laws: &[
                    "《医疗保障基金使用监督管理条例》第二十七条",
                    "《医疗机构医疗保障定点管理暂行办法》第三十八条",
                ],
                objects: &[obj("定点民营医院", ENT, HEALTH), obj("定点诊所", ALL, HEALTH)],
                aspects: &[
                    "医保服务协议履行情况",
                    "诊疗和收费情况",
                    "进销存管理情况",
                    "医保医师管理情况",
                ],
                ratios: None,
            },
            Field {
                name: "定点零售药店",
                weight: 35,
                key_percent: 20,
                methods: ON_SITE,
                laws: &[
                    "《医疗保障基金使用监督管理条例》第二十七条",
                    "《零售药店医疗保障定点管理暂行办法》第三十六条",
                ],
                objects: &[obj("定点零售药店", ENT_IND, TRADE), obj("连锁药店门店", ENT, TRADE)],
                aspects: &["医保服务协议履行情况", "药品进销存情况", "医保结算情况", "药师在岗情况"],
                ratios: None,
            },
            Field {
                name: "医保基金使用",
                weight: 25,
                key_percent: 10,
                methods: ON_PAPER,
                laws: &["《医疗保障基金使用监督管理条例》第二十七条"],
                objects: &[obj("定点医药机构", ALL, ALL), obj("参保单位", ENT, ALL)],
                aspects: &["基金结算资料情况", "费用明细真实性", "参保信息真实性"],
                ratios: None,
            },
        ],
    },
];

/// A GB/T 4754-2017 section, with how common it is among individual and
/// corporate businesses and the words their names use.
struct Industry {
    name: &'static str,
    individual: u32,
    enterprise: u32,
    company_words: &'static [&'static str],
    shop_words: &'static [&'static str],
}

/// Index of 农、林、牧、渔业, the industry of every cooperative.
const COOPERATIVE_INDUSTRY: usize = 0;

static INDUSTRIES: [Industry; 18] = [
    Industry {
        name: "农、林、牧、渔业",
        individual: 25,
        enterprise: 60,
        company_words: &["农业开发", "生态农业", "农牧", "林业开发", "养殖"],
        shop_words: &["养殖场", "种植场", "家庭农场"],
    },
    Industry {
        name: "采矿业",
        individual: 2,
        enterprise: 55,
        company_words: &["煤业", "矿业", "能源", "砂石"],
        shop_words: &["采石场", "砂石场"],
    },
    Industry {
        name: "制造业",
        individual: 40,
        enterprise: 90,
        company_words: &[
            "食品",
            "建材",
            "新型建材",
            "机械制造",
            "酒业",
            "火腿食品",
            "服装",
            "印务",
        ],
        shop_words: &[
            "豆腐坊",
            "榨油坊",
            "门窗加工部",
            "火腿加工坊",
            "木器加工厂",
            "粮油加工坊",
        ],
    },
    Industry {
        name: "电力、热力、燃气及水生产和供应业",
        individual: 1,
        enterprise: 20,
        company_words: &["燃气", "电力", "供水", "新能源"],
        shop_words: &["供水站", "水电服务部"],
    },
    Industry {
        name: "建筑业",
        individual: 12,
        enterprise: 140,
        company_words: &[
            "建筑工程",
            "建设工程",
            "建筑劳务",
            "装饰工程",
            "路桥工程",
            "水电安装工程",
        ],
        shop_words: &["水电安装部", "装饰部", "建筑工程队"],
    },
    Industry {
        name: "批发和零售业",
        individual: 460,
        enterprise: 250,
        company_words: &["商贸", "贸易", "医药", "农资", "建材贸易", "汽车销售", "百货"],
        shop_words: &[
            "副食店",
            "便利店",
            "超市",
            "五金店",
            "服装店",
            "烟酒店",
            "农资店",
            "建材经营部",
            "手机店",
            "日用百货店",
            "水果店",
            "药房",
            "鞋店",
            "家具店",
            "电器店",
        ],
    },
    Industry {
        name: "交通运输、仓储和邮政业",
        individual: 50,
        enterprise: 50,
        company_words: &["运输", "物流", "客运", "货运", "仓储"],
        shop_words: &["货运部", "物流代办点", "搬家服务部"],
    },
    Industry {
        name: "住宿和餐饮业",
        individual: 200,
        enterprise: 40,
        company_words: &["餐饮管理", "酒店管理", "饮食服务", "宾馆"],
        shop_words: &[
            "小吃店",
            "饭店",
            "火锅店",
            "面馆",
            "烧烤店",
            "旅馆",
            "羊肉粉馆",
            "餐馆",
            "早餐店",
            "豆花饭馆",
            "客栈",
        ],
    },
    Industry {
        name: "信息传输、软件和信息技术服务业",
        individual: 10,
        enterprise: 30,
        company_words: &["网络科技", "信息技术", "通信工程", "电子科技"],
        shop_words: &["网络服务部", "通讯服务部"],
    },
    Industry {
        name: "金融业",
        individual: 0,
        enterprise: 8,
        company_words: &["小额贷款", "融资担保"],
        shop_words: &["金融服务部"],
    },
    Industry {
        name: "房地产业",
        individual: 5,
        enterprise: 40,
        company_words: &["房地产开发", "物业管理", "置业"],
        shop_words: &["房屋中介部"],
    },
    Industry {
        name: "租赁和商务服务业",
        individual: 20,
        enterprise: 90,
        company_words: &["商务咨询", "劳务服务", "广告传媒", "人力资源", "企业管理", "设备租赁"],
        shop_words: &["广告部", "婚庆服务部", "图文设计部", "租赁部"],
    },
    Industry {
        name: "科学研究和技术服务业",
        individual: 2,
        enterprise: 30,
        company_words: &["工程勘察", "检测", "技术服务", "测绘"],
        shop_words: &["技术服务部"],
    },
    Industry {
        name: "水利、环境和公共设施管理业",
        individual: 2,
        enterprise: 20,
        company_words: &["环保科技", "环境工程", "园林绿化"],
        shop_words: &["保洁服务部", "绿化服务部"],
    },
    Industry {
        name: "居民服务、修理和其他服务业",
        individual: 120,
        enterprise: 25,
        company_words: &["家政服务", "汽车维修", "保洁服务"],
        shop_words: &[
            "理发店",
            "汽车修理部",
            "洗车店",
            "家电维修部",
            "美容美发店",
            "摩托车修理部",
            "干洗店",
            "开锁店",
        ],
    },
    Industry {
        name: "教育",
        individual: 8,
        enterprise: 10,
        company_words: &["教育咨询", "文化培训", "职业培训"],
        shop_words: &["培训部", "托管中心", "辅导班"],
    },
    Industry {
        name: "卫生和社会工作",
        individual: 12,
        enterprise: 12,
        company_words: &["医院管理", "健康管理", "养老服务"],
        shop_words: &["诊所", "中医诊所", "推拿馆"],
    },
    Industry {
        name: "文化、体育和娱乐业",
        individual: 20,
        enterprise: 20,
        company_words: &["文化传媒", "体育发展", "旅游文化", "娱乐"],
        shop_words: &["棋牌室", "台球室", "网吧", "KTV"],
    },
];

/// Family names with rough relative frequencies (Guizhou adds 龙, 罗, 韦 …).
const SURNAMES: &[(&str, u32)] = &[
    ("王", 7),
    ("李", 7),
    ("张", 6),
    ("刘", 5),
    ("杨", 5),
    ("陈", 4),
    ("赵", 3),
    ("黄", 3),
    ("周", 3),
    ("吴", 3),
    ("罗", 3),
    ("徐", 2),
    ("孙", 2),
    ("胡", 2),
    ("朱", 2),
    ("高", 2),
    ("何", 2),
    ("郭", 2),
    ("马", 2),
    ("龙", 2),
    ("邓", 2),
    ("林", 1),
    ("蒋", 1),
    ("谢", 1),
    ("唐", 1),
    ("冯", 1),
    ("彭", 1),
    ("曾", 1),
    ("肖", 1),
    ("田", 1),
    ("袁", 1),
    ("蔡", 1),
    ("余", 1),
    ("潘", 1),
    ("杜", 1),
    ("叶", 1),
    ("程", 1),
    ("魏", 1),
    ("苏", 1),
    ("吕", 1),
    ("丁", 1),
    ("任", 1),
    ("卢", 1),
    ("姚", 1),
    ("沈", 1),
    ("钟", 1),
    ("姜", 1),
    ("谭", 1),
    ("陆", 1),
    ("范", 1),
    ("汪", 1),
    ("廖", 1),
    ("石", 1),
    ("金", 1),
    ("韦", 1),
    ("贺", 1),
    ("毛", 1),
    ("龚", 1),
    ("邵", 1),
    ("万", 1),
    ("严", 1),
    ("覃", 1),
    ("武", 1),
    ("孔", 1),
];

const GIVEN_NAME_CHARS: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "玉", "兰", "红", "文", "辉", "建", "国", "志", "海", "波", "鹏", "斌", "飞", "云",
    "林", "燕", "萍", "婷", "雪", "琴", "梅", "亮", "成", "俊", "峰", "宇", "浩", "凯", "鑫", "欣", "怡", "晨", "阳",
    "丹", "兴", "荣", "福", "昌", "贵", "富", "江", "坤", "龙", "智", "春", "慧", "学", "德", "仁", "义", "毅", "松",
    "翔", "琳", "倩", "颖",
];

const TRADE_FIRST: &[&str] = &[
    "鑫", "恒", "宏", "顺", "金", "盘", "乌", "兴", "隆", "华", "富", "源", "盛", "泰", "祥", "瑞", "佳", "嘉", "天",
    "贵", "众", "鼎", "汇", "诚", "信", "永", "安", "康", "博", "凉", "黔", "云", "宝", "新", "利", "红", "明", "荣",
    "聚", "福", "鸿", "万", "长", "昊", "星", "益", "德", "旭", "和", "正", "立", "中", "惠", "锦", "东", "丰", "美",
    "双", "龙", "凤",
];

const TRADE_SECOND: &[&str] = &[
    "源", "通", "达", "发", "盛", "鑫", "泰", "祥", "兴", "利", "丰", "辉", "昌", "和", "润", "森", "业", "成", "辰",
    "瑞", "宏", "邦", "锦", "程", "远", "晟", "江", "山", "峰", "顺", "腾", "凯", "旺", "隆", "福", "欣", "华", "源",
    "海", "林", "春", "阳", "升", "达", "荣", "佳", "乐", "茂", "鼎", "鹏", "川", "洋",
];

/// What cooperatives grow or raise, with the matching word.
const COOPERATIVE_PRODUCTS: &[(&str, &str)] = &[
    ("刺梨", "种植"),
    ("猕猴桃", "种植"),
    ("蔬菜", "种植"),
    ("中药材", "种植"),
    ("茶叶", "种植"),
    ("核桃", "种植"),
    ("食用菌", "种植"),
    ("小黄姜", "种植"),
    ("银杏", "种植"),
    ("花卉苗木", "种植"),
    ("马铃薯", "种植"),
    ("", "种植"),
    ("生猪", "养殖"),
    ("肉牛", "养殖"),
    ("山羊", "养殖"),
    ("蛋鸡", "养殖"),
    ("肉鸡", "养殖"),
    ("蜜蜂", "养殖"),
    ("冷水鱼", "养殖"),
    ("", "养殖"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet as StdHashSet;

    fn small() -> GenOptions {
        GenOptions {
            seed: 7,
            items: 10,
            inspectors: 20,
            targets: 50,
            conflicts: 5,
        }
    }

    fn read(dir: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_path(dir.join(name)).unwrap();
        let headers = reader.headers().unwrap().iter().map(String::from).collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        (headers, rows)
    }

    fn all_bytes(dir: &Path) -> Vec<Vec<u8>> {
        FILES.iter().map(|f| fs::read(dir.join(f)).unwrap()).collect()
    }

    const FILES: [&str; 5] = [
        "departments.csv",
        "items.csv",
        "inspectors.csv",
        "targets.csv",
        "conflicts.csv",
    ];

    #[test]
    fn same_options_give_same_bytes() {
        let opts = GenOptions {
            seed: 11,
            items: 120,
            inspectors: 200,
            targets: 3000,
            conflicts: 300,
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate(&opts, a.path()).unwrap();
        generate(&opts, b.path()).unwrap();
        assert_eq!(all_bytes(a.path()), all_bytes(b.path()));

        let c = tempfile::tempdir().unwrap();
        generate(&GenOptions { seed: 12, ..opts }, c.path()).unwrap();
        assert_ne!(
            fs::read(a.path().join("targets.csv")).unwrap(),
            fs::read(c.path().join("targets.csv")).unwrap()
        );
    }

    #[test]
    fn sections_do_not_depend_on_each_other() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate(&small(), a.path()).unwrap();
        generate(
            &GenOptions {
                inspectors: 40,
                items: 30,
                ..small()
            },
            b.path(),
        )
        .unwrap();
        assert_eq!(
            fs::read(a.path().join("targets.csv")).unwrap(),
            fs::read(b.path().join("targets.csv")).unwrap()
        );
    }

    /// Pins the output: if this changes, every published demo data set and
    /// test vector built on it changes too, so it must be on purpose.
    #[test]
    fn output_is_pinned() {
        let dir = tempfile::tempdir().unwrap();
        generate(&small(), dir.path()).unwrap();
        let mut hash = Sha256::new();
        for bytes in all_bytes(dir.path()) {
            hash.update(&bytes);
        }
        assert_eq!(hex::encode(hash.finalize()), GOLDEN_SMALL);
    }

    const GOLDEN_SMALL: &str = "85052c768c147666d81e8d9859b0a7c0be193207401367e54412c7e8bf68fd4d";

    #[test]
    fn small_sizes_are_complete_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(&small(), dir.path()).unwrap();
        assert_eq!(
            summary,
            GenSummary {
                departments: 16,
                items: 10,
                inspectors: 20,
                targets: 50,
                conflicts: 5
            }
        );
        check_consistency(dir.path(), &summary);
    }

    #[test]
    fn default_scale_directories_are_consistent() {
        // Default items and officers, fewer targets to keep the test quick.
        let opts = GenOptions {
            targets: 5000,
            ..GenOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(&opts, dir.path()).unwrap();
        assert_eq!(
            (summary.items, summary.inspectors, summary.conflicts),
            (635, 1343, 3000)
        );
        check_consistency(dir.path(), &summary);

        let (_, items) = read(dir.path(), "items.csv");
        // At the default size every field has more (object, aspect) pairs
        // than items, so no name needs a 子项 number.
        assert!(items.iter().all(|r| !r[1].contains("子项")));
        let names: StdHashSet<&str> = items.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(names.len(), items.len());
        let scjg = items.iter().filter(|r| r[2] == "盘州市市场监督管理局").count();
        assert_eq!(scjg, 200);
        assert!(items.iter().filter(|r| r[5] == "一般").count() > items.len() / 2);

        // Every field of a department is held by ≥ 40% of its officers.
        let (_, officers) = read(dir.path(), "inspectors.csv");
        for dept in &DEPARTMENTS {
            let staff: Vec<_> = officers.iter().filter(|r| r[2] == dept.name).collect();
            assert!(staff.len() >= 2, "{}", dept.name);
            for field in dept.fields {
                let holders = staff
                    .iter()
                    .filter(|r| r[3].split(';').any(|a| a == field.name))
                    .count();
                assert!(
                    holders * 100 >= staff.len() * 40,
                    "{} {}: {holders}/{}",
                    dept.name,
                    field.name,
                    staff.len()
                );
            }
        }
    }

    fn check_consistency(dir: &Path, summary: &GenSummary) {
        for name in FILES {
            let bytes = fs::read(dir.join(name)).unwrap();
            assert!(!bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "{name} has a BOM");
            assert!(!bytes.contains(&b'\r'), "{name} has CR");
            assert!(!dir.join(format!("{name}.tmp")).exists());
        }

        let (headers, depts) = read(dir, "departments.csv");
        assert_eq!(headers, ["部门名称"]);
        assert_eq!(depts.len(), summary.departments);
        let dept_names: StdHashSet<&str> = depts.iter().map(|r| r[0].as_str()).collect();

        let (headers, items) = read(dir, "items.csv");
        assert_eq!(headers, ITEM_HEADERS);
        assert_eq!(items.len(), summary.items);
        let mut codes = StdHashSet::new();
        for row in &items {
            assert!(crate::ids::ItemCode::parse(&row[0]).is_ok(), "{row:?}");
            assert!(codes.insert(row[0].clone()), "duplicate item {}", row[0]);
            assert!(dept_names.contains(row[2].as_str()));
            assert!(
                row.iter().enumerate().all(|(i, v)| !v.is_empty() || i == 7 || i == 8),
                "{row:?}"
            );
            assert!(row[5] == "一般" || row[5] == "重点");
        }

        let (headers, officers) = read(dir, "inspectors.csv");
        assert_eq!(headers, INSPECTOR_HEADERS);
        assert_eq!(officers.len(), summary.inspectors);
        let mut certs = StdHashSet::new();
        for row in &officers {
            assert!(crate::ids::CertNo::parse(&row[0]).is_ok(), "{row:?}");
            assert!(row[0].bytes().all(|b| b.is_ascii_digit()));
            assert!(certs.insert(row[0].clone()), "duplicate officer {}", row[0]);
            assert!(dept_names.contains(row[2].as_str()));
            let areas: Vec<&str> = row[3].split(';').collect();
            assert!((1..=3).contains(&areas.len()), "{row:?}");
            assert!(NaiveDate::parse_from_str(&row[5], "%Y-%m-%d").is_ok());
            assert!(row[5].as_str() >= "2028-01-01" && row[5].as_str() <= "2032-12-31");
        }
        // Each item's field is held by someone of its department.
        for item in &items {
            assert!(
                officers
                    .iter()
                    .any(|o| o[2] == item[2] && o[3].split(';').any(|a| a == item[3])),
                "no officer for {item:?}"
            );
        }

        let (headers, targets) = read(dir, "targets.csv");
        assert_eq!(headers, TARGET_HEADERS);
        assert_eq!(targets.len(), summary.targets);
        let mut credit_codes = StdHashSet::new();
        for row in &targets {
            let code = CreditCode::parse(&row[0]).unwrap_or_else(|e| panic!("{}: {e}", row[0]));
            assert!(credit_codes.insert(code), "duplicate target {}", row[0]);
            assert!(row.iter().all(|v| !v.is_empty()), "{row:?}");
            assert!(["A", "B", "C", "D"].contains(&row[5].as_str()));
        }

        let (headers, conflicts) = read(dir, "conflicts.csv");
        assert_eq!(headers, CONFLICT_HEADERS);
        assert_eq!(conflicts.len(), summary.conflicts);
        let mut pairs = StdHashSet::new();
        for row in &conflicts {
            assert!(certs.contains(&row[0]), "{row:?}");
            assert!(credit_codes.contains(&CreditCode::parse(&row[1]).unwrap()), "{row:?}");
            assert!(pairs.insert((row[0].clone(), row[1].clone())), "duplicate pair {row:?}");
        }
    }

    #[test]
    fn empty_and_impossible_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let none = GenOptions {
            seed: 1,
            items: 0,
            inspectors: 0,
            targets: 0,
            conflicts: 0,
        };
        assert_eq!(generate(&none, dir.path()).unwrap().targets, 0);

        // Exactly as many conflicts as pairs still works.
        let full = GenOptions {
            seed: 1,
            items: 3,
            inspectors: 3,
            targets: 4,
            conflicts: 12,
        };
        assert_eq!(generate(&full, dir.path()).unwrap().conflicts, 12);

        let too_many = GenOptions { conflicts: 13, ..full };
        let err = generate(&too_many, dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn creates_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        generate(&small(), &nested).unwrap();
        assert!(nested.join("targets.csv").is_file());
    }

    #[test]
    fn bounded_draws_stay_in_range_and_apportion_is_exact() {
        let mut rng = Rng::for_section(0, "test");
        let mut seen = [false; 7];
        for _ in 0..1000 {
            seen[rng.below(7) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(apportion(10, &[1, 1, 1]), [4, 3, 3]);
        let weights: Vec<u64> = DEPARTMENTS.iter().map(|d| u64::from(d.items)).collect();
        assert_eq!(apportion(635, &weights).iter().sum::<u64>(), 635);
        assert_eq!(apportion_with_floor(5, &[100, 1, 0], 2), [3, 2, 0]);
    }

    #[test]
    fn reference_data_is_well_formed() {
        assert_eq!(DEPARTMENTS.iter().map(|d| d.items).sum::<u32>(), 635);
        let mut abbrs = StdHashSet::new();
        for dept in &DEPARTMENTS {
            assert!(abbrs.insert(dept.abbr));
            assert!((3..=6).contains(&dept.fields.len()), "{}", dept.name);
            for field in dept.fields {
                for object in field.objects {
                    for industry in object.industries.split(';').filter(|s| !s.is_empty()) {
                        assert!(INDUSTRIES.iter().any(|i| i.name == industry), "{industry}");
                    }
                }
            }
        }
        assert_eq!(INDUSTRIES[COOPERATIVE_INDUSTRY].name, "农、林、牧、渔业");
        let names: StdHashSet<&str> = TOWNSHIPS.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), 27);
    }
}
