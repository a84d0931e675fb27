//! Plans (抽查计划): what to draw, from which scope, at what ratios, and how
//! teams are formed. A plan is written as TOML in `config/plans/` and carried
//! into every bundle as canonical JSON (`docs/ALGORITHM.md` §4).
//!
//! A [`Plan`] in memory has always passed the checks of §4, §13 and §14,
//! whichever form it was read from or built in, so the draw and everything
//! after it never meets a plan that breaks them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{ItemCode, PlanId};
use crate::pools::{Ratio, RiskClass};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("plan {path}: {message}")]
    Syntax { path: String, message: String },
    #[error("plan {path}: {field}: {message}")]
    Invalid {
        path: String,
        field: &'static str,
        message: String,
    },
}

/// A percentage as written in TOML: a number or a string such as "0.5" or "3%".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Percent {
    Integer(u32),
    Float(f64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanToml {
    id: String,
    name: String,
    department: String,
    /// Participating departments of a joint plan (部门联合抽查).
    joint: Option<Vec<String>>,
    /// Earlier plans of the same period whose visits this plan joins.
    merge_with: Option<Vec<String>>,
    inspection_date: NaiveDate,
    items: Vec<String>,
    #[serde(default)]
    targets: TargetFilter,
    #[serde(default)]
    selection: SelectionToml,
    teams: TeamsToml,
    #[serde(default)]
    recusal: RecusalToml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectionToml {
    ratios: Option<BTreeMap<String, Percent>>,
    count: Option<u32>,
    #[serde(default)]
    exclude_inspected_within_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamsToml {
    size: u32,
    workload_cap: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecusalToml {
    #[serde(default = "yes")]
    declared: bool,
    #[serde(default)]
    same_township: bool,
    #[serde(default)]
    previous_inspector: bool,
}

fn yes() -> bool {
    true
}

impl Default for RecusalToml {
    fn default() -> Self {
        RecusalToml {
            declared: true,
            same_township: false,
            previous_inspector: false,
        }
    }
}

/// Optional filters on targets, intersected with each item's own scope.
/// An empty list means no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFilter {
    #[serde(default)]
    pub townships: Vec<String>,
    #[serde(default)]
    pub entity_types: Vec<String>,
    #[serde(default)]
    pub industries: Vec<String>,
}

/// How many targets each item draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quota {
    /// Each item's own default ratios per credit-risk class.
    ItemRatios,
    /// These ratios (basis points, classes A–D) for every item.
    RatiosBp([u32; 4]),
    /// This many targets per item, uniformly over its eligible targets.
    Count(u32),
}

/// Which recusal (回避) rules apply. The declared list always does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recusal {
    pub declared: bool,
    pub same_township: bool,
    pub previous_inspector: bool,
}

/// The departments that join the initiating one in a joint plan (spec §13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Joint {
    /// Sorted and unique; never the initiating department.
    pub participants: Vec<String>,
}

/// A validated plan. Its JSON form is the one stored in bundles. Unknown
/// keys are refused, so a plan using an extension this build does not
/// implement can never be drawn or verified as if it were a plain plan.
///
/// Its fields are private and every way to build one — TOML, `plan.json`,
/// [`Plan::new`] from [`PlanParts`] — passes the same checks, so no plan in
/// memory breaks its rules: a `plan.json` comes from whoever wrote the
/// bundle, and a team size of 0 in it must be an input error, not a crash in
/// the middle of a redraw. To change a plan, take it apart with
/// [`Plan::into_parts`] and build it again:
///
/// ```
/// # use shuangsui_core::plan::Plan;
/// # let toml = "id = \"P-1\"\nname = \"n\"\ndepartment = \"d\"\ninspection_date = \"2026-03-02\"\n\
/// #             items = [\"A-1\"]\n[teams]\nsize = 2\nworkload_cap = 5\n";
/// let plan = Plan::parse_toml(toml, "p.toml").unwrap();
/// let mut parts = plan.into_parts();
/// parts.team_size = 0;
/// assert!(Plan::new(parts).is_err());
/// ```
///
/// A plan cannot be changed in place:
///
/// ```compile_fail,E0616
/// # use shuangsui_core::plan::Plan;
/// fn shrink(plan: &mut Plan) {
///     plan.team_size = 0;
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PlanParts")]
pub struct Plan {
    id: String,
    name: String,
    department: String,
    inspection_date: NaiveDate,
    /// Item codes, sorted and unique.
    items: Vec<ItemCode>,
    targets: TargetFilter,
    quota: Quota,
    exclude_inspected_within_days: u32,
    team_size: u32,
    workload_cap: u32,
    recusal: Recusal,
    /// Set only for joint plans, so a plain plan's JSON (and every hash
    /// over it) is what it was before joint plans existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joint: Option<Joint>,
    /// Plan ids, in the order given: the first whose visit a target is
    /// joins it (spec §14). Set only for plans that merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merge_with: Option<Vec<String>>,
}

