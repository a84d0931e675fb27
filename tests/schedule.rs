//! Scheduled draws: occurrence times, the exactly-once runner on tokio's
//! paused clock (restarts, catch-up policies, two instances, announcements,
//! retries, shutdown), and the checks on `config/schedule.toml`. Time only
//! moves by `tokio::time::advance`; nothing sleeps for real.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use shuangsui::schedule::{
    run_scheduler, Action, BoxFuture, CatchUp, Clock, Executor, Job, Occurrence, Outcome, Schedule, SeedMethod,
    StepError, TokioClock,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A one-job schedule; `extra` holds further `key = value` lines.
fn one_job(name: &str, cron: &str, seed: &str, extra: &str) -> Schedule {
    Schedule::parse_toml(&job_text(name, cron, seed, extra), "test.toml").unwrap()
}

/// A schedule of one job as TOML; a ceremony job is held at a place.
fn job_text(name: &str, cron: &str, seed: &str, extra: &str) -> String {
    let place = if seed == "ceremony" && !extra.contains("place") {
        "place = \"摇号室\"\n"
    } else {
        ""
    };
    format!(
        "[[job]]\nname = \"{name}\"\ncron = \"{cron}\"\nplan = \"plans/p.toml\"\nseed = \"{seed}\"\n{place}{extra}\n"
    )
}

/// Daily at 09:00 Asia/Shanghai (01:00 UTC), server commit-reveal.
fn daily(catch_up: &str) -> Schedule {
    one_job("daily", "0 9 * * *", "commit", &format!("catch_up = \"{catch_up}\""))
}

// ---------------------------------------------------------------------------
// The fake executor: the ledger as a map from (key, slot) to outcome.

/// Announcements and settlements (a draw or a skip) are claimed separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Announce,
    Settle,
}

#[derive(Debug, Clone, PartialEq)]
struct Record {
    key: String,
    at: DateTime<Utc>,
    action: Action,
    outcome: Outcome,
    /// The clock's time when the step was recorded.
    when: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    key: String,
    action: Action,
    /// `Err` for a failure the test asked for.
    result: Result<Outcome, ()>,
    when: DateTime<Utc>,
}

#[derive(Default)]
struct State {
    claimed: HashMap<(String, Slot), Outcome>,
    /// Every claim made, in order.
    records: Vec<Record>,
    /// Every call, including those that found the step done or failed.
    calls: Vec<Call>,
    /// How many of the next calls to `run` fail.
    failures_left: usize,
}

struct FakeLedger {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl FakeLedger {
    fn new(clock: Arc<dyn Clock>) -> Arc<FakeLedger> {
        Arc::new(FakeLedger {
            clock,
            state: Mutex::default(),
        })
    }

    fn claim(&self, occurrence: &Occurrence, action: Action) -> Result<Outcome, StepError> {
        let mut state = self.state.lock().unwrap();
        let mut call = Call {
            key: occurrence.key.clone(),
            action,
            result: Err(()),
            when: self.clock.now(),
        };
        if state.failures_left > 0 {
            state.failures_left -= 1;
            state.calls.push(call);
            return Err("the database is unavailable".into());
        }
        let slot = if action == Action::Announce {
            Slot::Announce
        } else {
            Slot::Settle
        };
        let fresh = if action == Action::Skip {
            Outcome::Skipped
        } else {
            Outcome::Ran
        };
        // The UNIQUE constraint: the first claim of (key, slot) wins.
        let outcome = match state.claimed.entry((occurrence.key.clone(), slot)) {
            Entry::Occupied(_) => Outcome::AlreadyDone,
            Entry::Vacant(entry) => {
                entry.insert(fresh);
                state.records.push(Record {
                    key: occurrence.key.clone(),
                    at: occurrence.at,
                    action,
                    outcome: fresh,
                    when: call.when,
                });
                fresh
            }
        };
        call.result = Ok(outcome);
        state.calls.push(call);
        Ok(outcome)
    }

    fn records(&self) -> Vec<Record> {
        self.state.lock().unwrap().records.clone()
    }

    /// The records as `(key, action)`, in the order they were made.
    fn steps(&self) -> Vec<(String, Action)> {
        self.records().into_iter().map(|r| (r.key, r.action)).collect()
    }

    fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    fn fail_next(&self, count: usize) {
        self.state.lock().unwrap().failures_left = count;
    }
}

impl Executor for FakeLedger {
    fn run<'a>(
        &'a self,
        _job: &'a Job,
        occurrence: &'a Occurrence,
        action: Action,
    ) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move { self.claim(occurrence, action) })
    }

    fn last_recorded<'a>(&'a self, job: &'a str) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, StepError>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap();
            let prefix = format!("{job}@");
            Ok(state
                .records
                .iter()
                .filter(|r| r.key.starts_with(&prefix))
                .map(|r| r.at)
                .max())
        })
    }
}

