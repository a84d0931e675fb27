//! The inspector directory (检查人员名录): officers per department in
//! proportion to its items, each holding one to three of its fields, with a
//! certificate number, a name, a home township and a certificate expiry.

use chrono::{Days, NaiveDate};

use super::catalogue::Catalogue;
use super::sampling::{apportion_with_floor, Rng, Weights};
use super::GenOptions;

pub(super) struct Officer {
    pub cert_no: String,
    pub name: String,
    pub dept: usize,
    /// The department's fields this officer holds, `;`-joined in field order.
    pub areas: String,
    pub township: usize,
    pub valid_until: String,
}

/// Every field of a department must be held by at least this share (percent)
/// of its officers, so teams of two or more can be drawn per item.
pub(super) const MIN_FIELD_COVERAGE_PERCENT: u64 = 40;

pub(super) fn make_officers(cat: &Catalogue, opts: &GenOptions, items_per_dept: &[u64]) -> Vec<Officer> {
    let mut rng = Rng::for_section(opts.seed, "inspectors");
    // Officers follow the item list: a department with no items gets none,
    // unless there are no items at all. Two per department first, so every
    // department that has items can field a team.
    let weights: Vec<u64> = if items_per_dept.iter().any(|&n| n > 0) {
        items_per_dept.to_vec()
    } else {
        cat.departments.iter().map(|d| u64::from(d.items)).collect()
    };
    let per_dept = apportion_with_floor(opts.inspectors as u64, &weights, 2);

    // Officers live mostly in the city's sub-districts.
    let homes = Weights::new(
        cat.townships
            .iter()
            .map(|t| t.weight * if t.name.ends_with("街道") { 3 } else { 1 }),
    );
    let surnames = Weights::of(&cat.surnames);
    let first_day = NaiveDate::from_ymd_opt(2028, 1, 1).expect("valid date");
    let last_day = NaiveDate::from_ymd_opt(2032, 12, 31).expect("valid date");
    let span = (last_day - first_day).num_days() as u64 + 1;

    let mut officers = Vec::with_capacity(opts.inspectors);
    for (dept_index, (dept, &count)) in cat.departments.iter().zip(&per_dept).enumerate() {
        let field_sets = assign_areas(&mut rng, dept.fields.len(), count as usize);
        // Numbers run per department with small gaps, like certificates
        // issued over the years; the department number keeps them unique.
        let mut serial = 0u64;
        for fields in field_sets {
            serial += 1 + rng.below(3);
            let mut name = cat.surnames[surnames.sample(&mut rng)].0.clone();
            let given_len = if rng.percent(75) { 2 } else { 1 };
            for _ in 0..given_len {
                name.push_str(rng.pick(&cat.given_name_chars).as_str());
            }
            let areas = fields
                .iter()
                .map(|&f| dept.fields[f].name.as_str())
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
