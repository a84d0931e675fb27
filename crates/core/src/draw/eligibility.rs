//! Who may serve a visit. **This is where recusal (回避) is enforced**, rule
//! by rule, for the team draw (§6, §13.3, §14), for substitutions (§12) and
//! for the counts that explain a shortage or a refused substitution: each
//! [`Bar`] is one rule of `docs/ALGORITHM.md`, checked in the order of the
//! enum, and `VisitRules::applies` holds the one test of each.
//!
//! A plan is compiled once into [`Rules`]: per officer of the plan's
//! departments a few facts (department, certificate, fields as a bitmask,
//! home township as a label), per drawn target its declared conflicts and
//! its previous team. [`Rules::visit`] turns that into the [`VisitRules`] of
//! one visit, which the caller completes with what only it knows (the
//! earlier team of a merged visit, the current team during a substitution).
//!
//! The team draw does not ask every officer about every visit: it keeps the
//! officers in queues by what never changes for a visit (the officer bars,
//! [`Rules::serves`]) and by [`Rules::partition`], the group a visit may bar
//! as a whole (the same-township rule), and asks [`VisitRules::recusal`]
//! only about the few officers it takes from the queues' heads.
//!
//! A new rule is a new [`Bar`] in checking order (before the workload cap,
//! which comes last; also in [`Bar::ALL`], which a compile-time check holds
//! to the enum), its test in `VisitRules::applies` and its words in
//! `Bar::words` (both exhaustive matches, so the compiler asks for them),
//! and its paragraph in the spec. A rule that names officers one by one also
//! lists them in [`VisitRules::named`], so the processing order counts them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{DrawError, Visit};
use crate::history::History;
use crate::ids::CreditCode;
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::{Label, PoolRecords};

/// One reason an officer may not serve a visit. The order of the variants is
/// the order of the checks: an officer is barred by, and counted under, the
/// first that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bar {
    /// §6 rule 1, §13.3: of another department than the one the team needs
    /// (§12: than the officer being replaced). Not counted: the counts are
    /// of the department's officers.
    OtherDepartment,
    /// §6 rule 2: certificate not valid on the inspection date.
    CertificateExpired,
    /// §6 rule 3, §13.3: lacks the field of an item the department checks.
    NotQualified,
    /// §6 rule 4 (always): on the declared recusal list for the target;
    /// §12 adds conflicts declared by substitutions.
    DeclaredConflict,
    /// §6 rule 5 (`same_township`): lives in the target's township.
    SameTownship,
    /// §6 rule 6 (`previous_inspector`): on the target's latest team in the
    /// history (rotation, 轮换).
    PreviousInspector,
    /// §12 step 2: already on the visit's team, or taken off it before.
    OnTeamOrTakenOff,
    /// §14 rule 7: on the earlier team of a merged visit it does not serve.
    OnEarlierTeam,
    /// §6 assignment step 1, §12 step 2: load at `workload_cap`.
    AtWorkloadCap,
}

/// How a bar reads in a shortage of the draw.
#[derive(Clone, Copy)]
enum Shown {
    Always(&'static str),
    /// Only when some officer is counted under it.
    WhenCounted(&'static str),
    /// The bar cannot apply in a draw.
    Never,
}

/// The words for a bar's count.
struct Words {
    /// The key of the count in serialised reasons.
    key: &'static str,
    /// In a refused substitution (§12 step 3).
    refusal: &'static str,
    /// In a shortage of the draw (§6): the messages predate some bars and
    /// keep their wording.
    shortage: Shown,
}

impl Bar {
    /// Every bar, in checking order.
    pub const ALL: [Bar; 9] = [
        Bar::OtherDepartment,
        Bar::CertificateExpired,
        Bar::NotQualified,
        Bar::DeclaredConflict,
        Bar::SameTownship,
        Bar::PreviousInspector,
        Bar::OnTeamOrTakenOff,
        Bar::OnEarlierTeam,
        Bar::AtWorkloadCap,
    ];

    /// The bars that depend on the officer alone, given what the team
    /// needs (up to `NotQualified`): the team draw keeps only officers past
    /// them in its queues.
    fn officer_bars() -> &'static [Bar] {
        &Bar::ALL[..=Bar::NotQualified as usize]
    }

    /// The bars that depend on the visit, recusal in the wide sense: every
    /// bar between the officer's own and the workload cap.
    fn recusal_bars() -> &'static [Bar] {
        &Bar::ALL[Bar::NotQualified as usize + 1..Bar::AtWorkloadCap as usize]
    }

