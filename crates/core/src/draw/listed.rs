//! Listed teams checked against the rules that do not need the recusal
//! list: the partial verification of `docs/VERIFY.md`, for whoever holds
//! the pools but not the confidential `conflicts.csv`.
//!
//! Without the recusal list the teams cannot be re-drawn (the processing
//! order of §6 depends on it), but each listed team can still be held to
//! every other rule. They are asked of the one eligibility engine
//! ([`Rules`], [`VisitRules`], [`Bar`]) with the declared conflicts left
//! out ([`Rules::without_declared`]), so this check and the draw cannot
//! disagree on what a rule means.

use super::eligibility::{earlier_teams, Rules, VisitRules};
use super::{Bar, DrawError, Outcome};
use crate::history::History;
use crate::ids::CreditCode;
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::PoolRecords;

/// Why a listed team breaks a rule that does not need the recusal list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListedTeamError {
    /// §6, §13.5: `size` different officers from each department of the visit.
    #[error("{code} has team {team}, not {size} different officers from each of {departments}")]
    Shape {
        code: CreditCode,
        team: String,
        size: u32,
        departments: String,
    },
    /// The first rule (in the order of [`Bar`]) that keeps the officer off
    /// the visit: department, certificate, qualification, same township,
    /// previous inspector, the earlier team of a merged visit (§14 rule 7)
    /// or the workload cap.
    #[error("officer {cert} may not inspect {code} for {department}: {}", .bar.describe())]
    Barred {
        cert: String,
        code: CreditCode,
        department: String,
        bar: Bar,
    },
    /// The plan does not fit the pools.
    #[error("the draw's rules: {0}")]
    Rules(DrawError),
}

/// Checks the teams of `listed` — the visits of [`super::draw_selection`]
/// with the teams a bundle lists — against every rule of §6 (§13, §14)
/// but the declared recusal list: each department's block of `team_size`
/// different officers, each of that department with a valid certificate and
/// the fields of its items, none of the target's township when that rule
/// applies, none of its latest inspection's team when rotation applies; a
/// merged visit either served by the earlier team unchanged (which carries
/// no load here) or by a team without any of its officers; and no officer
/// on more visits than the workload cap.
pub fn check_listed_teams(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    merged: &Merged,
    listed: &Outcome,
) -> Result<(), ListedTeamError> {
    let rules = Rules::compile(pools, plan, history, listed.visits.iter().map(|v| v.target))
        .map_err(ListedTeamError::Rules)?
        .without_declared();
    let earlier = earlier_teams(pools, plan, merged);
    let size = plan.team_size() as usize;
    let mut loads = vec![0u32; pools.inspectors.len()];
    for visit in &listed.visits {
        let code = pools.targets[visit.target as usize].code;
        let mut bars: VisitRules<'_> = rules.visit(visit);
        let team = &visit.team;
        let mut distinct = team.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if team.len() != size * bars.needs.len() || distinct.len() != team.len() {
            let certs: Vec<&str> = team
                .iter()
                .map(|&o| pools.inspectors[o as usize].cert.as_str())
                .collect();
            let departments: Vec<&str> = bars.needs.iter().map(|n| rules.department_name(n.department)).collect();
            return Err(ListedTeamError::Shape {
                code,
                team: certs.join(";"),
                size: plan.team_size(),
                departments: departments.join("、"),
            });
        }
        let earlier_team: Option<Vec<u32>> = earlier
            .get(&code)
            .map(|(_, team)| team.iter().flatten().copied().collect());
        // The earlier team serving the visit unchanged (§14) is that plan's
        // assignment: no load here, and it is not barred by itself.
        let served = earlier_team.as_ref() == Some(team);
        if !served {
            bars.earlier = earlier_team.unwrap_or_default();
        }
        for (&need, block) in bars.needs.iter().zip(team.chunks(size.max(1))) {
            for &o in block {
                let load = (!served).then(|| loads[o as usize]);
                let bar = match rules.officer(o) {
                    Some(officer) => bars.bar(officer, need, load),
                    None => Some(Bar::OtherDepartment),
                };
                if let Some(bar) = bar {
                    return Err(ListedTeamError::Barred {
                        cert: pools.inspectors[o as usize].cert.to_string(),
                        code,
                        department: rules.department_name(need.department).to_owned(),
                        bar,
                    });
                }
            }
        }
        if !served {
            for &o in team {
                loads[o as usize] += 1;
            }
        }
    }
    Ok(())
}
