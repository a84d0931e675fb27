//! Scheduled draws (定时抽取): the jobs of `config/schedule.toml`, each a plan
//! announced and drawn at the times a cron expression names, every
//! occurrence exactly once.
//!
//! # Occurrences and their steps
//!
//! An *occurrence* is one draw time of one job. Its key,
//! `"{job}@{time in RFC 3339 UTC}"` (`pz-scjg-quarterly@2026-01-01T01:00:00Z`),
//! names it for good: the same job and cron give the same keys on every
//! machine and after every restart. An occurrence goes through these steps:
//!
//! - [`Action::Announce`] at `at - announce_ahead` (at `at` itself when no
//!   lead is set): publish that the draw will happen, and with what seed
//!   method: the commitment for `commit`, the future beacon round for
//!   `beacon`, the time and place of the ceremony for `ceremony`. Every
//!   occurrence is announced before anything else happens to it.
//! - [`Action::Draw`] at `at`, for `commit` and `beacon`. A `ceremony` job has
//!   no draw step: an operator enters the dice digits later
//!   (`shuangsui draw --seed ceremony:…`), so the scheduler only announces.
//! - [`Action::Skip`] instead of the draw, when the catch-up policy gives up a
//!   missed occurrence: it is recorded as skipped, never silently dropped.
//!
//! # Exactly once
//!
//! The scheduler keeps no state of its own. Every step goes through an
//! [`Executor`], which claims the step in the ledger before acting: the
//! ledger keeps one row per (key, announce) and one per (key, settle), under
//! a UNIQUE constraint, where a draw and a skip both *settle* the occurrence,
//! so it is drawn or skipped, once, and never both. A second claim — by a
//! restarted runner, or by another instance sharing the database — finds the
//! row taken and returns [`Outcome::AlreadyDone`].
//!
//! That a second instance *could* claim a step is what keeps it once; that it
//! does not even try is the scheduler lease's work ([`crate::lease`]): the
//! service runs this scheduler only in the instance holding it.
//!
//! So the runner may offer a step more than once (it does after every
//! restart) and the step still happens once. What the runner must never do
//! is *miss* one. It takes each job's steps strictly in time order and does
//! not move past a step until the executor has recorded it: an executor error
//! is logged and the same step retried with a capped backoff, however long
//! that takes. Hence, at any moment, every step before the latest recorded
//! one has been recorded, and a restart resumes safely from there
//! ([`Executor::last_recorded`]).
//!
//! # Catch-up after downtime
//!
//! On start, for each job, the runner looks from the latest recorded
//! occurrence (less `announce_ahead`, since announcements run that far ahead
//! of draws) up to now. The occurrences in that span whose time has passed
//! were missed (or already handled: offering those again is harmless), and
//! the job's `catch_up` policy says what to do with them:
//!
//! - `latest` (default): announce and draw only the most recent; record the
//!   older ones as skipped. One late draw stands in for the batch.
//! - `all`: announce and draw every one, oldest first.
//! - `skip`: record every one as skipped; wait for the next occurrence.
//!
//! A job with nothing recorded yet starts fresh: nothing before the start
//! counts as missed. The policy applies only to what was missed while no
//! runner was up. While running, a step that comes due late (a slow or
//! failing executor, a paused process) is still run, in order: lateness is not
//! downtime. An upcoming draw whose announcement time has passed is announced
//! at once, late, and drawn on time.
//!
//! # Time
//!
//! Cron expressions are read in the job's IANA time zone (default
//! Asia/Shanghai, which has no daylight saving time; elsewhere croner's rules
//! for skipped and repeated hours apply). All instants are handled in UTC. The
//! runner reads "now" from a [`Clock`] and sleeps with
//! [`tokio::time::sleep_until`], so tests drive it on tokio's paused clock
//! with [`TokioClock`]. Working-day calendars (holidays, 调休 make-up days)
//! are not handled yet: a cron knows only the Gregorian calendar.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use crate::clock::Zone;
pub use crate::clock::{Clock, SystemClock};
use crate::desk::announce::ceremony_place;
use crate::plan::{Plan, PlanFile};