    /// The rule in a few words, as a refused substitution names it.
    pub fn describe(self) -> &'static str {
        self.words().refusal
    }

    fn words(self) -> Words {
        let (key, refusal, shortage) = match self {
            Bar::OtherDepartment => ("other_department", "in another department", Shown::Never),
            Bar::CertificateExpired => (
                "certificate_expired",
                "certificate expired",
                Shown::Always("certificate expired"),
            ),
            Bar::NotQualified => ("not_qualified", "not qualified", Shown::Always("not qualified")),
            Bar::DeclaredConflict => (
                "declared_conflict",
                "declared conflict",
                Shown::Always("declared conflict"),
            ),
            Bar::SameTownship => ("same_township", "same township", Shown::Always("same township")),
            Bar::PreviousInspector => (
                "previous_inspector",
                "inspected it last time",
                Shown::Always("inspected it last time"),
            ),
            Bar::OnTeamOrTakenOff => (
                "on_team_or_taken_off",
                "already on the team or taken off it",
                Shown::Never,
            ),
            Bar::OnEarlierTeam => (
                "on_earlier_team",
                "on the earlier team of a merged visit",
                Shown::WhenCounted("on the earlier team"),
            ),
            Bar::AtWorkloadCap => (
                "at_workload_cap",
                "at the workload cap",
                Shown::Always("at the workload cap"),
            ),
        };
        Words { key, refusal, shortage }
    }
}

// `Bar::ALL` lists every variant once, in declaration order.
const _: () = {
    let mut i = 0;
    while i < Bar::ALL.len() {
        assert!(Bar::ALL[i] as usize == i);
        i += 1;
    }
    assert!(Bar::AtWorkloadCap as usize + 1 == Bar::ALL.len());
};

/// How many officers of a department each bar rules out for one visit
/// (each officer under the first bar that applies), for a shortage (§6) or
/// a refused substitution (§12 step 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuledOut {
    in_department: u32,
    counts: [u32; Bar::ALL.len()],
}

impl RuledOut {
    /// Counts one officer under `bar` (`None`: eligible).
    pub fn record(&mut self, bar: Option<Bar>) {
        if bar == Some(Bar::OtherDepartment) {
            return;
        }
        self.in_department += 1;
        if let Some(bar) = bar {
            self.counts[bar as usize] += 1;
        }
    }

    /// The officers of the department, barred or not.
    pub fn in_department(&self) -> u32 {
        self.in_department
    }

    /// The officers of the department ruled out by `bar` first.
    pub fn count(&self, bar: Bar) -> u32 {
        self.counts[bar as usize]
    }

    fn counted(&self) -> impl Iterator<Item = (Bar, u32)> + '_ {
        Bar::ALL[1..].iter().map(|&bar| (bar, self.count(bar)))
    }

    /// The counts as a shortage of the draw states them.
    pub(super) fn write_shortage(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " — of {} in the department: ", self.in_department)?;
        let mut first = true;
        for (bar, count) in self.counted() {
            let words = match bar.words().shortage {
                Shown::Always(words) => words,
                Shown::WhenCounted(words) if count > 0 => words,
                Shown::WhenCounted(_) | Shown::Never => continue,
            };
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{count} {words}")?;
        }
        Ok(())
    }
}

