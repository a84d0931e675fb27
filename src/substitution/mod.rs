//! Substituting an unavailable officer (换人) after a draw, as
//! `docs/ALGORITHM.md` §12 specifies: the draw is never redone; a substitute
//! is drawn from the draw's own seed under the draw's own rules, and the
//! substitutions are kept as a list that only grows, so anyone can replay
//! them and must get the same substitutes. The draw's rules are those of
//! [`crate::draw::eligibility`], the same the team draw asks.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::draw::eligibility::{earlier_teams, Need, Rules};
use crate::draw::{Bar, DrawError, Outcome, Published, RuledOut};
use crate::history::History;
use crate::ids::{CertNo, CreditCode};
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::Pools;
use crate::random::Stream;
use crate::seed::Seed;
use crate::snapshot::Hash32;

pub use crate::bundle::format::{
    Entry, Log, Reason, PUBLIC_SUBSTITUTIONS_FORMAT as PUBLIC_FORMAT, SUBSTITUTIONS_FILE as FILE,
    SUBSTITUTIONS_FORMAT as FORMAT,
};

/// What an operator asks: take `out` off the visit to `credit_code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub credit_code: CreditCode,
    pub out: CertNo,
    pub reason: Reason,
    /// Confidential: may name an illness or a family matter.
    #[serde(default)]
    pub note: String,
    /// Confidential: the declared relation, for `conflict`.
    #[serde(default)]
    pub relation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstitutionError {
    #[error("{0} was not drawn in this plan")]
    UnknownVisit(String),
    #[error("adjustment (人员调整) is the reason the public copy shows; give the real one: leave, transfer, conflict or other")]
    PublicReason,
    #[error("officer {out} is not on the team for {code}")]
    NotOnTeam { out: String, code: String },
    #[error(
        "the visit to {code} is made by the team of the earlier plan {plan} (merged, spec §14): \
         substitute in that plan's draw"
    )]
    MergedVisit { code: String, plan: String },
    #[error("no officer can replace {out} on the visit to {code}: {reasons}")]
    NoCandidate {
        out: String,
        code: String,
        reasons: RuledOut,
    },
    /// A partial verification's replay (without the recusal list): the
    /// substitute the list names is barred by a rule that does not need it.
    #[error("substitute {incoming} may not inspect {code}: {why} (§12 step 2 without the recusal list)")]
    Barred {
        incoming: String,
        code: String,
        why: &'static str,
    },
    /// The plan does not fit the pools: the outcome cannot be of a draw of
    /// this plan on them.
    #[error("the draw's rules: {0}")]
    Rules(DrawError),
}

/// Why a recorded list does not replay (spec §12, verification).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("entry {expected} is numbered {found}")]
    Numbering { expected: u32, found: u32 },
    #[error("substitution {seq}: {source}")]
    Refused { seq: u32, source: SubstitutionError },
    #[error(
        "substitution {seq} ({out} out of {code}): the list names {listed} as the substitute, \
         the replay draws {replayed}"
    )]
    OtherSubstitute {
        seq: u32,
        out: CertNo,
        code: CreditCode,
        listed: CertNo,
        replayed: CertNo,
    },
}

/// The state of §12 after the draw and the substitutions so far.
pub struct Roster<'a> {
    pools: &'a Pools,
    plan: &'a Plan,
    seed: &'a Seed,
    /// The draw's rules, with the conflicts declared by substitutions.
    rules: Result<Rules<'a>, DrawError>,
    outcome: Outcome,
    loads: Vec<u32>,
    removed: HashMap<usize, Vec<u32>>,
    visit_of: HashMap<CreditCode, usize>,
    /// Visits joining an earlier plan's visit (spec §14): the earlier team,
    /// and whether it serves the visit itself.
    earlier: HashMap<usize, (Vec<u32>, bool)>,
    done: u32,
}