/// The time zone of a job that names none when the office's zone is not
/// given ([`Schedule::parse_toml`]): the default office zone.
pub const DEFAULT_TIMEZONE: Tz = Zone::SHANGHAI.tz();
/// The longest `announce_ahead` accepted: a longer lead is a typo.
pub const MAX_ANNOUNCE_AHEAD_DAYS: i64 = 366;
/// The first pause before retrying a failed step; it doubles on each failure…
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// …up to this bound, so a long outage is retried at a steady pace.
const MAX_RETRY: Duration = Duration::from_secs(300);
/// The longest single sleep. The runner reads the clock again after it, so a
/// clock that is not tokio's ([`SystemClock`], stepped by NTP) is followed
/// within this much.
const MAX_NAP: Duration = Duration::from_secs(60);

const JOB_KEYS: &[&str] = &[
    "name",
    "cron",
    "timezone",
    "plan",
    "seed",
    "announce_ahead",
    "catch_up",
    "place",
];

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot read schedule {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("schedule {path}: {message}")]
    Syntax { path: String, message: String },
    /// `job` is the job's name, or `#N` (counting from 1) when the name itself
    /// is missing or wrong.
    #[error("schedule {path}: job {job}: {field}: {message}")]
    Invalid {
        path: String,
        job: String,
        field: String,
        message: String,
    },
}

/// What is wrong with one field of a job, as [`ScheduleError::Invalid`]
/// says it after naming the job and the field.
#[derive(Debug, thiserror::Error)]
enum FieldError {
    #[error("must be 1 to 64 characters, got {0}")]
    NameLength(usize),
    #[error("{name:?} holds {c:?}: use ASCII letters, digits, '-', '_' and '.' only")]
    NameChar { name: String, c: char },
    #[error("{0:?} must start with a letter or digit")]
    NameStart(String),
    #[error("invalid cron expression {text:?}: {reason} (give 5 fields: minute hour day-of-month month day-of-week, or 6 with seconds first)")]
    Cron {
        text: String,
        reason: croner::errors::CronError,
    },
    #[error("cron expression {0:?} never matches a date (such as 30 February)")]
    CronNever(String),
    #[error("{0:?} is not a .toml plan file")]
    PlanExtension(String),
    #[error("{0:?} must be a relative path inside the schedule's folder, such as \"plans/quarterly-scjg.toml\"")]
    PlanOutside(String),
    #[error("{0:?} is not a duration such as \"7d\", \"24h\" or \"1d12h\" (units d, h, m, s)")]
    Lead(String),
    #[error("{0:?} is longer than {MAX_ANNOUNCE_AHEAD_DAYS} days")]
    LeadTooLong(String),
}

/// How the seed of a scheduled draw is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeedMethod {
    /// Dice digits read out at a public ceremony and entered by an operator
    /// after the scheduler's announcement; the scheduler does not draw.
    Ceremony,
    /// A drand round after the draw time, named in the announcement; the draw
    /// runs once that round is out (until then the executor's draw fails and
    /// is retried).
    Beacon,
    /// Server commit-reveal: the announcement publishes a commitment to a
    /// secret seed, the draw reveals it.
    Commit,
}

impl SeedMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SeedMethod::Ceremony => "ceremony",
            SeedMethod::Beacon => "beacon",
            SeedMethod::Commit => "commit",
        }
    }
}

/// What to do on start with occurrences missed while no runner was up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CatchUp {
    /// Run the most recent missed occurrence, record the older ones skipped.
    #[default]
    Latest,
    /// Run every missed occurrence, oldest first.
    All,
    /// Record every missed occurrence skipped.
    Skip,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Latest => "latest",
            CatchUp::All => "all",
            CatchUp::Skip => "skip",
        }
    }
}

/// One step of an occurrence (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Announce,
    Draw,
    Skip,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Announce => "announce",
            Action::Draw => "draw",
            Action::Skip => "skip",
        })
    }
}

/// What an [`Executor`] did with a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// This call announced or drew.
    Ran,
    /// This call recorded the occurrence as skipped.
    Skipped,
    /// The step was already recorded, by an earlier run or another instance;
    /// nothing was done.
    AlreadyDone,
}

/// One draw time of one job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Occurrence {
    pub job: String,
    pub at: DateTime<Utc>,
    /// `"{job}@{at in RFC 3339 UTC, whole seconds}"`: unique and stable, the
    /// ledger's key for this occurrence.
    pub key: String,
}

