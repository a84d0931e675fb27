//! The 一单两库 in memory: the item list, the inspector and target
//! directories, the departments and the confidential recusal list, loaded
//! all-or-nothing and committed to by snapshot hashes.
//!
//! These are the records and all of their parsing, from bytes: the CSV text
//! of one file ([`table`]), the rows of the small files ([`rows`]), the
//! streamed target directory ([`targets`]) and a whole pool with its
//! cross-checks ([`load`]). Finding the files in a folder or reading a
//! workbook's cells is the root crate's `shuangsui::pools`, which hands the
//! bytes or cells to these.

pub mod load;
pub mod rows;
pub mod table;
pub mod targets;

use rustc_hash::FxHashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::snapshot::{list_hash, Hash32};

pub use load::{check_csv, load_csv, load_csv_without_conflicts, Checked, CsvSource, LoadOptions};
pub use table::{DecodeError, Encoding, Problem, Problems, UnknownEncoding};

/// Credit-risk class (信用风险分类). Confidential: used for ratios, never published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub enum RiskClass {
    A,
    B,
    C,
    D,
}

impl RiskClass {
    pub const ALL: [RiskClass; 4] = [RiskClass::A, RiskClass::B, RiskClass::C, RiskClass::D];

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "A" | "a" => Some(RiskClass::A),
            "B" | "b" => Some(RiskClass::B),
            "C" | "c" => Some(RiskClass::C),
            "D" | "d" => Some(RiskClass::D),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        ["A", "B", "C", "D"][self as usize]
    }
}

/// 事项类别: general items keep low ratios, key items have no upper limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Category {
    General,
    Key,
}

impl Category {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "一般" | "general" => Some(Category::General),
            "重点" | "key" => Some(Category::Key),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::General => "一般",
            Category::Key => "重点",
        }
    }
}

/// A ratio in basis points (1/100 of a percent), so that quotas are exact
/// integer arithmetic on every machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Ratio(pub u32);

impl Ratio {
    pub const FULL: Ratio = Ratio(10_000);

    /// Parses a percentage: `3`, `0.5`, `30%`, at most two decimals, 0–100.
    pub fn parse_percent(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text
            .strip_suffix('%')
            .or_else(|| text.strip_suffix('％'))
            .unwrap_or(text)
            .trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !(frac.is_empty() || (frac.len() <= 2 && frac.bytes().all(|b| b.is_ascii_digit()))) {
            return None;
        }
        let frac_bp: u32 = format!("{frac:0<2}").parse().ok()?;
        let bp = whole.parse::<u32>().ok()? * 100 + frac_bp;
        (bp <= Ratio::FULL.0).then_some(Ratio(bp))
    }

    /// The quota of a stratum of `n`: ⌈n × ratio⌉, so no non-empty stratum
    /// with a positive ratio is ever exempt.
    pub fn quota(self, n: usize) -> usize {
        ((n as u64 * self.0 as u64).div_ceil(10_000)) as usize
    }