impl<'a> Roster<'a> {
    /// The state right after the draw of a plan that merges with no other.
    pub fn new(pools: &'a Pools, plan: &'a Plan, history: &'a History, seed: &'a Seed, outcome: Outcome) -> Self {
        Roster::merging(pools, plan, history, &Merged::default(), seed, outcome)
    }

    /// The state right after the draw, for a plan merging with the earlier
    /// visits in `merged` (spec §14): a visit served by an earlier team is
    /// that plan's to change and carries no load here, and an earlier team
    /// stays off the own team of a visit it joins.
    pub fn merging(
        pools: &'a Pools,
        plan: &'a Plan,
        history: &'a History,
        merged: &Merged,
        seed: &'a Seed,
        outcome: Outcome,
    ) -> Self {
        let teams = earlier_teams(pools, plan, merged);
        let mut earlier = HashMap::new();
        for (v, visit) in outcome.visits.iter().enumerate() {
            let Some(rank) = visit.merged else { continue };
            let code = pools.targets[visit.target as usize].code;
            let team: Vec<u32> = teams
                .get(&code)
                .filter(|(first, _)| *first == rank)
                .map(|(_, team)| team.iter().flatten().copied().collect())
                .unwrap_or_default();
            let serves = team == visit.team;
            earlier.insert(v, (team, serves));
        }
        let mut loads = vec![0u32; pools.inspectors.len()];
        let own_teams = outcome
            .visits
            .iter()
            .enumerate()
            .filter(|(v, _)| !earlier.get(v).is_some_and(|(_, serves)| *serves));
        for officer in own_teams.flat_map(|(_, visit)| &visit.team) {
            loads[*officer as usize] += 1;
        }
        let rules = Rules::compile(pools, plan, history, outcome.visits.iter().map(|v| v.target));
        let visit_of = outcome
            .visits
            .iter()
            .enumerate()
            .map(|(i, v)| (pools.targets[v.target as usize].code, i))
            .collect();
        Roster {
            pools,
            plan,
            seed,
            rules,
            outcome,
            loads,
            removed: HashMap::new(),
            visit_of,
            earlier,
            done: 0,
        }
    }