impl Occurrence {
    pub fn new(job: &str, at: DateTime<Utc>) -> Occurrence {
        Occurrence {
            job: job.to_owned(),
            at,
            key: format!("{job}@{}", at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }
    }
}

/// One scheduled job, checked: its cron parses and matches some date, its
/// time zone exists.
#[derive(Debug, Clone)]
pub struct Job {
    name: String,
    cron_text: String,
    cron: Cron,
    timezone: Tz,
    plan: PathBuf,
    seed: SeedMethod,
    announce_ahead: Option<TimeDelta>,
    catch_up: CatchUp,
    /// Where a ceremony job's ceremonies are held.
    place: Option<String>,
}

impl Job {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cron expression as written.
    pub fn cron(&self) -> &str {
        &self.cron_text
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The plan file: as written by [`Schedule::parse_toml`]; joined to the
    /// schedule file's folder by [`Schedule::load`].
    pub fn plan(&self) -> &Path {
        &self.plan
    }

    /// Where the public may watch a ceremony job's ceremonies.
    pub fn place(&self) -> Option<&str> {
        self.place.as_deref()
    }

    pub fn seed(&self) -> SeedMethod {
        self.seed
    }

    pub fn announce_ahead(&self) -> Option<TimeDelta> {
        self.announce_ahead
    }

    pub fn catch_up(&self) -> CatchUp {
        self.catch_up
    }

    /// The steps that carry out an occurrence, in order. (A skipped
    /// occurrence takes the single step [`Action::Skip`] instead.)
    pub fn steps(&self) -> &'static [Action] {
        match self.seed {
            SeedMethod::Ceremony => &[Action::Announce],
            SeedMethod::Beacon | SeedMethod::Commit => &[Action::Announce, Action::Draw],
        }
    }

    /// How long before the draw time the announcement is due.
    fn lead(&self) -> TimeDelta {
        self.announce_ahead.unwrap_or_default()
    }

    /// The first draw time strictly after `t`, if the cron has one.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Cron times are whole seconds, and croner ignores fractions of a
        // second: searching from the whole second of `t`, exclusively, finds
        // exactly the times after `t`.
        let start = floor_second(t).with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The draw times in `[from, up_to]`, in order.
    fn times_between(&self, from: DateTime<Utc>, up_to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let before_from = from - TimeDelta::nanoseconds(1);
        std::iter::successors(self.next_after(before_from), |&at| self.next_after(at))
            .take_while(|&at| at <= up_to)
            .collect()
    }
}

fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp(), 0)
        .single()
        .expect("whole seconds of a valid instant")
}

/// The checked contents of a schedule file.
#[derive(Debug, Clone)]
pub struct Schedule {
    jobs: Vec<Job>,
}

impl Schedule {
    /// Reads and checks a schedule file, including every job's plan, whose
    /// path is taken relative to the schedule file's folder.
    /// Jobs that name no time zone run in the default office zone
    /// (Asia/Shanghai); see [`Schedule::load_in`].
    pub fn load(path: &Path) -> Result<Schedule, ScheduleError> {
        Schedule::load_in(path, Zone::default())
    }