/// The refusal of a substitution.
impl fmt::Display for RuledOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "of {} in the department", self.in_department)?;
        for (bar, count) in self.counted() {
            write!(f, ", {count} {}", bar.words().refusal)?;
        }
        Ok(())
    }
}

impl Serialize for RuledOut {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Bar::ALL.len()))?;
        map.serialize_entry("in_department", &self.in_department)?;
        for (bar, count) in self.counted() {
            map.serialize_entry(bar.words().key, &count)?;
        }
        map.end()
    }
}

/// What one department must supply to a visit: officers of department
/// `department` (position in `Plan::departments`) holding every field in
/// `fields`. Ordered as the sub-teams are listed: initiator first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Need {
    pub department: u8,
    /// Bit i set: the plan's i-th enforcement field.
    pub fields: u64,
}

/// Facts about one officer of a plan's departments, computed once.
#[derive(Debug, Clone)]
pub struct Officer {
    /// Index into `Pools::inspectors`.
    pub index: u32,
    /// Position of the officer's department in `Plan::departments`.
    pub department: u8,
    pub valid: bool,
    /// Bit i set: qualified for the plan's i-th enforcement field.
    pub fields: u64,
    /// The home township as a target township label, if any target has it.
    pub township: Option<Label>,
}

/// A plan's rules, compiled for its pools and its drawn targets.
pub struct Rules<'a> {
    pools: &'a PoolRecords,
    plan: &'a Plan,
    /// `Plan::departments`, initiator first.
    departments: Vec<&'a str>,
    /// The officers of the plan's departments, in cert_no order.
    officers: Vec<Officer>,
    /// Per inspector index, the position in `officers` (or `u32::MAX`).
    officer_at: Vec<u32>,
    /// Per drawn target, the officers on the declared recusal list for it.
    declared: HashMap<u32, Vec<u32>>,
    /// Per drawn target, the officers of its latest inspection, when the
    /// rotation rule applies.
    previous: HashMap<u32, Vec<u32>>,
    /// Per plan item: its department's position and its field's bit.
    item_needs: HashMap<u32, Need>,
}

