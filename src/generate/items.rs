//! The item list (抽查事项清单): each department's share of the items, split
//! over its enforcement fields, each item one (object, aspect) pair of its
//! field with a category, method, legal basis and A–D ratios.

use super::catalogue::Catalogue;
use super::sampling::{apportion, apportion_with_floor, Rng, Weights};
use super::GenOptions;

pub(super) struct Item<'c> {
    pub code: String,
    pub name: String,
    pub dept: usize,
    pub field: usize,
    pub legal_basis: String,
    pub category: &'static str,
    pub method: &'c str,
    pub entity_types: &'c str,
    pub industries: &'c str,
    pub ratios: &'c [String; 4],
}

pub(super) fn make_items<'c>(cat: &'c Catalogue, opts: &GenOptions) -> Vec<Item<'c>> {
    let mut rng = Rng::for_section(opts.seed, "items");
    let general = Weights::new(cat.general_ratios.iter().map(|r| r.weight));
    let key = Weights::new(cat.key_ratios.iter().map(|r| r.weight));
    let dept_weights: Vec<u64> = cat.departments.iter().map(|d| u64::from(d.items)).collect();
    let per_dept = apportion(opts.items as u64, &dept_weights);

    let mut items = Vec::with_capacity(opts.items);
    for (dept_index, (dept, &count)) in cat.departments.iter().zip(&per_dept).enumerate() {
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
            let methods = Weights::of(&field.methods);

            for (combo, round) in chosen {
                number += 1;
                let object = &field.objects[combo / field.aspects.len()];
                let aspect = &field.aspects[combo % field.aspects.len()];
                let mut name = format!("{}{}的检查", object.name, aspect);
                if round > 0 {
                    // Only when asked for more items than the field has pairs.
                    name.push_str(&format!("（子项{}）", round + 1));
                }
                let is_key = rng.percent(field.key_percent);
                let ratios = match (is_key, &field.ratios) {
                    (false, Some(fixed)) => fixed,
                    (false, None) => &cat.general_ratios[general.sample(&mut rng)].ratios,
                    (true, _) => &cat.key_ratios[key.sample(&mut rng)].ratios,
                };
                let mut legal_basis = rng.pick(&field.laws).clone();
                if field.laws.len() > 1 && rng.percent(30) {
                    let second = rng.pick(&field.laws);
                    if !legal_basis.contains(second.as_str()) {
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
                    method: &field.methods[methods.sample(&mut rng)].0,
                    entity_types: &object.entity_types,
                    industries: &object.industries,
                    ratios,
                });
            }
        }
    }
    items
}