    /// [`Schedule::load`], with jobs that name no time zone in `office`: the
    /// service passes its configured `time_zone`.
    pub fn load_in(path: &Path, office: Zone) -> Result<Schedule, ScheduleError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScheduleError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut schedule = Schedule::parse_toml_in(&text, &shown, office)?;
        let folder = path.parent().unwrap_or(Path::new(""));
        for job in &mut schedule.jobs {
            job.plan = folder.join(&job.plan);
            // A plan that does not load would fail every draw of this job:
            // say so now, not on the day of the draw.
            Plan::load(&job.plan).map_err(|e| ScheduleError::Invalid {
                path: shown.clone(),
                job: job.name.clone(),
                field: "plan".into(),
                message: e.to_string(),
            })?;
        }
        Ok(schedule)
    }

    /// Parses and checks a schedule's text (plans are not opened); `path`
    /// names it in errors.
    pub fn parse_toml(text: &str, path: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse_toml_in(text, path, Zone::default())
    }

    /// [`Schedule::parse_toml`], with jobs that name no time zone in `office`.
    pub fn parse_toml_in(text: &str, path: &str, office: Zone) -> Result<Schedule, ScheduleError> {
        let syntax = |message: String| ScheduleError::Syntax {
            path: path.into(),
            message,
        };
        let mut top: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let tables = match top.remove("job") {
            Some(toml::Value::Array(tables)) if !tables.is_empty() => tables,
            Some(toml::Value::Array(_)) | None => {
                return Err(syntax("no jobs: add a [[job]] table for each scheduled draw".into()))
            }
            Some(_) => return Err(syntax("`job` must be a list of [[job]] tables".into())),
        };
        if let Some(key) = top.keys().next() {
            return Err(syntax(format!(
                "unknown key `{key}` (a schedule holds only [[job]] tables)"
            )));
        }
        let mut names = HashSet::new();
        let mut jobs = Vec::with_capacity(tables.len());
        for (index, value) in tables.into_iter().enumerate() {
            let job = parse_job(value, index, path, office)?;
            if !names.insert(job.name.clone()) {
                return Err(ScheduleError::Invalid {
                    path: path.into(),
                    job: job.name,
                    field: "name".into(),
                    message: "another job has the same name; names key the ledger and must be unique".into(),
                });
            }
            jobs.push(job);
        }
        Ok(Schedule { jobs })
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Refuses a ceremony job announced less than `lead` ahead of its draw
    /// (`ceremony_lead_hours` in the service's config): the desk would refuse
    /// every one of its announcements, so the schedule is wrong from the
    /// start and is said to be so when it is loaded, not on the day of the
    /// first announcement. `path` names the schedule in the error.
    pub fn check_ceremony_lead(&self, lead: std::time::Duration, path: &str) -> Result<(), ScheduleError> {
        let lead = TimeDelta::from_std(lead).unwrap_or(TimeDelta::MAX);
        let short = self
            .jobs
            .iter()
            .find(|job| job.seed == SeedMethod::Ceremony && job.lead() < lead);
        match short {
            None => Ok(()),
            Some(job) => Err(ScheduleError::Invalid {
                path: path.into(),
                job: job.name.clone(),
                field: "announce_ahead".into(),
                message: format!(
                    "a ceremony must be announced at least {} h ahead (ceremony_lead_hours), not {}: \
                     the public must be told in time to attend",
                    lead.num_hours(),
                    show_lead(job.lead())
                ),
            }),
        }
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.name == name)
    }

    /// Every job's draw times in `(after, up_to]`, in time order (jobs at the
    /// same instant in file order).
    pub fn occurrences(&self, after: DateTime<Utc>, up_to: DateTime<Utc>) -> Vec<Occurrence> {
        let mut all: Vec<Occurrence> = self
            .jobs
            .iter()
            .flat_map(|job| {
                std::iter::successors(job.next_after(after), |&at| job.next_after(at))
                    .take_while(|&at| at <= up_to)
                    .map(|at| Occurrence::new(&job.name, at))
            })
            .collect();
        // Stable: equal instants keep the jobs' file order.
        all.sort_by_key(|occurrence| occurrence.at);
        all
    }
}