    /// The teams as they stand now.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    pub fn pools(&self) -> &'a Pools {
        self.pools
    }

    /// How many substitutions have been made.
    pub fn count(&self) -> u32 {
        self.done
    }

    /// The §7 result hash over the current teams.
    pub fn result_sha256(&self) -> Hash32 {
        Published::new(self.pools, &self.outcome).result_sha256
    }

    /// Makes substitution number `count() + 1` and returns the substitute's
    /// inspector index. A refused substitution changes nothing.
    pub fn substitute(&mut self, code: &CreditCode, out: &CertNo, reason: Reason) -> Result<u32, SubstitutionError> {
        self.substitute_as(code, out, reason, None)
    }

    /// Makes substitution number `count() + 1` with the substitute `listed`
    /// names instead of drawing one (`None`: draws it). A listed substitute
    /// must pass every bar of step 2 a draw would hold it to; what the
    /// roster's pools lack, it cannot be held to (a partial verification's
    /// pools have no recusal list).
    fn substitute_as(
        &mut self,
        code: &CreditCode,
        out: &CertNo,
        reason: Reason,
        listed: Option<&CertNo>,
    ) -> Result<u32, SubstitutionError> {
        let &v = self
            .visit_of
            .get(code)
            .ok_or_else(|| SubstitutionError::UnknownVisit(code.to_string()))?;
        let not_on_team = || SubstitutionError::NotOnTeam {
            out: out.to_string(),
            code: code.to_string(),
        };
        let leaving = self.pools.inspector_index(out).ok_or_else(not_on_team)? as u32;
        let (earlier_team, served) = self
            .earlier
            .get(&v)
            .map_or((&[][..], false), |(t, s)| (t.as_slice(), *s));
        if served {
            let rank = self.outcome.visits[v].merged.unwrap_or_default() as usize;
            let named = self.plan.merge_with().unwrap_or_default();
            return Err(SubstitutionError::MergedVisit {
                code: code.to_string(),
                plan: named.get(rank).cloned().unwrap_or_default(),
            });
        }
        let place = self.outcome.visits[v]
            .team
            .iter()
            .position(|&o| o == leaving)
            .ok_or_else(not_on_team)?;
        let seq = self.done + 1;
        let rules = self.rules.as_ref().map_err(|e| SubstitutionError::Rules(e.clone()))?;

        // Step 1 on a scratch copy of what it changes, so a refusal leaves
        // the state as it was.
        let mut removed = self.removed.get(&v).cloned().unwrap_or_default();
        removed.push(leaving);
        let visit = &self.outcome.visits[v];
        let mut bars = rules.visit(visit);
        if reason == Reason::Conflict {
            bars.declare(leaving);
        }
        bars.team = visit.team.iter().chain(&removed).copied().collect();
        bars.earlier = earlier_team.to_vec();
        // Step 2: the officers of `out`'s department, with the fields of
        // the visit's items that department checks. (A drawn team holds
        // only officers of the plan's departments, each with a sub-team on
        // the visit; the fallbacks serve outcomes that are not a draw's.)
        let need = rules.officer(leaving).map(|o| o.department).map(|department| {
            bars.needs
                .iter()
                .copied()
                .find(|n| n.department == department)
                .unwrap_or(Need { department, fields: 0 })
        });
        let mut ruled = RuledOut::default();
        let mut best: Option<((u32, u64, &str), u32)> = None;
        for officer in rules.officers() {
            // The leaving officer's own load does not matter here: they are
            // off this visit (step 1) and never a candidate for it.
            let load = self.loads[officer.index as usize];
            let bar = match need {
                Some(need) => bars.bar(officer, need, Some(load)),
                None => Some(Bar::OtherDepartment),
            };
            ruled.record(bar);
            if bar.is_some() {
                continue;
            }
            let cert = self.pools.inspectors[officer.index as usize].cert.as_str();
            let key = (load, ticket(self.seed, seq, cert), cert);
            if best.as_ref().is_none_or(|(b, _)| key < *b) {
                best = Some((key, officer.index));
            }
        }
        let incoming = match listed {
            None => match best {
                Some((_, incoming)) => incoming,
                None => {
                    return Err(SubstitutionError::NoCandidate {
                        out: out.to_string(),
                        code: code.to_string(),
                        reasons: ruled,
                    })
                }
            },
            Some(cert) => {
                let barred = |why| SubstitutionError::Barred {
                    incoming: cert.to_string(),
                    code: code.to_string(),
                    why,
                };
                let index = self
                    .pools
                    .inspector_index(cert)
                    .ok_or(barred("not in inspectors.csv"))? as u32;
                let bar = match (need, rules.officer(index)) {
                    (Some(need), Some(officer)) => bars.bar(officer, need, Some(self.loads[index as usize])),
                    _ => Some(Bar::OtherDepartment),
                };
                if let Some(bar) = bar {
                    return Err(barred(bar.describe()));
                }
                index
            }
        };
        self.loads[leaving as usize] -= 1;
        self.loads[incoming as usize] += 1;
        self.removed.insert(v, removed);
        if reason == Reason::Conflict {
            let target = self.outcome.visits[v].target;
            if let Ok(rules) = &mut self.rules {
                rules.declare(target, leaving);
            }
        }
        self.outcome.visits[v].team[place] = incoming;
        self.done = seq;
        Ok(incoming)
    }

    /// Replays a recorded list, checking each entry's number and substitute.
    pub fn replay(&mut self, entries: &[Entry]) -> Result<(), ReplayError> {
        self.replay_as(entries, false)
    }

    /// Replays a recorded list without drawing the substitutes: each must
    /// only pass the rules of step 2. For a partial verification, whose
    /// pools lack the recusal list the draw of a substitute depends on.
    pub fn replay_listed(&mut self, entries: &[Entry]) -> Result<(), ReplayError> {
        self.replay_as(entries, true)
    }

    fn replay_as(&mut self, entries: &[Entry], listed: bool) -> Result<(), ReplayError> {
        for entry in entries {
            let seq = self.done + 1;
            if entry.seq != seq {
                return Err(ReplayError::Numbering {
                    expected: seq,
                    found: entry.seq,
                });
            }
            let incoming = self
                .substitute_as(
                    &entry.credit_code,
                    &entry.out,
                    entry.reason,
                    listed.then_some(&entry.incoming),
                )
                .map_err(|source| ReplayError::Refused { seq, source })?;
            let replayed = &self.pools.inspectors[incoming as usize].cert;
            if *replayed != entry.incoming {
                return Err(ReplayError::OtherSubstitute {
                    seq,
                    out: entry.out.clone(),
                    code: entry.credit_code,
                    listed: entry.incoming.clone(),
                    replayed: replayed.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The ticket of a candidate for substitution `seq` (spec §12).
fn ticket(seed: &Seed, seq: u32, cert: &str) -> u64 {
    Stream::derive(seed, &[b"substitute", seq.to_string().as_bytes(), cert.as_bytes()]).next_u64()
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads a bundle's (or its public copy's) substitution list, if it has one.
pub fn read(dir: &Path) -> Result<Option<Log>, FileError> {
    let path = dir.join(FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(FileError::Io { path, source }),
    };
    let log = crate::bundle::format::read_substitutions(&text).map_err(|e| FileError::Invalid {
        path,
        message: e.to_string(),
    })?;
    Ok(Some(log))
}

/// Writes the list into a bundle folder and its public copy, each file under
/// a temporary name first and renamed into place, so a reader sees the old
/// list or the new one, never half of one.
pub fn write(bundle_dir: &Path, log: &Log) -> Result<(), crate::bundle::BundleError> {
    crate::bundle::replace_file(&bundle_dir.join(FILE), log.to_json().as_bytes())?;
    let public = bundle_dir.join("public");
    if public.is_dir() {
        crate::bundle::replace_file(&public.join(FILE), log.public().to_json().as_bytes())?;
    }
    Ok(())
}

/// Why a substitution could not be added to a bundle.
#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    #[error(transparent)]
    Refused(#[from] SubstitutionError),
    #[error("the bundle's substitutions.json does not replay: {0}")]
    Replay(ReplayError),
    #[error("substitutions.json belongs to another draw")]
    OtherDraw,
}

/// Replays a bundle's list on `roster` (the redrawn outcome of that
/// bundle), makes the next substitution and returns the longer list.
/// Nothing is written.
pub fn extend(
    stored: &crate::bundle::Stored,
    mut roster: Roster<'_>,
    log: Option<Log>,
    request: &Request,
    decided_at: &str,
) -> Result<(Log, Entry), ExtendError> {
    let m = &stored.manifest;
    let mut log = log.unwrap_or_else(|| Log {
        format: FORMAT.into(),
        plan_id: m.plan.id.clone(),
        draw_result_sha256: m.result_sha256,
        substitutions: Vec::new(),
        result_sha256: m.result_sha256,
    });
    if log.plan_id != m.plan.id || log.draw_result_sha256 != m.result_sha256 {
        return Err(ExtendError::OtherDraw);
    }
    if request.reason == Reason::Adjustment {
        return Err(SubstitutionError::PublicReason.into());
    }
    roster.replay(&log.substitutions).map_err(ExtendError::Replay)?;
    let incoming = roster.substitute(&request.credit_code, &request.out, request.reason)?;
    let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let entry = Entry {
        seq: roster.count(),
        credit_code: request.credit_code,
        out: request.out.clone(),
        incoming: roster.pools().inspectors[incoming as usize].cert.clone(),
        reason: request.reason,
        decided_at: decided_at.to_owned(),
        note: text(&request.note),
        relation: text(&request.relation).filter(|_| request.reason == Reason::Conflict),
    };
    log.substitutions.push(entry.clone());
    log.result_sha256 = roster.result_sha256();
    Ok((log, entry))
}