    /// Canonical text: the basis points in decimal.
    pub fn canonical(self) -> String {
        self.0.to_string()
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        if frac == 0 {
            write!(f, "{whole}%")
        } else if frac % 10 == 0 {
            write!(f, "{whole}.{}%", frac / 10)
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

/// An interned label (entity type, industry, township) of the target directory.
/// Sixteen bits keep a national directory's targets small in memory.
pub type Label = u16;

/// A small interner: the few hundred distinct labels of ninety thousand rows.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    names: Vec<Box<str>>,
    // Looked up three times per target row: a fast hash for short keys.
    index: FxHashMap<Box<str>, Label>,
}

impl Labels {
    /// The label of `name`, added if new; `None` when the labels are full.
    pub fn intern(&mut self, name: &str) -> Option<Label> {
        if let Some(&label) = self.index.get(name) {
            return Some(label);
        }
        let label = Label::try_from(self.names.len()).ok()?;
        self.names.push(name.into());
        self.index.insert(name.into(), label);
        Some(label)
    }

    pub fn get(&self, name: &str) -> Option<Label> {
        self.index.get(name).copied()
    }

    pub fn name(&self, label: Label) -> &str {
        &self.names[label as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub code: ItemCode,
    pub name: String,
    pub department: String,
    pub field: String,
    pub legal_basis: String,
    pub category: Category,
    pub method: String,
    /// Entity types in scope, canonical order; empty = all.
    pub entity_types: Vec<String>,
    /// Industries in scope, canonical order; empty = all.
    pub industries: Vec<String>,
    /// Default ratios for classes A–D.
    pub ratios: [Ratio; 4],
}

#[derive(Debug, Clone)]
pub struct Inspector {
    pub cert: CertNo,
    pub name: String,
    pub department: String,
    /// Qualification areas (执法领域), canonical order.
    pub areas: Vec<String>,
    pub township: String,
    pub valid_until: NaiveDate,
    /// The line it was read from, for messages only.
    pub line: u64,
}

/// Where a target's name sits in `Pools::target_names`. One arena instead of
/// a heap string per target: ten million small allocations, and freeing
/// them, cost more than parsing the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRef {
    pub start: u32,
    pub len: u32,
}

impl NameRef {
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub code: CreditCode,
    pub name: NameRef,
    pub entity_type: Label,
    pub industry: Label,
    pub township: Label,
    pub risk: RiskClass,
    /// The line it was read from, for messages only.
    pub line: u32,
}

#[derive(Debug, Clone)]
pub struct Conflict {
    pub cert: CertNo,
    pub code: CreditCode,
    pub relation: String,
}

/// The five files of a pool folder, by their snapshot kind.
pub const FILES: [(&str, &str); 5] = [
    ("departments", "departments.csv"),
    ("items", "items.csv"),
    ("inspectors", "inspectors.csv"),
    ("targets", "targets.csv"),
    ("conflicts", "conflicts.csv"),
];

/// What the five inputs are called in problems and summaries: `items.csv`
/// for a folder, `pools.xlsx[items]` (with the sheet's own name) for a workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub departments: String,
    pub items: String,
    pub inspectors: String,
    pub targets: String,
    pub conflicts: String,
}

impl Sources {
    /// The file names of a pool folder.
    pub fn csv() -> Self {
        let [departments, items, inspectors, targets, conflicts] = FILES.map(|(_, file)| file.to_owned());
        Sources {
            departments,
            items,
            inspectors,
            targets,
            conflicts,
        }
    }
}

/// The snapshot hashes of a pool folder (`docs/ALGORITHM.md` §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SnapshotHashes {
    pub departments: Hash32,
    pub items: Hash32,
    pub inspectors: Hash32,
    pub targets: Hash32,
    pub conflicts: Hash32,
}

impl SnapshotHashes {
    pub fn by_kind(&self) -> [(&'static str, Hash32); 5] {
        [
            ("departments", self.departments),
            ("items", self.items),
            ("inspectors", self.inspectors),
            ("targets", self.targets),
            ("conflicts", self.conflicts),
        ]
    }

    /// One hash for the whole folder, over the five in the order above.
    pub fn combined(&self) -> Hash32 {
        let hashes: Vec<Hash32> = self.by_kind().iter().map(|(_, h)| *h).collect();
        list_hash("shuangsui/v1/snapshot", hashes.iter())
    }
}

/// What a pool holds: its records, every list sorted by id. This is all a
/// draw reads; the snapshot hashes that commit to it are [`Pools`]'.
#[derive(Debug, Clone)]
pub struct PoolRecords {
    pub departments: Vec<String>,
    pub items: Vec<Item>,
    pub inspectors: Vec<Inspector>,
    pub targets: Vec<Target>,
    /// The text of every target name; see [`PoolRecords::target_name`].
    pub target_names: String,
    pub conflicts: Vec<Conflict>,
    pub entity_types: Labels,
    pub industries: Labels,
    pub townships: Labels,
    /// Where each input was read from, for messages.
    pub sources: Sources,
}

/// A loaded, validated pool folder: its records, and the snapshot hashes
/// computed from them. Only loading makes one ([`Checked::hash`]), so the
/// hashes are always those of the records beside them.
#[derive(Debug, Clone)]
pub struct Pools {
    records: PoolRecords,
    pub snapshot: SnapshotHashes,
}

impl std::ops::Deref for Pools {
    type Target = PoolRecords;