/// Reads one `[[job]]` table; `index` counts from 0.
fn parse_job(value: toml::Value, index: usize, path: &str, office: Zone) -> Result<Job, ScheduleError> {
    // Until the name is known good, the job is named by its place in the file.
    let numbered = format!("#{}", index + 1);
    let invalid = |label: &str, field: &str, message: String| ScheduleError::Invalid {
        path: path.into(),
        job: label.to_owned(),
        field: field.to_owned(),
        message,
    };
    let toml::Value::Table(table) = value else {
        return Err(invalid(&numbered, "job", "must be a [[job]] table".into()));
    };
    // The name first, so every later error can name the job.
    let name = match table.get("name") {
        None => return Err(invalid(&numbered, "name", "missing".into())),
        Some(toml::Value::String(name)) => name.clone(),
        Some(other) => {
            return Err(invalid(
                &numbered,
                "name",
                format!("must be a string, not {}", other.type_str()),
            ))
        }
    };
    check_name(&name).map_err(|e| invalid(&numbered, "name", e.to_string()))?;
    let label = name.as_str();

    if let Some(key) = table.keys().find(|key| !JOB_KEYS.contains(&key.as_str())) {
        // A misspelt optional key (`catchup`) would otherwise silently fall
        // back to its default.
        return Err(invalid(
            label,
            key,
            format!("unknown key (known keys: {})", JOB_KEYS.join(", ")),
        ));
    }
    let text = |field: &'static str| -> Result<Option<&str>, ScheduleError> {
        match table.get(field) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(invalid(
                label,
                field,
                format!("must be a string, not {}", other.type_str()),
            )),
        }
    };
    let required = |field: &'static str| text(field)?.ok_or_else(|| invalid(label, field, "missing".into()));

    let timezone = match text("timezone")? {
        None => office.tz(),
        Some(zone) => Zone::parse(zone)
            .map_err(|e| invalid(label, "timezone", e.to_string()))?
            .tz(),
    };
    let cron_text = required("cron")?.trim().to_owned();
    let cron = parse_cron(&cron_text, timezone).map_err(|e| invalid(label, "cron", e.to_string()))?;
    let plan = check_plan_path(required("plan")?).map_err(|e| invalid(label, "plan", e.to_string()))?;
    let seed = match required("seed")? {
        "ceremony" => SeedMethod::Ceremony,
        "beacon" => SeedMethod::Beacon,
        "commit" => SeedMethod::Commit,
        other => {
            return Err(invalid(
                label,
                "seed",
                format!("unknown seed method {other:?}: give \"ceremony\", \"beacon\" or \"commit\""),
            ))
        }
    };
    let announce_ahead = text("announce_ahead")?
        .map(|lead| parse_lead(lead).map_err(|e| invalid(label, "announce_ahead", e.to_string())))
        .transpose()?;
    let catch_up = match text("catch_up")? {
        None => CatchUp::default(),
        Some("latest") => CatchUp::Latest,
        Some("all") => CatchUp::All,
        Some("skip") => CatchUp::Skip,
        Some(other) => {
            return Err(invalid(
                label,
                "catch_up",
                format!("unknown policy {other:?}: give \"latest\", \"all\" or \"skip\""),
            ))
        }
    };
    // The public is told where a ceremony is held; other jobs hold none.
    let place = match (seed, text("place")?) {
        (SeedMethod::Ceremony, place) => {
            Some(ceremony_place(place).map_err(|e| invalid(label, "place", e.to_string()))?)
        }
        (_, None) => None,
        (_, Some(_)) => return Err(invalid(label, "place", "only a ceremony job is held at a place".into())),
    };
    Ok(Job {
        name,
        cron_text,
        cron,
        timezone,
        plan,
        seed,
        announce_ahead,
        catch_up,
        place,
    })
}

/// A job name is part of every ledger key and log line: a short ASCII id.
fn check_name(name: &str) -> Result<(), FieldError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 {
        return Err(FieldError::NameLength(name.chars().count()));
    }
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return Err(FieldError::NameChar { name: name.into(), c });
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(FieldError::NameStart(name.into()));
    }
    Ok(())
}

/// 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds
/// first), POSIX weekdays (0 or 7 = Sunday), read in `timezone`.
fn parse_cron(text: &str, timezone: Tz) -> Result<Cron, FieldError> {
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let cron = parser.parse(text).map_err(|reason| FieldError::Cron {
        text: text.into(),
        reason,
    })?;
    // "0 9 30 2 *" parses but never fires: a job that would silently never
    // run is refused here. Without a year field a pattern's matches repeat
    // with the calendar (every 400 years at most), and croner searches up to
    // the year 5000, so one search from a fixed date settles it.
    let reference = Utc
        .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&timezone);
    cron.find_next_occurrence(&reference, false)
        .map_err(|_| FieldError::CronNever(text.into()))?;
    Ok(cron)
}

/// A relative path to a `.toml` file that stays inside the config folder.
fn check_plan_path(text: &str) -> Result<PathBuf, FieldError> {
    let path = PathBuf::from(text.trim());
    if path.extension().is_none_or(|ext| ext != "toml") {
        return Err(FieldError::PlanExtension(text.into()));
    }
    if !path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(FieldError::PlanOutside(text.into()));
    }
    Ok(path)
}