fn step(job: &str, at: &str, action: Action) -> (String, Action) {
    (format!("{job}@{at}"), action)
}

// ---------------------------------------------------------------------------
// Driving runners on the paused clock.

/// Lets every task that can run do so. Yielding never moves the paused clock.
async fn settle() {
    for _ in 0..1000 {
        tokio::task::yield_now().await;
    }
}

/// Moves the paused clock to `t` and lets the runners react.
async fn advance_to(clock: &TokioClock, t: DateTime<Utc>) {
    let by = (t - clock.now()).to_std().expect("time only moves forward");
    tokio::time::advance(by).await;
    settle().await;
}

struct Runner {
    handle: JoinHandle<()>,
    shutdown: oneshot::Sender<()>,
}

impl Runner {
    /// Spawns a runner and lets it start: it reads the clock on its first
    /// poll, which must happen before the test moves time.
    async fn start(schedule: Schedule, ledger: &Arc<FakeLedger>, clock: &TokioClock) -> Runner {
        let (shutdown, signal) = oneshot::channel::<()>();
        let handle = tokio::spawn(run_scheduler(schedule, ledger.clone(), Arc::new(*clock), async move {
            let _ = signal.await;
        }));
        settle().await;
        Runner { handle, shutdown }
    }

    /// Kills the runner as a crash would, without a shutdown.
    async fn crash(self) {
        self.handle.abort();
        let _ = self.handle.await;
        settle().await;
    }

    /// Asks for shutdown and checks the runner ends without time passing.
    async fn shut_down(self) {
        let before = tokio::time::Instant::now();
        self.shutdown.send(()).unwrap();
        // On the paused clock an idle runtime jumps to the next timer: a
        // runner that kept sleeping would let the timeout fire.
        tokio::time::timeout(Duration::from_secs(1), self.handle)
            .await
            .expect("the runner stops on shutdown")
            .unwrap();
        assert_eq!(tokio::time::Instant::now(), before, "shutdown waited for a timer");
    }
}

// ---------------------------------------------------------------------------
// Occurrence times.

#[test]
fn quarterly_cron_gives_four_instants_in_shanghai_2026() {
    let schedule = one_job(
        "pz-scjg-quarterly",
        "0 9 1 1,4,7,10 *",
        "commit",
        "timezone = \"Asia/Shanghai\"",
    );
    let occurrences = schedule.occurrences(utc("2026-01-01T00:00:00+08:00"), utc("2026-12-31T23:59:59+08:00"));
    let keys: Vec<&str> = occurrences.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "pz-scjg-quarterly@2026-01-01T01:00:00Z",
            "pz-scjg-quarterly@2026-04-01T01:00:00Z",
            "pz-scjg-quarterly@2026-07-01T01:00:00Z",
            "pz-scjg-quarterly@2026-10-01T01:00:00Z",
        ]
    );
    assert_eq!(occurrences[0].at, utc("2026-01-01T09:00:00+08:00"));
    assert!(occurrences.iter().all(|o| o.job == "pz-scjg-quarterly"));
}

#[test]
fn time_zone_defaults_to_shanghai_and_others_are_honoured() {
    let shanghai = one_job("j", "0 9 1 1 *", "commit", "");
    assert_eq!(shanghai.jobs()[0].timezone(), chrono_tz::Asia::Shanghai);
    let london = one_job("j", "0 9 1 7 *", "commit", "timezone = \"Europe/London\"");
    let at = london.occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
    assert_eq!(at[0].at, utc("2026-07-01T08:00:00Z"), "09:00 BST");
}

#[test]
fn jobs_that_name_no_time_zone_run_in_the_offices() {
    let text = "[[job]]\nname = \"j\"\ncron = \"0 9 1 7 *\"\nplan = \"plans/p.toml\"\nseed = \"commit\"\n";
    let london = shuangsui::clock::Zone::parse("Europe/London").unwrap();
    let schedule = Schedule::parse_toml_in(text, "test.toml", london).unwrap();
    assert_eq!(schedule.jobs()[0].timezone(), chrono_tz::Europe::London);
    let at = schedule.occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
    assert_eq!(at[0].at, utc("2026-07-01T08:00:00Z"), "09:00 BST");
    // A job's own zone still wins.
    let own = text.replace("seed", "timezone = \"Asia/Shanghai\"\nseed");
    let schedule = Schedule::parse_toml_in(&own, "test.toml", london).unwrap();
    assert_eq!(schedule.jobs()[0].timezone(), chrono_tz::Asia::Shanghai);
}

