//! Time, in one place: the office's time zone and the clock every library
//! call reads "now" from.
//!
//! Every time the library writes or compares goes through here: ledger
//! entries' `recorded_at`, a bundle's `created_at`, the checks that a
//! ceremony's time has come or that an announced time and beacon round lie
//! in the future, the day a result is recorded and the day its deadline is
//! compared with, and the scheduler's "now". The library never asks the
//! operating system for the time itself: the binary chooses [`SystemClock`],
//! tests a [`FixedClock`] (or the scheduler's tokio-driven clock), and the
//! choice travels with the desk as an [`OfficeClock`].
//!
//! The zone is the configured `time_zone` (`config/shuangsui.toml`), parsed
//! once into a [`Zone`]; Asia/Shanghai unless set. Timestamps are RFC 3339 in
//! whole seconds with the zone's offset at that instant
//! (`2026-03-01T09:00:00+08:00`), so an entry's local date is readable from
//! its text alone.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;

/// An IANA time zone name that chrono-tz does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown IANA time zone {0:?} (names are case-sensitive, such as \"Asia/Shanghai\")")]
pub struct ZoneError(pub String);

/// The time zone local dates and timestamps are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Zone {
    /// China Standard Time, UTC+8 all year: the default.
    pub const SHANGHAI: Zone = Zone(chrono_tz::Asia::Shanghai);

    /// Parses an IANA name such as `Asia/Shanghai` (surrounding white space
    /// ignored; names are case-sensitive).
    pub fn parse(name: &str) -> Result<Zone, ZoneError> {
        name.trim()
            .parse::<Tz>()
            .map(Zone)
            .map_err(|_| ZoneError(name.to_owned()))
    }

    pub const fn tz(self) -> Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The local calendar date at `at`.
    pub fn date(self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }

    /// `at` as RFC 3339 in whole seconds with the local offset.
    pub fn stamp(self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).to_rfc3339_opts(SecondsFormat::Secs, false)
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::SHANGHAI
    }
}

impl FromStr for Zone {
    type Err = ZoneError;

    fn from_str(s: &str) -> Result<Zone, ZoneError> {
        Zone::parse(s)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, for production: follows NTP corrections.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that reads what it was set to, for tests of time-dependent rules:
/// it moves only when told.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(now: DateTime<Utc>) -> FixedClock {
        FixedClock(Mutex::new(now))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().expect("the clock's lock is never poisoned") = now;
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().expect("the clock's lock is never poisoned");
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("the clock's lock is never poisoned")
    }
}

/// A clock read in the office's time zone: what the desk, the results and
/// the scheduler take their times from.
#[derive(Clone)]
pub struct OfficeClock {
    clock: Arc<dyn Clock>,
    zone: Zone,
}

impl OfficeClock {
    pub fn new(clock: Arc<dyn Clock>, zone: Zone) -> OfficeClock {
        OfficeClock { clock, zone }
    }

    /// The wall clock in `zone`.
    pub fn system(zone: Zone) -> OfficeClock {
        OfficeClock::new(Arc::new(SystemClock), zone)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today's date in the office.
    pub fn today(&self) -> NaiveDate {
        self.zone.date(self.now())
    }

    /// Now as the office writes it in the ledger and in bundles.
    pub fn stamp(&self) -> String {
        self.zone.stamp(self.now())
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The clock alone, for the scheduler (which reads cron times in each
    /// job's own zone).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

impl fmt::Debug for OfficeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfficeClock")
            .field("now", &self.now())
            .field("zone", &self.zone)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn shanghai_stamps_are_utc_plus_8_in_whole_seconds() {
        // The form every ledger entry and bundle has always carried.
        let at = utc("2026-03-01T01:02:03.987Z");
        assert_eq!(Zone::SHANGHAI.stamp(at), "2026-03-01T09:02:03+08:00");
        let fixed = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(
            Zone::SHANGHAI.stamp(at),
            at.with_timezone(&fixed).to_rfc3339_opts(SecondsFormat::Secs, false)
        );
        assert_eq!(Zone::default(), Zone::SHANGHAI);
    }

    #[test]
    fn the_local_date_follows_the_zone() {
        // 20:30 UTC on 28 February is already 1 March in Shanghai.
        let at = utc("2026-02-28T20:30:00Z");
        assert_eq!(Zone::SHANGHAI.date(at), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        let urumqi = Zone::parse("Asia/Urumqi").unwrap();
        assert_eq!(urumqi.date(at), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        let london = Zone::parse(" Europe/London ").unwrap();
        assert_eq!(london.date(at), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(london.stamp(at), "2026-02-28T20:30:00+00:00");
    }

    #[test]
    fn unknown_zones_are_refused_by_name() {
        let err = Zone::parse("asia/shanghai").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown IANA time zone \"asia/shanghai\" (names are case-sensitive, such as \"Asia/Shanghai\")"
        );
        assert!(Zone::parse("UTC+8").is_err());
    }

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let clock = Arc::new(FixedClock::at(utc("2026-03-01T00:00:00Z")));
        let office = OfficeClock::new(clock.clone(), Zone::SHANGHAI);
        assert_eq!(office.stamp(), "2026-03-01T08:00:00+08:00");
        clock.advance(TimeDelta::hours(16));
        assert_eq!(office.today(), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        clock.set(utc("2025-12-31T15:59:59Z"));
        assert_eq!(office.stamp(), "2025-12-31T23:59:59+08:00");
    }
}