/// A lead as an error message shows it, in hours and minutes.
fn show_lead(lead: TimeDelta) -> String {
    match (lead.num_hours(), lead.num_minutes() % 60) {
        (0, 0) => "none (announce_ahead is not set)".into(),
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

/// A lead such as "7d", "24h", "1d12h" or "90m": whole numbers with units
/// d, h, m, s, largest first, each at most once.
fn parse_lead(text: &str) -> Result<TimeDelta, FieldError> {
    let bad = || FieldError::Lead(text.into());
    const UNITS: [(char, i64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut rest = text.trim();
    let mut seconds: i64 = 0;
    let mut next_unit = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: i64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let position = UNITS[next_unit..]
            .iter()
            .position(|&(u, _)| u == unit)
            .ok_or_else(bad)?;
        let scale = UNITS[next_unit + position].1;
        next_unit += position + 1;
        seconds = number
            .checked_mul(scale)
            .and_then(|s| s.checked_add(seconds))
            .ok_or_else(bad)?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    if seconds > MAX_ANNOUNCE_AHEAD_DAYS * 86_400 {
        return Err(FieldError::LeadTooLong(text.into()));
    }
    Ok(TimeDelta::seconds(seconds))
}

/// A boxed, sendable future: what [`Executor`] methods return, so the trait
/// can be used as `dyn Executor`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an executor could not carry out a step or read the ledger. The runner
/// only logs it and retries, so any executor's own error type will do.
pub type StepError = Box<dyn std::error::Error + Send + Sync>;

/// Carries out steps and keeps the ledger; the runner knows neither the
/// database nor the draw.
///
/// The ledger holds one row per (occurrence key, announce) and one per
/// (occurrence key, settle), UNIQUE: a draw and a skip both settle.
pub trait Executor: Send + Sync + 'static {
    /// Claims `(occurrence.key, action)` in the ledger and, if this call made
    /// the claim, carries the step out:
    ///
    /// - [`Action::Announce`]: publish the announcement → [`Outcome::Ran`];
    /// - [`Action::Draw`]: draw `job`'s plan → [`Outcome::Ran`];
    /// - [`Action::Skip`]: record the occurrence as skipped → [`Outcome::Skipped`];
    ///
    /// and returns [`Outcome::AlreadyDone`] if the announcement, or the
    /// occurrence's settlement (a draw or a skip), was already recorded.
    ///
    /// The claim and the step must stand or fall together: a claim left
    /// behind by a failed step would make the runner's retry find
    /// `AlreadyDone`, and the draw would never happen. An `Err` is logged and
    /// the same call retried later, possibly by another instance.
    fn run<'a>(
        &'a self,
        job: &'a Job,
        occurrence: &'a Occurrence,
        action: Action,
    ) -> BoxFuture<'a, Result<Outcome, StepError>>;

    /// The latest occurrence time with any step recorded for `job`
    /// (announced, drawn or skipped), or `None` if there is none.
    fn last_recorded<'a>(&'a self, job: &'a str) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, StepError>>;
}

/// UTC time driven by tokio's clock: `base_utc` plus the tokio time elapsed
/// since `base_instant`. Under `#[tokio::test(start_paused = true)]`,
/// `tokio::time::advance` moves it.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    pub base_utc: DateTime<Utc>,
    pub base_instant: Instant,
}

impl TokioClock {
    /// A clock that reads `base_utc` now.
    pub fn starting_at(base_utc: DateTime<Utc>) -> TokioClock {
        TokioClock {
            base_utc,
            base_instant: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.base_instant);
        self.base_utc + TimeDelta::from_std(elapsed).expect("elapsed time fits a TimeDelta")
    }
}

/// Runs every job of `schedule` until `shutdown` completes (or until no job
/// has an occurrence left).
///
/// Each job runs in its own task, so a job whose steps keep failing holds up
/// only itself. On shutdown, sleeps and retry pauses end at once; a step the
/// executor is carrying out is let finish, since cutting a draw in half would
/// leave the ledger a claim without a result.
///
/// Must be called within a tokio runtime. A panic in a job's task (in the
/// executor) is passed on: a scheduler that ran on with a job silently dead
/// would skip that job's draws.
pub async fn run_scheduler(
    schedule: Schedule,
    executor: Arc<dyn Executor>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for job in schedule.jobs {
        let runner = JobRunner {
            job,
            executor: executor.clone(),
            clock: clock.clone(),
            stop: stop_rx.clone(),
        };
        tasks.spawn(runner.run());
    }
    tokio::select! {
        () = shutdown => {}
        () = join_all(&mut tasks) => return,
    }
    tracing::info!("scheduler shutting down");
    // Errors only if every receiver is gone, i.e. every job has ended.
    let _ = stop_tx.send(true);
    join_all(&mut tasks).await;
}

async fn join_all(tasks: &mut JoinSet<()>) {
    while let Some(result) = tasks.join_next().await {
        if let Err(error) = result {
            resume_panic(error);
        }
    }
}

fn resume_panic(error: JoinError) {
    match error.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        // Tasks are only cancelled when the JoinSet is dropped, which ends
        // this function too.
        Err(error) => tracing::error!(%error, "a job's task was cancelled"),
    }
}