impl<'a> Rules<'a> {
    /// Compiles `plan` on `pools` for the drawn targets `drawn` (indices
    /// into `Pools::targets`).
    pub fn compile(
        pools: &'a PoolRecords,
        plan: &'a Plan,
        history: &History,
        drawn: impl IntoIterator<Item = u32>,
    ) -> Result<Rules<'a>, DrawError> {
        let departments: Vec<&str> = plan.departments().collect();
        let department_of = |name: &str| departments.iter().position(|&d| d == name).map(|d| d as u8);
        // The plan's enforcement fields, numbered in order of first appearance
        // in item-code order; only membership matters, so the numbering is
        // internal.
        let mut field_bits: HashMap<&str, u64> = HashMap::new();
        let mut item_needs = HashMap::new();
        for code in plan.items() {
            let index = pools
                .items
                .binary_search_by(|i| i.code.cmp(code))
                .map_err(|_| DrawError::UnknownItem(code.to_string()))?;
            let item = &pools.items[index];
            let field = item.field.as_str();
            let next = field_bits.len();
            if next >= 64 && !field_bits.contains_key(field) {
                return Err(DrawError::TooManyFields(next + 1));
            }
            let bit = *field_bits.entry(field).or_insert(1 << next);
            let department = department_of(&item.department).ok_or_else(|| DrawError::ForeignItem {
                item: code.to_string(),
                owner: item.department.clone(),
                department: departments.join("、"),
            })?;
            item_needs.insert(
                index as u32,
                Need {
                    department,
                    fields: bit,
                },
            );
        }
        let officers: Vec<Officer> = pools
            .inspectors
            .iter()
            .enumerate()
            .filter_map(|(index, o)| department_of(&o.department).map(|d| (index, o, d)))
            .map(|(index, o, department)| Officer {
                index: index as u32,
                department,
                valid: o.valid_until >= plan.inspection_date(),
                fields: o
                    .areas
                    .iter()
                    .filter_map(|a| field_bits.get(a.as_str()))
                    .fold(0, |a, b| a | b),
                township: pools.townships.get(&o.township),
            })
            .collect();
        let mut officer_at = vec![u32::MAX; pools.inspectors.len()];
        for (at, officer) in officers.iter().enumerate() {
            officer_at[officer.index as usize] = at as u32;
        }
        // Drawn targets by credit code: the recusal list and the history
        // name targets by code, and only drawn ones matter.
        let drawn: HashMap<CreditCode, u32> = drawn
            .into_iter()
            .map(|target| (pools.targets[target as usize].code, target))
            .collect();
        let mut declared: HashMap<u32, Vec<u32>> = HashMap::new();
        for conflict in &pools.conflicts {
            if let Some(&target) = drawn.get(&conflict.code) {
                if let Some(officer) = pools.inspector_index(&conflict.cert) {
                    declared.entry(target).or_default().push(officer as u32);
                }
            }
        }
        let previous = if plan.recusal().previous_inspector {
            latest_teams(pools, history, &drawn)
        } else {
            HashMap::new()
        };
        Ok(Rules {
            pools,
            plan,
            departments,
            officers,
            officer_at,
            declared,
            previous,
            item_needs,
        })
    }

    pub fn pools(&self) -> &'a PoolRecords {
        self.pools
    }

    pub fn plan(&self) -> &'a Plan {
        self.plan
    }

    /// The name of a department by its position in `Plan::departments`.
    pub fn department_name(&self, department: u8) -> &'a str {
        self.departments[department as usize]
    }

    /// The position of a department in `Plan::departments`.
    pub fn department(&self, name: &str) -> Option<u8> {
        self.departments.iter().position(|&d| d == name).map(|d| d as u8)
    }

    /// The officers of the plan's departments, in cert_no order.
    pub fn officers(&self) -> &[Officer] {
        &self.officers
    }

    /// The facts of inspector `index`, if of one of the plan's departments.
    pub fn officer(&self, index: u32) -> Option<&Officer> {
        let at = *self.officer_at.get(index as usize)?;
        self.officers.get(at as usize)
    }

    /// These rules without the declared recusal list (§6 rule 4, and the
    /// conflicts of §12): the rules whoever holds the pools but not the
    /// confidential `conflicts.csv` can check a listed team against.
    pub fn without_declared(mut self) -> Self {
        self.declared.clear();
        self
    }

    /// Records a conflict declared after the draw (§12 step 1).
    pub fn declare(&mut self, target: u32, officer: u32) {
        self.declared.entry(target).or_default().push(officer);
    }

    /// Whether `officer` passes the bars that depend on the officer alone,
    /// for `need`.
    pub fn serves(&self, officer: &Officer, need: Need) -> bool {
        let any = VisitRules::any_visit(self.plan.workload_cap());
        Bar::officer_bars()
            .iter()
            .all(|&bar| !any.applies(bar, officer, need, None))
    }

    /// The group of officers a visit may bar as a whole: the home township
    /// when the same-township rule applies (§6 rule 5), otherwise one group
    /// for all. See [`VisitRules::barred_group`].
    pub fn partition(&self, officer: &Officer) -> Option<Label> {
        officer.township.filter(|_| self.plan.recusal().same_township)
    }

    /// The rules of one drawn visit, before a merged visit's earlier team or
    /// a substitution's team is known.
    pub fn visit(&self, visit: &Visit) -> VisitRules<'_> {
        const NONE: &[u32] = &[];
        // The initiating department always takes part (spec §13); with its
        // own items on the visit its officers must hold their fields.
        let mut needs = vec![Need {
            department: 0,
            fields: 0,
        }];
        for item in &visit.items {
            let need = self.item_needs[item];
            match needs.iter_mut().find(|n| n.department == need.department) {
                Some(n) => n.fields |= need.fields,
                None => needs.push(need),
            }
        }
        needs.sort_unstable();
        VisitRules {
            needs,
            township: self
                .plan
                .recusal()
                .same_township
                .then(|| self.pools.targets[visit.target as usize].township),
            declared: Cow::Borrowed(self.declared.get(&visit.target).map_or(NONE, Vec::as_slice)),
            previous: self.previous.get(&visit.target).map_or(NONE, Vec::as_slice),
            team: Vec::new(),
            earlier: Vec::new(),
            cap: self.plan.workload_cap(),
        }
    }
}