#[test]
fn occurrences_are_after_exclusive_up_to_inclusive_and_merged_in_time_order() {
    let text = r#"
        [[job]]
        name = "b-daily"
        cron = "0 9 * * *"
        plan = "plans/p.toml"
        seed = "commit"

        [[job]]
        name = "a-twice"
        cron = "0 9,15 * * *"
        plan = "plans/p.toml"
        seed = "beacon"
    "#;
    let schedule = Schedule::parse_toml(text, "test.toml").unwrap();
    let nine = utc("2026-03-02T01:00:00Z");
    let keys: Vec<String> = schedule
        .occurrences(nine, nine + TimeDelta::days(1))
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        keys,
        [
            "a-twice@2026-03-02T07:00:00Z",
            // Same instant: file order.
            "b-daily@2026-03-03T01:00:00Z",
            "a-twice@2026-03-03T01:00:00Z",
        ]
    );
    assert!(schedule.occurrences(nine, nine).is_empty());
}

#[test]
fn shipped_schedule_loads_with_its_plans() {
    let schedule = Schedule::load(Path::new("config/schedule.toml")).unwrap();
    let quarterly = schedule.job("pz-scjg-quarterly").unwrap();
    assert_eq!(quarterly.seed(), SeedMethod::Commit);
    assert_eq!(quarterly.announce_ahead(), Some(TimeDelta::days(7)));
    assert_eq!(quarterly.catch_up(), CatchUp::Latest);
    assert_eq!(quarterly.plan(), Path::new("config/plans/quarterly-scjg.toml"));
    let ceremony = schedule.job("pz-food-safety-key").unwrap();
    assert_eq!(ceremony.steps(), [Action::Announce], "a ceremony is only announced");
    let at: Vec<DateTime<Utc>> = schedule
        .occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
        .into_iter()
        .filter(|o| o.job == "pz-food-safety-key")
        .map(|o| o.at)
        .collect();
    // Third Mondays, 09:30 Beijing time.
    let expected = ["2026-03-16", "2026-06-15", "2026-09-21", "2026-12-21"]
        .map(|day| utc(&format!("{day}T09:30:00+08:00")))
        .to_vec();
    assert_eq!(at, expected);
}

// ---------------------------------------------------------------------------
// The runner.

#[tokio::test(start_paused = true)]
async fn each_occurrence_runs_once_as_time_passes() {
    let t0 = utc("2026-03-01T00:00:00Z");
    let clock = TokioClock::starting_at(t0);
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(daily("latest"), &ledger, &clock).await;

    advance_to(&clock, utc("2026-03-01T00:59:59Z")).await;
    assert!(ledger.records().is_empty(), "nothing before 09:00");
    advance_to(&clock, utc("2026-03-01T01:00:00Z")).await;
    assert_eq!(
        ledger.steps(),
        [
            step("daily", "2026-03-01T01:00:00Z", Action::Announce),
            step("daily", "2026-03-01T01:00:00Z", Action::Draw),
        ]
    );
    // One jump over three occurrences, then small steps over two more.
    advance_to(&clock, utc("2026-03-04T12:00:00Z")).await;
    for _ in 0..48 {
        let next = clock.now() + TimeDelta::hours(1);
        advance_to(&clock, next).await;
    }
    assert_eq!(clock.now(), utc("2026-03-06T12:00:00Z"));

    let expected: Vec<(String, Action)> = daily("latest")
        .occurrences(t0, clock.now())
        .into_iter()
        .flat_map(|o| [(o.key.clone(), Action::Announce), (o.key, Action::Draw)])
        .collect();
    assert_eq!(expected.len(), 12);
    assert_eq!(ledger.steps(), expected, "every step once, in time order");
    assert!(ledger.records().iter().all(|r| r.outcome == Outcome::Ran));
    assert_eq!(ledger.calls().len(), 12, "one runner offers each step once");
    // Draws not jumped over ran on the dot; those jumped over, at once.
    for record in ledger.records() {
        let expected = if record.at < utc("2026-03-04T12:00:00Z") && record.at > utc("2026-03-01T01:00:00Z") {
            utc("2026-03-04T12:00:00Z")
        } else {
            record.at
        };
        assert_eq!(record.when, expected, "{record:?}");
    }
    runner.shut_down().await;
}