/// One job's loop: catch up once, then take the steps as they come due.
struct JobRunner {
    job: Job,
    executor: Arc<dyn Executor>,
    clock: Arc<dyn Clock>,
    stop: watch::Receiver<bool>,
}

/// Returned through `?` when shutdown was asked for.
struct Stopped;

impl JobRunner {
    async fn run(mut self) {
        // Ending on `Stopped` is the normal way out.
        let _ = self.run_until_stopped().await;
        tracing::debug!(job = %self.job.name, "job loop ended");
    }

    async fn run_until_stopped(&mut self) -> Result<(), Stopped> {
        let last = self.last_recorded().await?;
        let start = self.clock.now();
        self.catch_up(last, start).await?;
        self.follow(start).await
    }

    /// Handles the occurrences missed before `now` by the job's policy.
    async fn catch_up(&mut self, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), Stopped> {
        // Nothing recorded: a new job, nothing was missed.
        let Some(last) = last else { return Ok(()) };
        // Steps run in time order, so every step due before the latest
        // recorded one is recorded too. That step is due at `last` (a draw
        // or skip) or at `last - lead` (an announcement): from there on
        // something may be missing. Occurrences already settled in this span
        // are offered again and come back `AlreadyDone`.
        let missed = self.job.times_between(last - self.job.lead(), now);
        let latest = missed.last().copied();
        let new = missed.iter().filter(|&&at| at > last).count();
        if new > 0 {
            tracing::info!(
                job = %self.job.name,
                policy = self.job.catch_up.as_str(),
                missed = new,
                "catching up on occurrences missed while down",
            );
        }
        for at in missed {
            let run = match self.job.catch_up {
                CatchUp::All => true,
                CatchUp::Latest => Some(at) == latest,
                CatchUp::Skip => false,
            };
            let steps: &[Action] = if run { self.job.steps() } else { &[Action::Skip] };
            for &action in steps {
                self.perform(at, action).await?;
            }
        }
        Ok(())
    }

    /// Takes the steps of the occurrences after `start` as they come due,
    /// forever. Announcements may run more than one occurrence ahead of draws
    /// (a weekly job announced a month ahead), so each is followed on its own
    /// cursor.
    async fn follow(&mut self, start: DateTime<Utc>) -> Result<(), Stopped> {
        let draws = self.job.steps().contains(&Action::Draw);
        let mut announce = self.job.next_after(start);
        let mut draw = if draws { announce } else { None };
        loop {
            // An occurrence's announcement is due no later than its draw and
            // wins a tie, so it always comes first.
            let (at, action) = match (announce, draw) {
                (Some(a), Some(d)) if a - self.job.lead() <= d => (a, Action::Announce),
                (_, Some(d)) => (d, Action::Draw),
                (Some(a), None) => (a, Action::Announce),
                (None, None) => {
                    tracing::warn!(job = %self.job.name, "the cron has no further occurrence");
                    return Ok(());
                }
            };
            let due = if action == Action::Announce {
                at - self.job.lead()
            } else {
                at
            };
            self.wait_until(due).await?;
            self.perform(at, action).await?;
            let next = self.job.next_after(at);
            if action == Action::Announce {
                announce = next;
            } else {
                draw = next;
            }
        }
    }