/// The rules of one visit, as [`Rules::visit`] compiles them.
pub struct VisitRules<'r> {
    /// One per department of the visit, in team order (§13.2).
    pub needs: Vec<Need>,
    /// The target's township label, when the same-township rule applies.
    township: Option<Label>,
    declared: Cow<'r, [u32]>,
    previous: &'r [u32],
    /// §12: the current team and the officers taken off the visit.
    pub team: Vec<u32>,
    /// §14: the earlier team of a merged visit that does not serve it.
    pub earlier: Vec<u32>,
    cap: u32,
}

impl VisitRules<'_> {
    /// A visit that no visit-dependent rule bars anyone from.
    fn any_visit(cap: u32) -> VisitRules<'static> {
        VisitRules {
            needs: Vec::new(),
            township: None,
            declared: Cow::Borrowed(&[]),
            previous: &[],
            team: Vec::new(),
            earlier: Vec::new(),
            cap,
        }
    }

    /// Adds a conflict declared by the substitution being made (§12 step 1).
    pub fn declare(&mut self, officer: u32) {
        self.declared.to_mut().push(officer);
    }

    /// Whether `bar` keeps `officer` off this visit as one of `need`, with
    /// `load` visits so far (`None`: before any assignment, when workload
    /// plays no part).
    #[inline]
    fn applies(&self, bar: Bar, officer: &Officer, need: Need, load: Option<u32>) -> bool {
        match bar {
            Bar::OtherDepartment => officer.department != need.department,
            Bar::CertificateExpired => !officer.valid,
            Bar::NotQualified => officer.fields & need.fields != need.fields,
            Bar::DeclaredConflict => self.declared.contains(&officer.index),
            Bar::SameTownship => self.township.is_some() && officer.township == self.township,
            Bar::PreviousInspector => self.previous.contains(&officer.index),
            Bar::OnTeamOrTakenOff => self.team.contains(&officer.index),
            Bar::OnEarlierTeam => self.earlier.contains(&officer.index),
            Bar::AtWorkloadCap => load.is_some_and(|load| load >= self.cap),
        }
    }

    /// The first bar that keeps `officer` off this visit as one of `need`.
    pub fn bar(&self, officer: &Officer, need: Need, load: Option<u32>) -> Option<Bar> {
        Bar::ALL.into_iter().find(|&bar| self.applies(bar, officer, need, load))
    }

    /// The first rule of the visit itself that keeps `officer` off it.
    #[inline]
    pub fn recusal(&self, officer: &Officer) -> Option<Bar> {
        // The need plays no part in these bars.
        let need = Need {
            department: officer.department,
            fields: 0,
        };
        Bar::recusal_bars()
            .iter()
            .copied()
            .find(|&bar| self.applies(bar, officer, need, None))
    }

    /// The group of [`Rules::partition`] this visit bars as a whole.
    pub fn barred_group(&self) -> Option<Label> {
        self.township
    }

    /// Every officer a rule of this visit names one by one (the lists are
    /// short, so they are checked officer by officer); with
    /// [`Self::barred_group`] these are all the visit's own bars.
    pub fn named(&self) -> impl Iterator<Item = u32> + '_ {
        self.declared
            .iter()
            .chain(self.previous)
            .chain(&self.team)
            .chain(&self.earlier)
            .copied()
    }
}