    fn deref(&self) -> &PoolRecords {
        &self.records
    }
}

impl PoolRecords {
    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items
            .binary_search_by(|i| i.code.as_str().cmp(code))
            .ok()
            .map(|i| &self.items[i])
    }

    pub fn target_name(&self, target: &Target) -> &str {
        &self.target_names[target.name.range()]
    }

    pub fn target_index(&self, code: &CreditCode) -> Option<usize> {
        self.targets.binary_search_by(|t| t.code.cmp(code)).ok()
    }

    pub fn inspector_index(&self, cert: &CertNo) -> Option<usize> {
        self.inspectors.binary_search_by(|i| i.cert.cmp(cert)).ok()
    }

    /// Problems that depend on the day rather than on the data: certificates
    /// that are no longer valid on `as_of`.
    pub fn expired_certificates(&self, as_of: NaiveDate) -> Problems {
        let mut problems = Problems::default();
        for officer in self.inspectors.iter().filter(|o| o.valid_until < as_of) {
            problems.push(Problem {
                file: self.sources.inspectors.clone(),
                line: officer.line,
                field: Some("valid_until"),
                message: format!(
                    "certificate {} of {} expired on {} (checked as of {as_of})",
                    officer.cert, officer.name, officer.valid_until
                ),
            });
        }
        problems
    }
}

impl std::fmt::Display for Pools {
    /// The summary `shuangsui check` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::collections::BTreeMap;
        let s = &self.sources;
        let counts = [
            (&s.departments, self.departments.len(), "departments"),
            (&s.items, self.items.len(), "items"),
            (&s.inspectors, self.inspectors.len(), "officers"),
            (&s.targets, self.targets.len(), "targets"),
            (&s.conflicts, self.conflicts.len(), "declared recusal relations"),
        ];
        // Sheet names are Chinese: pad by terminal columns, two per character.
        let width = |text: &str| text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
        let column = counts.iter().map(|(name, ..)| width(name)).max().unwrap_or(0).max(16);
        for (name, count, what) in counts {
            let pad = column - width(name);
            writeln!(f, "{name}{:pad$} {count:>9} {what}", "")?;
        }
        writeln!(f, "\nper department                         items  officers")?;
        let mut per_department: BTreeMap<&str, (usize, usize)> =
            self.departments.iter().map(|d| (d.as_str(), (0, 0))).collect();
        for item in &self.items {
            per_department.entry(&item.department).or_default().0 += 1;
        }
        for officer in &self.inspectors {
            per_department.entry(&officer.department).or_default().1 += 1;
        }
        for (department, (items, officers)) in per_department {
            let pad = 36usize.saturating_sub(department.chars().count() * 2);
            writeln!(f, "  {department}{:pad$} {items:>6} {officers:>9}", "")?;
        }
        let mut per_class = [0usize; 4];
        for target in &self.targets {
            per_class[target.risk as usize] += 1;
        }
        writeln!(f, "\nper credit-risk class (confidential)")?;
        for class in RiskClass::ALL {
            writeln!(f, "  {}  {:>9}", class.as_str(), per_class[class as usize])?;
        }
        writeln!(f, "\nsnapshot SHA-256")?;
        for (kind, hash) in self.snapshot.by_kind() {
            writeln!(f, "  {kind:<12} {hash}")?;
        }
        write!(f, "  {:<12} {}", "combined", self.snapshot.combined())
    }
}