    /// Runs one step until the executor records it, retrying errors.
    async fn perform(&mut self, at: DateTime<Utc>, action: Action) -> Result<Outcome, Stopped> {
        let occurrence = Occurrence::new(&self.job.name, at);
        let mut backoff = Backoff::default();
        loop {
            if *self.stop.borrow() {
                return Err(Stopped);
            }
            match self.executor.run(&self.job, &occurrence, action).await {
                Ok(outcome) => {
                    tracing::info!(job = %self.job.name, key = %occurrence.key, %action, ?outcome, "step recorded");
                    return Ok(outcome);
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::error!(
                        job = %self.job.name,
                        key = %occurrence.key,
                        %action,
                        attempt = backoff.attempts,
                        retry_in = ?delay,
                        error = format!("{error:#}"),
                        "step failed; retrying",
                    );
                    self.pause(delay).await?;
                }
            }
        }
    }

    async fn last_recorded(&mut self) -> Result<Option<DateTime<Utc>>, Stopped> {
        let mut backoff = Backoff::default();
        loop {
            match self.executor.last_recorded(&self.job.name).await {
                Ok(last) => return Ok(last),
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::error!(
                        job = %self.job.name,
                        attempt = backoff.attempts,
                        retry_in = ?delay,
                        error = format!("{error:#}"),
                        "cannot read the ledger; retrying",
                    );
                    self.pause(delay).await?;
                }
            }
        }
    }

    /// Sleeps until the clock reads `due`.
    async fn wait_until(&mut self, due: DateTime<Utc>) -> Result<(), Stopped> {
        loop {
            let now = self.clock.now();
            if now >= due {
                return Ok(());
            }
            let nap = (due - now).to_std().unwrap_or_default().min(MAX_NAP);
            tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return Err(Stopped),
                () = tokio::time::sleep_until(Instant::now() + nap) => {}
            }
        }
    }

    async fn pause(&mut self, delay: Duration) -> Result<(), Stopped> {
        tokio::select! {
            biased;
            () = stopped(&mut self.stop) => Err(Stopped),
            () = tokio::time::sleep(delay) => Ok(()),
        }
    }
}

/// Completes once shutdown is asked for (or the scheduler is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|&stop| stop).await;
}

/// Retry delays: 1 s, 2 s, 4 s, … up to [`MAX_RETRY`].
#[derive(Default)]
struct Backoff {
    attempts: u32,
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        self.attempts += 1;
        let doublings = (self.attempts - 1).min(16);
        (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn leads() {
        assert_eq!(parse_lead("7d").unwrap(), TimeDelta::days(7));
        assert_eq!(parse_lead("24h").unwrap(), TimeDelta::hours(24));
        assert_eq!(parse_lead("1d12h").unwrap(), TimeDelta::hours(36));
        assert_eq!(parse_lead("90m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse_lead(" 2h30m15s ").unwrap(), TimeDelta::seconds(9015));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "12h1d",
            "1h1h",
            "-1d",
            "1.5d",
            "7 d",
            "367d",
            "99999999999999999999d",
        ] {
            assert!(parse_lead(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names() {
        for good in ["pz-scjg-quarterly", "a", "job_2.v1"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
        for bad in ["", "-x", "a b", "a@b", "抽查", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plan_paths() {
        assert!(check_plan_path("plans/quarterly-scjg.toml").is_ok());
        assert!(check_plan_path("./plans/a.toml").is_ok());
        for bad in [
            "/etc/a.toml",
            "../a.toml",
            "plans/../../a.toml",
            "plans/a.json",
            "plans/",
        ] {
            assert!(check_plan_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backoff_is_bounded() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    }

    #[test]
    fn next_after_ignores_fractions_of_a_second() {
        let schedule = Schedule::parse_toml(
            "[[job]]\nname = \"j\"\ncron = \"0 9 * * *\"\nplan = \"plans/p.toml\"\nseed = \"commit\"\n",
            "test",
        )
        .unwrap();
        let job = &schedule.jobs()[0];
        let nine = utc("2026-03-02T01:00:00Z");
        assert_eq!(job.next_after(utc("2026-03-02T00:59:59.999Z")), Some(nine));
        assert_eq!(job.next_after(nine), Some(nine + TimeDelta::days(1)));
        assert_eq!(
            job.next_after(utc("2026-03-02T01:00:00.5Z")),
            Some(nine + TimeDelta::days(1))
        );
        assert_eq!(job.times_between(nine, nine), vec![nine]);
        assert_eq!(
            job.times_between(utc("2026-03-02T01:00:00.5Z"), nine + TimeDelta::days(1)),
            vec![nine + TimeDelta::days(1)]
        );
    }
}