/// A plan's fields before they are checked: `plan.json` as written, and
/// what [`Plan::new`] takes. The fields mean what [`Plan`]'s accessors say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanParts {
    pub id: String,
    pub name: String,
    pub department: String,
    pub inspection_date: NaiveDate,
    pub items: Vec<ItemCode>,
    pub targets: TargetFilter,
    pub quota: Quota,
    pub exclude_inspected_within_days: u32,
    pub team_size: u32,
    pub workload_cap: u32,
    pub recusal: Recusal,
    #[serde(default)]
    pub joint: Option<Joint>,
    #[serde(default)]
    pub merge_with: Option<Vec<String>>,
}

impl TryFrom<PlanParts> for Plan {
    type Error = PlanFault;

    fn try_from(parts: PlanParts) -> Result<Plan, PlanFault> {
        Plan::new(parts)
    }
}

/// What is wrong with a plan, by the key in either form; it reads as
/// `plan.json` names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{json}: {message}")]
pub struct PlanFault {
    /// The key in `plan.json`.
    pub json: &'static str,
    /// The key in the TOML form.
    pub toml: &'static str,
    pub message: String,
}

fn fault(json: &'static str, toml: &'static str, message: impl Into<String>) -> PlanFault {
    PlanFault {
        json,
        toml,
        message: message.into(),
    }
}

/// Strictly ascending: sorted and without repeats.
fn ascending<T: Ord>(list: &[T]) -> bool {
    list.windows(2).all(|w| w[0] < w[1])
}