/// Runs `daily(catch_up)`: one occurrence on 1 March, a crash, downtime over
/// the occurrences of 2 and 3 March, and a restart.
async fn restart_after_two_missed(catch_up: &str) -> (Arc<FakeLedger>, TokioClock, Runner) {
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let first = Runner::start(daily(catch_up), &ledger, &clock).await;
    advance_to(&clock, utc("2026-03-01T01:00:05Z")).await;
    assert_eq!(ledger.records().len(), 2);
    first.crash().await;

    advance_to(&clock, utc("2026-03-03T02:00:00Z")).await;
    assert_eq!(ledger.records().len(), 2, "no runner, no steps");
    let second = Runner::start(daily(catch_up), &ledger, &clock).await;
    (ledger, clock, second)
}

fn assert_nothing_twice(ledger: &FakeLedger) {
    let mut seen = HashSet::new();
    for record in ledger.records() {
        let slot = record.action == Action::Announce;
        assert!(seen.insert((record.key.clone(), slot)), "{record:?} recorded twice");
    }
}

#[tokio::test(start_paused = true)]
async fn restart_with_catch_up_latest_runs_only_the_latest_missed() {
    let (ledger, clock, runner) = restart_after_two_missed("latest").await;
    assert_eq!(
        ledger.steps()[2..],
        [
            step("daily", "2026-03-02T01:00:00Z", Action::Skip),
            step("daily", "2026-03-03T01:00:00Z", Action::Announce),
            step("daily", "2026-03-03T01:00:00Z", Action::Draw),
        ]
    );
    assert_eq!(ledger.records()[2].outcome, Outcome::Skipped);
    // The occurrence drawn before the crash was offered again, and found done.
    assert!(ledger.calls().iter().any(|c| c.key == "daily@2026-03-01T01:00:00Z"
        && c.action == Action::Skip
        && c.result == Ok(Outcome::AlreadyDone)));

    advance_to(&clock, utc("2026-03-04T01:00:00Z")).await;
    assert_eq!(
        ledger.steps()[5..],
        [
            step("daily", "2026-03-04T01:00:00Z", Action::Announce),
            step("daily", "2026-03-04T01:00:00Z", Action::Draw),
        ]
    );
    assert_nothing_twice(&ledger);
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn restart_with_catch_up_all_runs_every_missed_in_order() {
    let (ledger, _clock, runner) = restart_after_two_missed("all").await;
    assert_eq!(
        ledger.steps()[2..],
        [
            step("daily", "2026-03-02T01:00:00Z", Action::Announce),
            step("daily", "2026-03-02T01:00:00Z", Action::Draw),
            step("daily", "2026-03-03T01:00:00Z", Action::Announce),
            step("daily", "2026-03-03T01:00:00Z", Action::Draw),
        ]
    );
    assert!(ledger.records().iter().all(|r| r.outcome == Outcome::Ran));
    assert_nothing_twice(&ledger);
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn restart_with_catch_up_skip_records_the_missed_as_skipped() {
    let (ledger, clock, runner) = restart_after_two_missed("skip").await;
    let after_restart = &ledger.records()[2..];
    assert_eq!(
        after_restart
            .iter()
            .map(|r| (r.key.as_str(), r.outcome))
            .collect::<Vec<_>>(),
        [
            ("daily@2026-03-02T01:00:00Z", Outcome::Skipped),
            ("daily@2026-03-03T01:00:00Z", Outcome::Skipped),
        ]
    );
    // The next occurrence runs as usual.
    advance_to(&clock, utc("2026-03-04T01:00:00Z")).await;
    assert_eq!(
        ledger.steps()[4..],
        [
            step("daily", "2026-03-04T01:00:00Z", Action::Announce),
            step("daily", "2026-03-04T01:00:00Z", Action::Draw),
        ]
    );
    assert_nothing_twice(&ledger);
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn restart_settles_draws_older_than_the_latest_announcement() {
    // Announcements three days ahead: when the runner crashes, the latest
    // record is an announcement three occurrences past the latest draw. The
    // draws in between must still be settled after the restart.
    let schedule = || {
        one_job(
            "daily",
            "0 9 * * *",
            "commit",
            "announce_ahead = \"3d\"\ncatch_up = \"latest\"",
        )
    };
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let first = Runner::start(schedule(), &ledger, &clock).await;
    advance_to(&clock, utc("2026-03-01T02:00:00Z")).await;
    first.crash().await;
    let drawn = |ledger: &FakeLedger| -> Vec<(String, Outcome)> {
        let records = ledger.records();
        records
            .into_iter()
            .filter(|r| r.action != Action::Announce)
            .map(|r| (r.key, r.outcome))
            .collect()
    };
    assert_eq!(
        drawn(&ledger),
        [("daily@2026-03-01T01:00:00Z".to_string(), Outcome::Ran)]
    );
    assert!(ledger
        .steps()
        .contains(&step("daily", "2026-03-04T01:00:00Z", Action::Announce)));

    advance_to(&clock, utc("2026-03-04T02:00:00Z")).await;
    let second = Runner::start(schedule(), &ledger, &clock).await;
    assert_eq!(
        drawn(&ledger),
        [
            ("daily@2026-03-01T01:00:00Z".to_string(), Outcome::Ran),
            ("daily@2026-03-02T01:00:00Z".to_string(), Outcome::Skipped),
            ("daily@2026-03-03T01:00:00Z".to_string(), Outcome::Skipped),
            ("daily@2026-03-04T01:00:00Z".to_string(), Outcome::Ran),
        ]
    );
    // Announcements missed while down go out at once; 8 March's is not due yet.
    let announced: Vec<String> = ledger
        .records()
        .into_iter()
        .filter(|r| r.action == Action::Announce)
        .map(|r| r.key)
        .collect();
    let expected: Vec<String> = (1..=7).map(|day| format!("daily@2026-03-0{day}T01:00:00Z")).collect();
    assert_eq!(announced, expected);
    assert_nothing_twice(&ledger);
    second.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn restart_before_the_next_occurrence_changes_nothing() {
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let first = Runner::start(daily("all"), &ledger, &clock).await;
    advance_to(&clock, utc("2026-03-01T03:00:00Z")).await;
    first.crash().await;
    let second = Runner::start(daily("all"), &ledger, &clock).await;
    advance_to(&clock, utc("2026-03-02T03:00:00Z")).await;
    assert_eq!(ledger.records().len(), 4);
    assert_nothing_twice(&ledger);
    second.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn two_runners_sharing_a_ledger_run_each_step_once() {
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let a = Runner::start(daily("all"), &ledger, &clock).await;
    let b = Runner::start(daily("all"), &ledger, &clock).await;
    advance_to(&clock, utc("2026-03-02T12:00:00Z")).await;
    for _ in 0..12 {
        let next = clock.now() + TimeDelta::hours(4);
        advance_to(&clock, next).await;
    }
    let records = ledger.records();
    assert_eq!(records.len(), 8, "four occurrences, announced and drawn");
    assert_nothing_twice(&ledger);
    let calls = ledger.calls();
    let already = calls.iter().filter(|c| c.result == Ok(Outcome::AlreadyDone)).count();
    assert_eq!(
        (calls.len(), already),
        (16, 8),
        "each step offered by both, claimed by one"
    );
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn announce_ahead_announces_before_the_draw() {
    let schedule = one_job("quarterly", "0 9 1 1,4,7,10 *", "commit", "announce_ahead = \"7d\"");
    let clock = TokioClock::starting_at(utc("2025-12-20T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(schedule, &ledger, &clock).await;

    advance_to(&clock, utc("2025-12-25T00:59:59Z")).await;
    assert!(ledger.records().is_empty());
    advance_to(&clock, utc("2025-12-25T01:00:00Z")).await;
    let announced = ledger.records();
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].key, "quarterly@2026-01-01T01:00:00Z");
    assert_eq!(announced[0].action, Action::Announce);
    assert_eq!(announced[0].when, utc("2025-12-25T01:00:00Z"), "seven days ahead");

    advance_to(&clock, utc("2026-01-01T00:59:59Z")).await;
    assert_eq!(ledger.records().len(), 1, "no draw before its time");
    advance_to(&clock, utc("2026-01-01T01:00:00Z")).await;
    let drawn = &ledger.records()[1];
    assert_eq!(
        (drawn.key.as_str(), drawn.action),
        ("quarterly@2026-01-01T01:00:00Z", Action::Draw)
    );
    assert_eq!(drawn.when, drawn.at);
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn announcements_run_ahead_of_several_draws() {
    // Daily draws announced three days ahead: announcements lead draws by
    // three occurrences, and each draw still follows its announcement.
    let schedule = one_job("daily", "0 9 * * *", "beacon", "announce_ahead = \"3d\"");
    let start = utc("2026-03-01T00:00:00Z");
    let clock = TokioClock::starting_at(start);
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(schedule, &ledger, &clock).await;
    for _ in 0..5 * 24 {
        let next = clock.now() + TimeDelta::hours(1);
        advance_to(&clock, next).await;
    }
    let records = ledger.records();
    let mut announced = HashSet::new();
    for record in &records {
        match record.action {
            Action::Announce => {
                // The first three were due before the job started: at once.
                assert_eq!(record.when, (record.at - TimeDelta::days(3)).max(start), "{record:?}");
                announced.insert(record.key.clone());
            }
            Action::Draw => {
                assert!(
                    announced.contains(&record.key),
                    "{} drawn before it was announced",
                    record.key
                );
                assert_eq!(record.when, record.at);
            }
            Action::Skip => panic!("nothing was missed"),
        }
    }
    // Now 6 March 00:00 UTC: draws of 1 to 5 March done, 1 to 8 March announced.
    assert_eq!(records.iter().filter(|r| r.action == Action::Draw).count(), 5);
    assert_eq!(announced.len(), 8);
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_late_announcement_goes_out_at_once_and_the_draw_stays_on_time() {
    let schedule = one_job("weekly", "0 9 * * MON", "commit", "announce_ahead = \"7d\"");
    // Friday 6 March 2026; the draw of Monday 9 March should have been
    // announced on Monday 2 March, before this job existed.
    let start = utc("2026-03-06T00:00:00Z");
    let clock = TokioClock::starting_at(start);
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(schedule, &ledger, &clock).await;
    let records = ledger.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].key.as_str(), records[0].action, records[0].when),
        ("weekly@2026-03-09T01:00:00Z", Action::Announce, start)
    );
    advance_to(&clock, utc("2026-03-09T01:00:00Z")).await;
    let records = ledger.records();
    assert_eq!(
        records[1..]
            .iter()
            .map(|r| (r.key.as_str(), r.action, r.when))
            .collect::<Vec<_>>(),
        [
            // The next Monday's announcement, due at the same instant.
            (
                "weekly@2026-03-16T01:00:00Z",
                Action::Announce,
                utc("2026-03-09T01:00:00Z")
            ),
            ("weekly@2026-03-09T01:00:00Z", Action::Draw, utc("2026-03-09T01:00:00Z")),
        ]
    );
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_ceremony_job_only_announces() {
    let schedule = one_job("ceremony", "30 9 * * MON#3", "ceremony", "announce_ahead = \"10d\"");
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(schedule, &ledger, &clock).await;
    advance_to(&clock, utc("2026-03-06T01:29:59Z")).await;
    assert!(ledger.records().is_empty());
    for t in [
        "2026-03-06T01:30:00Z",
        "2026-03-16T01:30:00Z",
        "2026-04-10T01:30:00Z",
        "2026-05-01T00:00:00Z",
    ] {
        advance_to(&clock, utc(t)).await;
    }
    let records = ledger.records();
    // Third Mondays, announced ten days ahead; no draw follows.
    assert_eq!(
        records
            .iter()
            .map(|r| (r.key.as_str(), r.action, r.when))
            .collect::<Vec<_>>(),
        [
            (
                "ceremony@2026-03-16T01:30:00Z",
                Action::Announce,
                utc("2026-03-06T01:30:00Z")
            ),
            (
                "ceremony@2026-04-20T01:30:00Z",
                Action::Announce,
                utc("2026-04-10T01:30:00Z")
            ),
        ]
    );
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn executor_errors_are_retried_with_backoff_never_skipped() {
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(daily("skip"), &ledger, &clock).await;
    ledger.fail_next(4);
    let due = utc("2026-03-01T01:00:00Z");
    advance_to(&clock, due).await;
    for second in 1..=20 {
        advance_to(&clock, due + TimeDelta::seconds(second)).await;
    }
    let calls = ledger.calls();
    // Retries 1, 2, 4 and 8 seconds after each failure; the fifth attempt
    // announces, and the draw follows at once.
    let tried: Vec<(i64, Action, bool)> = calls
        .iter()
        .map(|c| ((c.when - due).num_seconds(), c.action, c.result.is_ok()))
        .collect();
    assert_eq!(
        tried,
        [
            (0, Action::Announce, false),
            (1, Action::Announce, false),
            (3, Action::Announce, false),
            (7, Action::Announce, false),
            (15, Action::Announce, true),
            (15, Action::Draw, true),
        ]
    );
    assert!(ledger.records().iter().all(|r| r.outcome == Outcome::Ran));
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn the_backoff_is_bounded() {
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(daily("latest"), &ledger, &clock).await;
    ledger.fail_next(usize::MAX);
    advance_to(&clock, utc("2026-03-01T01:00:00Z")).await;
    for _ in 0..60 {
        let next = clock.now() + TimeDelta::minutes(5);
        advance_to(&clock, next).await;
    }
    // Five hours of outage in 5-minute steps: while the delay is at most
    // 5 minutes, every step lets one retry through. Delays doubling without
    // a bound would pass 5 minutes after nine failures and make about 14
    // attempts in all.
    let attempts = ledger.calls().len();
    assert!((60..=70).contains(&attempts), "{attempts} attempts");
    ledger.fail_next(0);
    let next = clock.now() + TimeDelta::minutes(5);
    advance_to(&clock, next).await;
    assert_eq!(ledger.records().len(), 2, "the occurrence ran once the ledger was back");
    runner.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_loop() {
    let clock = TokioClock::starting_at(utc("2026-03-01T00:00:00Z"));
    let ledger = FakeLedger::new(Arc::new(clock));
    let runner = Runner::start(daily("all"), &ledger, &clock).await;
    runner.shut_down().await;
    advance_to(&clock, utc("2026-03-05T00:00:00Z")).await;
    assert!(ledger.calls().is_empty(), "a stopped runner does nothing");

    // Also while waiting to retry a failed step.
    let runner = Runner::start(daily("all"), &ledger, &clock).await;
    ledger.fail_next(usize::MAX);
    advance_to(&clock, utc("2026-03-05T01:00:00Z")).await;
    assert!(!ledger.calls().is_empty());
    runner.shut_down().await;
}

// ---------------------------------------------------------------------------
// Refused schedules.

fn refusal(text: &str) -> String {
    Schedule::parse_toml(text, "schedule.toml").unwrap_err().to_string()
}

const GOOD: &str = r#"
[[job]]
name = "quarterly"
cron = "0 9 1 1,4,7,10 *"
plan = "plans/quarterly-scjg.toml"
seed = "commit"
"#;

#[test]
fn a_good_job_parses_with_defaults() {
    let schedule = Schedule::parse_toml(GOOD, "schedule.toml").unwrap();
    let job = &schedule.jobs()[0];
    assert_eq!(job.name(), "quarterly");
    assert_eq!(job.cron(), "0 9 1 1,4,7,10 *");
    assert_eq!(job.timezone(), chrono_tz::Asia::Shanghai);
    assert_eq!(job.announce_ahead(), None);
    assert_eq!(job.catch_up(), CatchUp::Latest);
    assert_eq!(job.steps(), [Action::Announce, Action::Draw]);
}

#[test]
fn bad_jobs_are_refused_naming_the_job_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        // (replace, with, expected in the message)
        (
            "0 9 1 1,4,7,10 *",
            "0 9 1 13 *",
            "job quarterly: cron: invalid cron expression",
        ),
        (
            "0 9 1 1,4,7,10 *",
            "0 9 1 *",
            "job quarterly: cron: invalid cron expression",
        ),
        (
            "0 9 1 1,4,7,10 *",
            "0 0 9 1 1 * 2026",
            "job quarterly: cron: invalid cron expression",
        ),
        (
            "0 9 1 1,4,7,10 *",
            "0 9 30 2 *",
            "job quarterly: cron: cron expression \"0 9 30 2 *\" never matches",
        ),
        (
            "seed = \"commit\"",
            "seed = \"commit\"\ntimezone = \"Asia/Shangai\"",
            "job quarterly: timezone: unknown IANA time zone \"Asia/Shangai\"",
        ),
        (
            "seed = \"commit\"",
            "seed = \"commit\"\ntimezone = \"asia/shanghai\"",
            "job quarterly: timezone:",
        ),
        (
            "seed = \"commit\"",
            "seed = \"commit\"\ncatchup = \"all\"",
            "job quarterly: catchup: unknown key",
        ),
        (
            "seed = \"commit\"",
            "seed = \"dice\"",
            "job quarterly: seed: unknown seed method \"dice\"",
        ),
        (
            "seed = \"commit\"",
            "seed = \"commit\"\ncatch_up = \"first\"",
            "job quarterly: catch_up: unknown policy \"first\"",
        ),
        (
            "seed = \"commit\"",
            "seed = \"commit\"\nannounce_ahead = \"a week\"",
            "job quarterly: announce_ahead:",
        ),
        (
            "seed = \"commit\"",
            "seed = \"commit\"\nannounce_ahead = 7",
            "job quarterly: announce_ahead: must be a string, not integer",
        ),
        ("seed = \"commit\"\n", "", "job quarterly: seed: missing"),
        ("plans/quarterly-scjg.toml", "/etc/plan.toml", "job quarterly: plan:"),
        (
            "plans/quarterly-scjg.toml",
            "../plans/quarterly-scjg.toml",
            "job quarterly: plan:",
        ),
        ("name = \"quarterly\"", "name = \"季度\"", "job #1: name:"),
        ("name = \"quarterly\"", "name = \"a@b\"", "job #1: name:"),
        ("name = \"quarterly\"\n", "", "job #1: name: missing"),
        (
            "cron = \"0 9 1 1,4,7,10 *\"",
            "cron = 9",
            "job quarterly: cron: must be a string",
        ),
    ];
    for (replace, with, expected) in cases {
        assert!(GOOD.contains(replace), "{replace:?}");
        let message = refusal(&GOOD.replacen(replace, with, 1));
        assert!(message.starts_with("schedule schedule.toml: "), "{message}");
        assert!(
            message.contains(expected),
            "{with:?}: {message:?} does not contain {expected:?}"
        );
    }
}

#[test]
fn bad_schedules_are_refused() {
    let twice = format!("{GOOD}{GOOD}");
    assert!(refusal(&twice).contains("job quarterly: name: another job has the same name"));
    assert!(refusal(&format!("jobs = 1\n{GOOD}")).contains("unknown key `jobs`"));
    assert!(refusal("").contains("no jobs"));
    assert!(refusal("[job]\nname = \"x\"").contains("must be a list of [[job]] tables"));
    assert!(refusal("[[job]\n").starts_with("schedule schedule.toml: "));
}

#[test]
fn load_refuses_a_job_whose_plan_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::fs::write(dir.path().join("plans/broken.toml"), "id = 1\n").unwrap();
    let write = |plan: &str| {
        let path = dir.path().join("schedule.toml");
        std::fs::write(&path, GOOD.replace("plans/quarterly-scjg.toml", plan)).unwrap();
        Schedule::load(&path).unwrap_err().to_string()
    };
    let missing = write("plans/missing.toml");
    assert!(missing.contains("job quarterly: plan: cannot read plan"), "{missing}");
    let broken = write("plans/broken.toml");
    assert!(broken.contains("job quarterly: plan: plan "), "{broken}");
    let unread = Schedule::load(&dir.path().join("nowhere.toml"))
        .unwrap_err()
        .to_string();
    assert!(unread.starts_with("cannot read schedule"), "{unread}");
}

/// A ceremony job names where its ceremonies are held; no other job has a
/// place.
#[test]
fn a_ceremony_job_says_where_it_is_held() {
    let parse =
        |seed: &str, extra: &str| Schedule::parse_toml(&job_text("job", "30 9 * * MON#3", seed, extra), "s.toml");
    let place = |extra: &str| parse("ceremony", extra).map(|s| s.jobs()[0].place().map(str::to_owned));
    assert_eq!(
        place("place = \" 一楼摇号室 \"").unwrap().as_deref(),
        Some("一楼摇号室")
    );
    for (extra, says) in [
        ("place = \"\"", "must say where it is held"),
        ("place = \"一楼\\n大厅\"", "one line"),
    ] {
        let message = place(extra).unwrap_err().to_string();
        assert!(
            message.contains("job job: place: ") && message.contains(says),
            "{message}"
        );
    }
    let message = parse("commit", "place = \"一楼\"").unwrap_err().to_string();
    assert!(message.contains("only a ceremony job is held at a place"), "{message}");
    assert_eq!(parse("commit", "").unwrap().jobs()[0].place(), None);
    // The shipped schedule's ceremony job has its place.
    let shipped = Schedule::load(Path::new("config/schedule.toml")).unwrap();
    assert!(shipped
        .jobs()
        .iter()
        .all(|job| (job.seed() == SeedMethod::Ceremony) == job.place().is_some()));
}

#[test]
fn a_ceremony_job_announced_too_late_for_the_public_is_refused() {
    let day = Duration::from_secs(24 * 3600);
    let check =
        |seed: &str, extra: &str| one_job("job", "30 9 * * MON#3", seed, extra).check_ceremony_lead(day, "s.toml");
    // A ceremony needs the lead: none at all, or 23 h 30 min, is refused.
    let none = check("ceremony", "").unwrap_err().to_string();
    assert!(
        none.contains("job job: announce_ahead: a ceremony must be announced at least 24 h ahead"),
        "{none}"
    );
    assert!(none.contains("not none (announce_ahead is not set)"), "{none}");
    let short = check("ceremony", "announce_ahead = \"23h30m\"")
        .unwrap_err()
        .to_string();
    assert!(short.contains("not 23 h 30 min"), "{short}");
    // Exactly the lead, or more, is accepted; so is any lead for a seed that
    // nobody has to attend.
    check("ceremony", "announce_ahead = \"24h\"").unwrap();
    check("ceremony", "announce_ahead = \"10d\"").unwrap();
    check("commit", "").unwrap();
    check("beacon", "announce_ahead = \"1h\"").unwrap();
    // The shipped schedule keeps the default lead.
    Schedule::load(Path::new("config/schedule.toml"))
        .unwrap()
        .check_ceremony_lead(day, "config/schedule.toml")
        .unwrap();
}