/// Per target, the earlier visit a visit to it joins (spec §14): the
/// position in `merge_with` of the first plan that visits it, and that
/// visit's team in its order (`None` for an officer not in the pool, who
/// can serve nothing here). Visits of plans `merge_with` does not name are
/// ignored (the draw refuses them before).
pub fn earlier_teams(
    pools: &PoolRecords,
    plan: &Plan,
    merged: &Merged,
) -> HashMap<CreditCode, (u32, Vec<Option<u32>>)> {
    let named = plan.merge_with().unwrap_or_default();
    let mut earlier: HashMap<CreditCode, (u32, Vec<Option<u32>>)> = HashMap::new();
    for visit in &merged.visits {
        let Some(rank) = named.iter().position(|n| *n == visit.plan_id) else {
            continue;
        };
        let rank = rank as u32;
        if earlier.get(&visit.code).is_some_and(|(first, _)| *first <= rank) {
            continue;
        }
        let team = visit
            .officers
            .iter()
            .map(|c| pools.inspector_index(c).map(|o| o as u32))
            .collect();
        earlier.insert(visit.code, (rank, team));
    }
    earlier
}

/// For each drawn target, the officers of its most recent inspection in the
/// history (every inspection on that latest date, any item), for the
/// rotation (轮换) rule, §6 rule 6.
fn latest_teams(pools: &PoolRecords, history: &History, drawn: &HashMap<CreditCode, u32>) -> HashMap<u32, Vec<u32>> {
    let mut latest: HashMap<u32, (chrono::NaiveDate, Vec<u32>)> = HashMap::new();
    for inspection in &history.inspections {
        let Some(&target) = drawn.get(&inspection.code) else {
            continue;
        };
        let officers = inspection
            .officers
            .iter()
            .filter_map(|c| pools.inspector_index(c).map(|o| o as u32));
        let entry = latest.entry(target).or_insert((inspection.date, Vec::new()));
        if inspection.date > entry.0 {
            *entry = (inspection.date, Vec::new());
        }
        if inspection.date == entry.0 {
            entry.1.extend(officers);
        }
    }
    latest.into_iter().map(|(target, (_, team))| (target, team)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer(index: u32, valid: bool, fields: u64, township: Option<Label>) -> Officer {
        Officer {
            index,
            department: 0,
            valid,
            fields,
            township,
        }
    }

    /// A visit in township 7 whose target lists officer 3 as conflicted,
    /// was last inspected by 3 and 4, and has 5 on its team and 6 on the
    /// earlier team of its merged visit.
    fn visit() -> VisitRules<'static> {
        VisitRules {
            needs: vec![NEED],
            township: Some(7),
            declared: Cow::Borrowed(&[3]),
            previous: &[3, 4],
            team: vec![5],
            earlier: vec![6],
            cap: 2,
        }
    }

    const NEED: Need = Need {
        department: 0,
        fields: 0b11,
    };

    #[test]
    fn each_officer_is_barred_by_the_first_rule_in_the_spec_order() {
        let visit = visit();
        let at = |officer: &Officer, load| visit.bar(officer, NEED, load);
        let other = Officer {
            department: 1,
            ..officer(3, false, 0, Some(7))
        };
        assert_eq!(at(&other, Some(9)), Some(Bar::OtherDepartment));
        assert_eq!(
            at(&officer(3, false, 0, Some(7)), Some(9)),
            Some(Bar::CertificateExpired)
        );
        assert_eq!(at(&officer(3, true, 0b01, Some(7)), Some(9)), Some(Bar::NotQualified));
        assert_eq!(
            at(&officer(3, true, 0b111, Some(7)), Some(9)),
            Some(Bar::DeclaredConflict)
        );
        assert_eq!(at(&officer(4, true, 0b11, Some(7)), Some(9)), Some(Bar::SameTownship));
        assert_eq!(at(&officer(4, true, 0b11, None), Some(9)), Some(Bar::PreviousInspector));
        assert_eq!(
            at(&officer(5, true, 0b11, Some(1)), Some(9)),
            Some(Bar::OnTeamOrTakenOff)
        );
        assert_eq!(at(&officer(6, true, 0b11, Some(1)), Some(9)), Some(Bar::OnEarlierTeam));
        assert_eq!(at(&officer(8, true, 0b11, Some(1)), Some(2)), Some(Bar::AtWorkloadCap));
        assert_eq!(at(&officer(8, true, 0b11, Some(1)), Some(1)), None);
        // Before any assignment workload plays no part (§6 processing order).
        assert_eq!(at(&officer(8, true, 0b11, Some(1)), None), None);
        // The visit's own rules alone: what the queues do not already keep out.
        assert_eq!(visit.recusal(&officer(3, false, 0, None)), Some(Bar::DeclaredConflict));
        assert_eq!(visit.recusal(&officer(9, false, 0, Some(7))), Some(Bar::SameTownship));
        assert_eq!(visit.recusal(&officer(9, false, 0, None)), None);
        let mut named: Vec<u32> = visit.named().collect();
        named.sort_unstable();
        assert_eq!(named, [3, 3, 4, 5, 6]);
        assert_eq!(visit.barred_group(), Some(7));
    }

    #[test]
    fn a_conflict_declared_now_bars_the_officer_from_this_visit_only() {
        let mut visit = visit();
        let eight = officer(8, true, 0b11, None);
        assert_eq!(visit.bar(&eight, NEED, Some(0)), None);
        visit.declare(8);
        assert_eq!(visit.bar(&eight, NEED, Some(0)), Some(Bar::DeclaredConflict));
    }

    /// The counts as the draw's shortage and the substitution's refusal
    /// print them; these texts are what operators read and tests match.
    #[test]
    fn the_counts_read_as_the_messages_always_have() {
        struct Shortage<'a>(&'a RuledOut);
        impl fmt::Display for Shortage<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_shortage(f)
            }
        }
        let mut ruled = RuledOut::default();
        let bars = [
            Some(Bar::OtherDepartment),
            Some(Bar::CertificateExpired),
            Some(Bar::NotQualified),
            Some(Bar::NotQualified),
            Some(Bar::DeclaredConflict),
            Some(Bar::SameTownship),
            Some(Bar::PreviousInspector),
            Some(Bar::OnTeamOrTakenOff),
            Some(Bar::AtWorkloadCap),
            None,
        ];
        for bar in bars {
            ruled.record(bar);
        }
        assert_eq!(ruled.in_department(), 9);
        assert_eq!(ruled.count(Bar::NotQualified), 2);
        assert_eq!(ruled.count(Bar::OtherDepartment), 0);
        assert_eq!(
            Shortage(&ruled).to_string(),
            " — of 9 in the department: 1 certificate expired, 2 not qualified, 1 declared conflict, \
             1 same township, 1 inspected it last time, 1 at the workload cap"
        );
        assert_eq!(
            ruled.to_string(),
            "of 9 in the department, 1 certificate expired, 2 not qualified, 1 declared conflict, \
             1 same township, 1 inspected it last time, 1 already on the team or taken off it, \
             0 on the earlier team of a merged visit, 1 at the workload cap"
        );
        ruled.record(Some(Bar::OnEarlierTeam));
        assert!(
            Shortage(&ruled)
                .to_string()
                .ends_with("1 inspected it last time, 1 on the earlier team, 1 at the workload cap"),
            "{}",
            Shortage(&ruled)
        );
        assert_eq!(
            serde_json::to_string(&ruled).unwrap(),
            r#"{"in_department":10,"certificate_expired":1,"not_qualified":2,"declared_conflict":1,"same_township":1,"previous_inspector":1,"on_team_or_taken_off":1,"on_earlier_team":1,"at_workload_cap":1}"#
        );
    }
}