/// Why a `selection.ratios` table is refused.
#[derive(Debug, thiserror::Error)]
enum RatioError {
    #[error("{0:?} is not a credit-risk class A–D")]
    Class(String),
    #[error("{0:?} is not a percentage 0–100 with at most two decimals")]
    Percent(String),
    #[error("class {0} has no ratio; give all of A, B, C and D")]
    Missing(&'static str),
}

impl Plan {
    /// Builds a plan from its parts, as they are: nothing is sorted or
    /// trimmed here (the TOML reader does that), so parts that are not
    /// already in canonical form are refused.
    pub fn new(parts: PlanParts) -> Result<Plan, PlanFault> {
        let plan = Plan {
            id: parts.id,
            name: parts.name,
            department: parts.department,
            inspection_date: parts.inspection_date,
            items: parts.items,
            targets: parts.targets,
            quota: parts.quota,
            exclude_inspected_within_days: parts.exclude_inspected_within_days,
            team_size: parts.team_size,
            workload_cap: parts.workload_cap,
            recusal: parts.recusal,
            joint: parts.joint,
            merge_with: parts.merge_with,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// The plan taken apart, to be changed and built again with [`Plan::new`].
    pub fn into_parts(self) -> PlanParts {
        PlanParts {
            id: self.id,
            name: self.name,
            department: self.department,
            inspection_date: self.inspection_date,
            items: self.items,
            targets: self.targets,
            quota: self.quota,
            exclude_inspected_within_days: self.exclude_inspected_within_days,
            team_size: self.team_size,
            workload_cap: self.workload_cap,
            recusal: self.recusal,
            joint: self.joint,
            merge_with: self.merge_with,
        }
    }

    /// The plan number (spec §4): the task id of its draw.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The initiating department; its officers come first in every team.
    pub fn department(&self) -> &str {
        &self.department
    }

    pub fn inspection_date(&self) -> NaiveDate {
        self.inspection_date
    }

    /// Item codes, sorted and unique.
    pub fn items(&self) -> &[ItemCode] {
        &self.items
    }

    pub fn targets(&self) -> &TargetFilter {
        &self.targets
    }

    pub fn quota(&self) -> &Quota {
        &self.quota
    }

    pub fn exclude_inspected_within_days(&self) -> u32 {
        self.exclude_inspected_within_days
    }

    /// Officers per team, at least 2.
    pub fn team_size(&self) -> u32 {
        self.team_size
    }

    /// Visits an officer may be given in one draw, at least 1.
    pub fn workload_cap(&self) -> u32 {
        self.workload_cap
    }

    pub fn recusal(&self) -> Recusal {
        self.recusal
    }

    /// The participating departments of a joint plan (spec §13).
    pub fn joint(&self) -> Option<&Joint> {
        self.joint.as_ref()
    }

    /// The earlier plans whose visits this one joins, in the order given (spec §14).
    pub fn merge_with(&self) -> Option<&[String]> {
        self.merge_with.as_deref()
    }

    /// Checks the rules of spec §4, §13 and §14 that a plan obeys on its own
    /// (those that need the pools are the draw's). [`Plan::new`] calls it,
    /// and every reader goes through that, so no plan that breaks them is
    /// ever built.
    fn validate(&self) -> Result<(), PlanFault> {
        PlanId::parse(&self.id).map_err(|e| fault("id", "id", e.to_string()))?;
        for (json, value) in [("name", &self.name), ("department", &self.department)] {
            if value.trim().is_empty() {
                return Err(fault(json, json, "must not be empty"));
            }
            if value.trim() != value {
                return Err(fault(json, json, format!("{value:?} has white space around it")));
            }
        }
        if self.items.is_empty() {
            return Err(fault("items", "items", "a plan needs at least one item"));
        }
        if !ascending(&self.items) {
            return Err(fault("items", "items", "must be sorted and without repeats"));
        }
        let filters = &self.targets;
        for (json, toml, list) in [
            ("targets.townships", "targets.townships", &filters.townships),
            ("targets.entity_types", "targets.entity_types", &filters.entity_types),
            ("targets.industries", "targets.industries", &filters.industries),
        ] {
            if list.iter().any(|v| v.trim().is_empty()) {
                return Err(fault(json, toml, "a filter value must not be empty"));
            }
            if list.iter().any(|v| v.trim() != v) || !ascending(list) {
                return Err(fault(json, toml, "must be trimmed, sorted and without repeats"));
            }
        }
        match &self.quota {
            Quota::Count(0) => return Err(fault("quota", "selection.count", "must be at least 1")),
            Quota::RatiosBp(bp) if bp.iter().any(|&b| b > Ratio::FULL.0) => {
                return Err(fault("quota", "selection.ratios", "a ratio is at most 100% (10000 bp)"))
            }
            _ => {}
        }
        if self.team_size < 2 {
            return Err(fault(
                "team_size",
                "teams.size",
                format!("is {}, but every team needs at least 2 officers", self.team_size),
            ));
        }
        if self.workload_cap == 0 {
            return Err(fault("workload_cap", "teams.workload_cap", "must be at least 1"));
        }
        if !self.recusal.declared {
            return Err(fault(
                "recusal.declared",
                "recusal.declared",
                "the declared recusal list always applies and cannot be switched off",
            ));
        }
        if let Some(joint) = &self.joint {
            let participants = &joint.participants;
            if participants.is_empty() {
                return Err(fault(
                    "joint",
                    "joint",
                    "a joint plan needs at least one participating department",
                ));
            }
            if participants.iter().any(|d| d.trim().is_empty() || d.trim() != d) {
                return Err(fault("joint", "joint", "department names must not be empty or padded"));
            }
            if participants.contains(&self.department) {
                return Err(fault(
                    "joint",
                    "joint",
                    format!("{} initiates the plan and cannot also participate", self.department),
                ));
            }
            if !ascending(participants) {
                return Err(fault(
                    "joint",
                    "joint",
                    "participants must be sorted and without repeats",
                ));
            }
            if self.quota == Quota::ItemRatios {
                return Err(fault(
                    "quota",
                    "selection",
                    "a joint plan draws once over the union of its items, so no single item's ratios can \
                     govern it: give ratios or count",
                ));
            }
        }
        if let Some(ids) = &self.merge_with {
            if ids.is_empty() {
                return Err(fault(
                    "merge_with",
                    "merge_with",
                    "name at least one earlier plan, or leave the key out",
                ));
            }
            for (n, id) in ids.iter().enumerate() {
                PlanId::parse(id).map_err(|e| fault("merge_with", "merge_with", e.to_string()))?;
                if *id == self.id {
                    return Err(fault("merge_with", "merge_with", "a plan cannot merge with itself"));
                }
                if ids[..n].contains(id) {
                    return Err(fault("merge_with", "merge_with", format!("{id} is named twice")));
                }
            }
        }
        Ok(())
    }

    pub fn parse_toml(text: &str, path: &str) -> Result<Plan, PlanError> {
        let raw: PlanToml = toml::from_str(text).map_err(|e| PlanError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })?;
        let invalid = |field: &'static str, message: String| PlanError::Invalid {
            path: path.into(),
            field,
            message,
        };
        let mut items = raw
            .items
            .iter()
            .map(|code| ItemCode::parse(code).map_err(|e| invalid("items", e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        items.sort();
        items.dedup();
        let quota = match (raw.selection.ratios, raw.selection.count) {
            (Some(_), Some(_)) => return Err(invalid("selection", "give ratios or count, not both".into())),
            (None, Some(count)) => Quota::Count(count),
            (None, None) => Quota::ItemRatios,
            (Some(map), None) => {
                Quota::RatiosBp(parse_ratios(&map).map_err(|e| invalid("selection.ratios", e.to_string()))?)
            }
        };
        // Department lists are sorted and de-duplicated on reading (spec
        // §13); merge_with keeps its order, which decides what a visit joins.
        let joint = raw.joint.map(|list| {
            let mut participants: Vec<String> = list.iter().map(|d| d.trim().to_owned()).collect();
            participants.sort();
            participants.dedup();
            Joint { participants }
        });
        let merge_with = raw
            .merge_with
            .map(|list| list.iter().map(|id| id.trim().to_owned()).collect());
        let mut targets = raw.targets;
        for list in [
            &mut targets.townships,
            &mut targets.entity_types,
            &mut targets.industries,
        ] {
            list.iter_mut().for_each(|s| *s = s.trim().to_owned());
            list.sort();
            list.dedup();
        }
        let parts = PlanParts {
            id: raw.id.trim().to_owned(),
            name: raw.name.trim().to_owned(),
            department: raw.department.trim().to_owned(),
            inspection_date: raw.inspection_date,
            items,
            targets,
            quota,
            exclude_inspected_within_days: raw.selection.exclude_inspected_within_days,
            team_size: raw.teams.size,
            workload_cap: raw.teams.workload_cap,
            recusal: Recusal {
                declared: raw.recusal.declared,
                same_township: raw.recusal.same_township,
                previous_inspector: raw.recusal.previous_inspector,
            },
            joint,
            merge_with,
        };
        let plan = Plan::new(parts).map_err(|fault| invalid(fault.toml, fault.message))?;
        Ok(plan)
    }

    /// The departments whose officers may serve: the initiating one first,
    /// then the participants of a joint plan in their sorted order.
    pub fn departments(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.department.as_str()).chain(
            self.joint
                .iter()
                .flat_map(|j| j.participants.iter().map(String::as_str)),
        )
    }

    /// The canonical JSON stored in a bundle as `plan.json`.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("plans serialise");
        text.push('\n');
        text
    }
}

fn parse_ratios(map: &BTreeMap<String, Percent>) -> Result<[u32; 4], RatioError> {
    let mut out = [None; 4];
    for (class, value) in map {
        let class = RiskClass::parse(class).ok_or_else(|| RatioError::Class(class.clone()))?;
        let text = match value {
            Percent::Integer(n) => n.to_string(),
            // A TOML float such as 0.5 prints back as written (shortest form).
            Percent::Float(x) => x.to_string(),
            Percent::Text(t) => t.clone(),
        };
        let ratio = Ratio::parse_percent(&text).ok_or_else(|| RatioError::Percent(text.clone()))?;
        out[class as usize] = Some(ratio.0);
    }
    let mut ratios = [0; 4];
    for (class, (slot, value)) in RiskClass::ALL.iter().zip(ratios.iter_mut().zip(out)) {
        // No class is exempt (domain rules): every class must be given.
        *slot = value.ok_or_else(|| RatioError::Missing(class.as_str()))?;
    }
    Ok(ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
id = "PZ-T-1"
name = "测试计划"
department = "盘州市市场监督管理局"
inspection_date = "2026-03-02"
items = ["B-1", "A-1", "A-1"]
[selection]
ratios = { A = 1, B = "3", C = "10%", D = 0.5 }
[teams]
size = 2
workload_cap = 5
"#;

    #[test]
    fn parses_and_normalises() {
        let plan = Plan::parse_toml(PLAN, "p.toml").unwrap();
        assert_eq!(
            plan.items.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            ["A-1", "B-1"]
        );
        assert_eq!(plan.quota, Quota::RatiosBp([100, 300, 1000, 50]));
        assert!(plan.recusal.declared);
        let json = plan.to_json();
        assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
    }

    #[test]
    fn plan_json_is_held_to_the_rules_of_a_toml_plan() {
        let json = Plan::parse_toml(PLAN, "p.toml").unwrap().to_json();
        let edit = |from: &str, to: &str| {
            assert!(json.contains(from), "{from}");
            serde_json::from_str::<Plan>(&json.replacen(from, to, 1))
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        for (from, to, expected) in [
            ("\"team_size\": 2", "\"team_size\": 0", "team_size"),
            ("\"workload_cap\": 5", "\"workload_cap\": 0", "workload_cap"),
            ("\"declared\": true", "\"declared\": false", "recusal.declared"),
            ("\"name\": \"测试计划\"", "\"name\": \" \"", "name"),
            ("\"id\": \"PZ-T-1\"", "\"id\": \"\"", "id"),
            ("\"A-1\",\n    \"B-1\"", "\"B-1\",\n    \"A-1\"", "items"),
            (
                "\"ratios_bp\": [\n      100,",
                "\"ratios_bp\": [\n      10001,",
                "quota",
            ),
            ("\"townships\": []", "\"townships\": [\"\"]", "targets.townships"),
        ] {
            let err = edit(from, to);
            assert!(err.contains(expected), "{to}: {err}");
        }
        // Not a u32 at all: serde's own error.
        edit("\"team_size\": 2", "\"team_size\": -1");
    }

    #[test]
    fn refuses_teams_of_one() {
        let text = PLAN.replace("size = 2", "size = 1");
        let err = Plan::parse_toml(&text, "p.toml").unwrap_err().to_string();
        assert!(err.contains("teams.size") && err.contains("at least 2"), "{err}");
    }

    #[test]
    fn refuses_switching_off_declared_recusal() {
        let text = format!("{PLAN}[recusal]\ndeclared = false\n");
        assert!(Plan::parse_toml(&text, "p.toml")
            .unwrap_err()
            .to_string()
            .contains("recusal.declared"));
    }

    #[test]
    fn refuses_missing_class_and_unknown_keys() {
        let text = PLAN.replace(", D = 0.5", "");
        assert!(Plan::parse_toml(&text, "p.toml")
            .unwrap_err()
            .to_string()
            .contains("class D"));
        let text = PLAN.replace("workload_cap = 5", "workload_cap = 5\nsizes = 3");
        assert!(Plan::parse_toml(&text, "p.toml").is_err());
    }
}
