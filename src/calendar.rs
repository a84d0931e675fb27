//! Working days (工作日) on the official Chinese calendar, for publication
//! deadlines: an inspection result must be made public within 20 working days
//! of being recorded ([`PUBLICATION_WORKING_DAYS`]).
//!
//! # 调休: why Monday–Friday is not enough
//!
//! Every year the General Office of the State Council (国务院办公厅) publishes a
//! notice (关于YEAR年部分节假日安排的通知) that fixes the public holidays. To
//! join a holiday to a weekend into one long break, it moves working days
//! around (调休, "adjusted rest"): weekdays inside the break become days off,
//! and some nearby Saturdays or Sundays become working days in exchange
//! (调休上班, make-up working days). In 2026 the Spring Festival break runs
//! from Sunday 15 February to Monday 23 February, and Saturdays 14 and 28
//! February are ordinary working days. So a date is a working day when
//!
//! - the notice names it a make-up working day, or else
//! - it is a Monday to Friday the notice does not name as a holiday.
//!
//! None of this follows from a rule: the lunar festivals move, and the
//! make-up days are chosen each year. The calendar is therefore data, one
//! file per year in `config/holidays/YEAR.toml` transcribed from that year's
//! notice (the format is in `config/holidays/README.md` and
//! [`WorkCalendar::parse_year`]).
//!
//! # Dates outside the table are errors
//!
//! The notice for a year appears in November or December of the year before.
//! For a year with no file the calendar does not know which days are off, and
//! guessing "Monday to Friday" would compute a deadline that looks right and
//! is wrong by up to a week around the Spring Festival or National Day, with
//! nothing to show it. So every question about a date in a year without a
//! file, and outside the provisional years (below), is answered with
//! [`CalendarError::OutOfRange`], which names the date
//! and the years covered: the fix (add the year's file) is then obvious, and
//! it happens before a wrong deadline is published.
//!
//! # Provisional years: the statutory days, when the notice is late
//!
//! The notice for next year may come after the first deadline reaches into
//! it (a result recorded in early December already does), and offices cannot
//! stop recording results meanwhile. So a year from 2025 to
//! [`LAST_PROVISIONAL_YEAR`] without a file is counted on a *provisional*
//! calendar built from the law alone: 全国年节及纪念日放假办法 as revised in
//! 2024 (国务院令第798号, in force 2025-01-01), which gives everyone 13 days:
//! 元旦 1 January; 春节 农历除夕 to 正月初三 (4 days); 清明节 the day of the
//! 清明 solar term; 劳动节 1–2 May; 端午节 农历五月初五; 中秋节 农历八月十五;
//! 国庆节 1–3 October ([`statutory_holidays`]). The provisional rule is:
//!
//! - the statutory days are days off, whatever the weekday;
//! - Saturdays and Sundays are days off;
//! - there are no make-up working days and no bridge days, since only the
//!   notice can say which weekends are worked (调休) and which weekdays join a
//!   break; a statutory day on a weekend gives no extra day off.
//!
//! A provisional deadline can therefore differ from the official one by a
//! few days either way: later where the notice makes a Saturday a working
//! day, earlier where it bridges a break over weekdays. Counted on every
//! start date of 2025 and 2026 against those years' notices, 70% of the
//! provisional deadlines are the official ones, and the rest lie from 6
//! calendar days earlier to 7 later: the mark matters, and so does adding
//! the notice soon. Every deadline that counts a day of a provisional year says so
//! ([`Deadline::provisional`]), and deadlines are computed when read from
//! the day a result was recorded, never stored: adding the year's file
//! replaces the provisional count everywhere at the next start. Years past
//! [`LAST_PROVISIONAL_YEAR`], and years before the 2024 revision, are still
//! `OutOfRange`.
//!
//! # Checked on load
//!
//! A wrong table is as bad as a missing one, so loading refuses, naming the
//! file and the entry: TOML errors and unknown keys, malformed or impossible
//! dates, a date outside the file's year (see below), a date listed twice (in
//! one file or across files), a make-up working day that is not a Saturday or
//! Sunday, a date that is both a holiday and a make-up day, a file whose
//! `year` disagrees with its name, a year file with no holidays, an empty
//! `source` or `name`.
//!
//! A notice occasionally names dates in the year before: the notice for 2019
//! (国办发明电〔2018〕15号) gave 2019 元旦 as 2018-12-30 to 2019-01-01, with
//! Saturday 2018-12-29 as a make-up working day. Such dates belong in the file
//! of the notice that names them, so an entry may name dates in `year - 1` or
//! `year + 1`, but only when it says `adjacent_year = true`; without that
//! flag a date outside `year` is taken for the typo it usually is. Coverage is
//! still by file: a date in 2018 is only answered if `2018.toml` is loaded,
//! since the 2019 notice says nothing about the rest of 2018.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

/// Working days within which an inspection result is published, counted
/// from the day after it is recorded.
pub const PUBLICATION_WORKING_DAYS: u32 = 20;

/// The first year of the 2024 revision of 全国年节及纪念日放假办法, and so of
/// the provisional calendar.
pub const FIRST_PROVISIONAL_YEAR: i32 = 2025;
/// The last year whose lunar festivals and 清明 are tabulated in
/// [`LUNAR_DATES`].
pub const LAST_PROVISIONAL_YEAR: i32 = 2035;

/// Per year: 农历除夕 (the last day of the lunar year ending in it), the day of
/// the 清明 solar term, 端午 (五月初五) and 中秋 (八月十五), as (month, day).
///
/// Source: the lunar dates were converted with the `lunardate` Python
/// package 0.2 (its month table, 1900–2099, follows the Hong Kong
/// Observatory's Gregorian–lunar conversion tables); 清明 is the day, in
/// UTC+8, on which the Sun's apparent ecliptic longitude reaches 15°,
/// computed with PyEphem 4 (VSOP87). The nearest of these moments to a
/// midnight is 2034-04-05 00:57, far beyond either method's error. The
/// 2025 and 2026 rows agree with the State Council's notices for those years
/// (除夕 2025-01-28, 清明 2025-04-04 and 2026-04-04..06, 端午 2025-05-31 and
/// 2026-06-19, 中秋 2025-10-06 and 2026-09-25), which a test checks against
/// `config/holidays/`.
pub const LUNAR_DATES: [(i32, [(u32, u32); 4]); 11] = [
    (2025, [(1, 28), (4, 4), (5, 31), (10, 6)]),
    (2026, [(2, 16), (4, 5), (6, 19), (9, 25)]),
    (2027, [(2, 5), (4, 5), (6, 9), (9, 15)]),
    (2028, [(1, 25), (4, 4), (5, 28), (10, 3)]),
    (2029, [(2, 12), (4, 4), (6, 16), (9, 22)]),
    (2030, [(2, 2), (4, 5), (6, 5), (9, 12)]),
    (2031, [(1, 22), (4, 5), (6, 24), (10, 1)]),
    (2032, [(2, 10), (4, 4), (6, 12), (9, 19)]),
    (2033, [(1, 30), (4, 4), (6, 1), (9, 8)]),
    (2034, [(2, 18), (4, 5), (6, 20), (9, 27)]),
    (2035, [(2, 7), (4, 5), (6, 10), (9, 16)]),
];

/// The 13 statutory days off of a year under the 2024 revision of
/// 全国年节及纪念日放假办法, with the festival each belongs to, in date order;
/// `None` for a year outside [`FIRST_PROVISIONAL_YEAR`]..=[`LAST_PROVISIONAL_YEAR`].
/// 中秋 on 1 October (2031) is one day for both festivals, so such a year
/// has 12 dates.
pub fn statutory_holidays(year: i32) -> Option<Vec<(NaiveDate, &'static str)>> {
    let (_, [eve, qingming, duanwu, zhongqiu]) = LUNAR_DATES.iter().find(|(y, _)| *y == year)?;
    let day = |(month, day): (u32, u32)| NaiveDate::from_ymd_opt(year, month, day).expect("tabulated dates are valid");
    let mut days = vec![(day((1, 1)), "元旦")];
    let eve = day(*eve);
    days.extend((0..4).map(|i| (eve + chrono::Days::new(i), "春节")));
    days.push((day(*qingming), "清明节"));
    days.extend([(day((5, 1)), "劳动节"), (day((5, 2)), "劳动节")]);
    days.push((day(*duanwu), "端午节"));
    days.push((day(*zhongqiu), "中秋节"));
    days.extend((1..=3).map(|d| (day((10, d)), "国庆节")));
    days.sort();
    days.dedup_by_key(|(date, _)| *date);
    Some(days)
}

/// A publication deadline, and whether it was counted on a provisional year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deadline {
    pub date: NaiveDate,
    /// Some day counted lies in a year without an official table, counted
    /// on the statutory days alone (see the module doc): the date may move
    /// when that year's notice is added.
    pub provisional: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// TOML syntax, unknown or missing keys, wrong value types.
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: a year file must be named YEAR.toml, such as 2026.toml")]
    BadFileName { file: String },
    #[error("{file}: the file says year = {year}, but its name says {named}")]
    YearMismatch { file: String, year: i32, named: i32 },
    #[error("{file} and {other} are both tables for {year}")]
    DuplicateYear { year: i32, file: String, other: String },
    #[error("{dir}: no YEAR.toml file, so the working-day calendar would cover no date")]
    NoYears { dir: String },
    #[error("{file}: {what} is empty")]
    Empty { file: String, what: String },
    #[error("{entry}: {value:?} is not a date written YYYY-MM-DD")]
    BadDate { entry: Entry, value: String },
    #[error("{entry}: {date} is not in {year}{}", outside_hint(*.adjacent_year))]
    OutsideYear {
        entry: Entry,
        date: NaiveDate,
        year: i32,
        adjacent_year: bool,
    },
    #[error("{date} is listed twice: in {first} and in {second}")]
    Duplicate {
        date: NaiveDate,
        first: Box<Entry>,
        second: Box<Entry>,
    },
    #[error("{entry}: {date} is a {weekday}; a make-up working day (调休上班) is always a Saturday or Sunday")]
    WorkdayNotWeekend {
        entry: Entry,
        date: NaiveDate,
        weekday: Weekday,
    },
    #[error("{date} is both a holiday, in {holiday}, and a make-up working day, in {workday}")]
    HolidayAndWorkday {
        date: NaiveDate,
        holiday: Box<Entry>,
        workday: Box<Entry>,
    },
    #[error(
        "{date} is outside the working-day calendar, which covers {} from the official tables \
         and {FIRST_PROVISIONAL_YEAR}–{LAST_PROVISIONAL_YEAR} provisionally from the statutory \
         holidays; add {}.toml, transcribed from the State Council's holiday notice for that year",
        years_list(.covered), .date.year()
    )]
    OutOfRange { date: NaiveDate, covered: Vec<i32> },
    #[error("the range ends on {to}, before it starts on {from}")]
    Reversed { from: NaiveDate, to: NaiveDate },
}

fn outside_hint(adjacent_year: bool) -> &'static str {
    if adjacent_year {
        ", nor in the year just before or after it"
    } else {
        " (an entry names a date of the year before or after only with adjacent_year = true, \
         where the notice itself does)"
    }
}

fn years_list(years: &[i32]) -> String {
    if years.is_empty() {
        return "no year".into();
    }
    years.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
}

/// What the notice makes of a date it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// 放假: a day off, whatever the weekday.
    Holiday,
    /// 调休上班: a Saturday or Sunday that is a working day.
    Workday,
}

/// The entry of a year file that names a date: enough to find it again in
/// the file, and shown in every error about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: String,
    pub kind: DayKind,
    /// 1-based position among the file's `[[holiday]]` or `[[workday]]` entries.
    pub index: usize,
    pub name: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        };
        write!(f, "{} [[{kind}]] #{} {:?}", self.file, self.index, self.name)
    }
}

/// One checked year file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearTable {
    pub year: i32,
    /// Where the table was read from, as shown in errors.
    pub file: String,
    /// The notice it was transcribed from.
    pub source: String,
    /// Every date the file names, with the entry naming it.
    pub days: BTreeMap<NaiveDate, Entry>,
}

/// The years covered and the dates the notices name; every other date of a
/// covered year follows the plain week.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    /// Covered year → (file, source).
    years: BTreeMap<i32, (String, String)>,
    days: BTreeMap<NaiveDate, Entry>,
    /// The statutory days of every provisional year: a year of
    /// [`LUNAR_DATES`] without a table.
    provisional: BTreeMap<NaiveDate, &'static str>,
}

// The file format. `deny_unknown_fields` turns a misspelt key (`adjacent_years`,
// `day` for `days`) into an error instead of a silently ignored line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i32,
    source: String,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
    #[serde(default)]
    workday: Vec<RawWorkday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: String,
    days: Vec<String>,
    #[serde(default)]
    adjacent_year: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkday {
    name: String,
    date: String,
    #[serde(default)]
    adjacent_year: bool,
}

impl WorkCalendar {
    /// Loads every `YEAR.toml` in `dir`. Other files (a README) are skipped;
    /// a `.toml` file not named after a year is refused, as it is probably a
    /// misnamed year the calendar would otherwise silently lack.
    pub fn load_dir(dir: &Path) -> Result<WorkCalendar, CalendarError> {
        let read_err = |path: &Path, source| CalendarError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut paths = Vec::new();
        for item in std::fs::read_dir(dir).map_err(|e| read_err(dir, e))? {
            let path = item.map_err(|e| read_err(dir, e))?.path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut tables = Vec::new();
        for path in paths {
            let file = path.display().to_string();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let named = match stem.parse::<i32>() {
                Ok(year) if stem.len() == 4 && stem.bytes().all(|b| b.is_ascii_digit()) => year,
                _ => return Err(CalendarError::BadFileName { file }),
            };
            let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            let table = Self::parse_year(&text, &file)?;
            if table.year != named {
                return Err(CalendarError::YearMismatch {
                    file,
                    year: table.year,
                    named,
                });
            }
            tables.push(table);
        }
        if tables.is_empty() {
            return Err(CalendarError::NoYears {
                dir: dir.display().to_string(),
            });
        }
        Self::from_tables(tables)
    }

    /// Parses and checks one year file; `file` names it in errors. The file
    /// name is checked against `year` by [`WorkCalendar::load_dir`], which
    /// knows it is reading `YEAR.toml`.
    ///
    /// ```toml
    /// year = 2026
    /// source = "国务院办公厅关于2026年部分节假日安排的通知（…），2025-11-04"
    ///
    /// [[holiday]]          # 放假: every date off, weekend days inside the break too
    /// name = "元旦"
    /// days = ["2026-01-01", "2026-01-02", "2026-01-03"]
    ///
    /// [[workday]]          # 调休上班: a Saturday or Sunday that is a working day
    /// name = "元旦调休上班"
    /// date = "2026-01-04"
    /// ```
    ///
    /// Either kind of entry may add `adjacent_year = true` to name dates in
    /// the year before or after, as some notices do (see the module doc).
    pub fn parse_year(text: &str, file: &str) -> Result<YearTable, CalendarError> {
        let raw: RawYear = toml::from_str(text).map_err(|e| CalendarError::Syntax {
            file: file.into(),
            message: e.to_string(),
        })?;
        let empty = |what: String| CalendarError::Empty {
            file: file.into(),
            what,
        };
        if raw.source.trim().is_empty() {
            return Err(empty("source".into()));
        }
        // Every notice gives holidays; a file without any is a stub, and would
        // make the whole year count as plain weeks.
        if raw.holiday.is_empty() {
            return Err(empty("the list of [[holiday]] entries".into()));
        }
        let mut table = YearTable {
            year: raw.year,
            file: file.into(),
            source: raw.source,
            days: BTreeMap::new(),
        };
        let make_entry = |kind, index: usize, name: &str| Entry {
            file: file.into(),
            kind,
            index: index + 1,
            name: name.into(),
        };

        // Holidays first, so that a make-up day that is also a holiday is
        // reported as such when the make-up day is reached.
        for (i, h) in raw.holiday.iter().enumerate() {
            let entry = make_entry(DayKind::Holiday, i, &h.name);
            if h.name.trim().is_empty() {
                return Err(empty(format!("the name of [[holiday]] #{}", i + 1)));
            }
            if h.days.is_empty() {
                return Err(empty(format!("the days of [[holiday]] #{} {:?}", i + 1, h.name)));
            }
            for value in &h.days {
                let date = parse_date(value, &entry)?;
                check_year(date, raw.year, h.adjacent_year, &entry)?;
                insert(&mut table.days, date, entry.clone())?;
            }
        }
        for (i, w) in raw.workday.iter().enumerate() {
            let entry = make_entry(DayKind::Workday, i, &w.name);
            if w.name.trim().is_empty() {
                return Err(empty(format!("the name of [[workday]] #{}", i + 1)));
            }
            let date = parse_date(&w.date, &entry)?;
            check_year(date, raw.year, w.adjacent_year, &entry)?;
            if !is_weekend(date) {
                return Err(CalendarError::WorkdayNotWeekend {
                    entry,
                    date,
                    weekday: date.weekday(),
                });
            }
            insert(&mut table.days, date, entry)?;
        }
        Ok(table)
    }

    /// Combines checked year tables, refusing two tables for one year and a
    /// date named by two files (possible with `adjacent_year`). No table at
    /// all gives a calendar that answers every date with `OutOfRange`.
    pub fn from_tables(tables: impl IntoIterator<Item = YearTable>) -> Result<WorkCalendar, CalendarError> {
        let mut calendar = WorkCalendar::default();
        for table in tables {
            if let Some((other, _)) = calendar.years.get(&table.year) {
                return Err(CalendarError::DuplicateYear {
                    year: table.year,
                    file: table.file,
                    other: other.clone(),
                });
            }
            for (date, entry) in table.days {
                insert(&mut calendar.days, date, entry)?;
            }
            calendar.years.insert(table.year, (table.file, table.source));
        }
        for year in FIRST_PROVISIONAL_YEAR..=LAST_PROVISIONAL_YEAR {
            if !calendar.years.contains_key(&year) {
                calendar
                    .provisional
                    .extend(statutory_holidays(year).into_iter().flatten());
            }
        }
        Ok(calendar)
    }

    /// Whether `year` is counted on the provisional calendar: no table, but
    /// within the statutory tabulation.
    pub fn is_provisional(&self, year: i32) -> bool {
        !self.years.contains_key(&year) && (FIRST_PROVISIONAL_YEAR..=LAST_PROVISIONAL_YEAR).contains(&year)
    }

    /// The last day of the official tables, counting on from `today`'s year
    /// while every year has a table; `None` when `today`'s year has none.
    pub fn official_until(&self, today: NaiveDate) -> Option<NaiveDate> {
        let mut year = today.year();
        if !self.years.contains_key(&year) {
            return None;
        }
        while self.years.contains_key(&(year + 1)) {
            year += 1;
        }
        NaiveDate::from_ymd_opt(year, 12, 31)
    }

    /// A warning for the service's start when the official tables end within
    /// `days` days of `today` (or already have): deadlines reaching past
    /// them are provisional until the next notice is added.
    pub fn ending_soon(&self, today: NaiveDate, days: u64) -> Option<String> {
        let next_file = |year: i32| format!("{year}.toml");
        match self.official_until(today) {
            Some(end) if end >= today + chrono::Days::new(days) => None,
            Some(end) => Some(format!(
                "the official working-day calendar ends on {end}; deadlines reaching past it are \
                 provisional (statutory holidays only) until {} is added from the State Council's notice",
                next_file(end.year() + 1)
            )),
            None => Some(format!(
                "the official working-day calendar does not cover today ({today}); deadlines are \
                 provisional (statutory holidays only) until {} is added from the State Council's notice",
                next_file(today.year())
            )),
        }
    }

    /// The years with a table, in order.
    pub fn covered_years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The notice a year was transcribed from.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|(_, source)| source.as_str())
    }

    /// The entry that makes `date` a holiday or a make-up working day, if
    /// any: the reason a date is not what its weekday suggests.
    pub fn entry(&self, date: NaiveDate) -> Option<&Entry> {
        self.days.get(&date)
    }

    /// Whether `date` is a working day; `OutOfRange` when its year has no table.
    /// In a provisional year only the statutory days and weekends are off.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.check_covered(date)?;
        Ok(match self.days.get(&date) {
            Some(entry) => entry.kind == DayKind::Workday,
            None => !is_weekend(date) && !self.provisional.contains_key(&date),
        })
    }

    /// The statutory festival that makes `date` a day off in a provisional
    /// year, if any.
    pub fn provisional_holiday(&self, date: NaiveDate) -> Option<&'static str> {
        self.provisional.get(&date).copied()
    }

    /// The date that is `n` working days after `from` (from itself not
    /// counted): the publication deadline for a result recorded on `from` is
    /// `add_working_days(from, 20)`. The result is always a working day when
    /// `n > 0`, whatever `from` is; `n == 0` gives `from`.
    ///
    /// `from` must be covered as well as every day walked through: a date
    /// before the table usually means a year is missing, and answering
    /// anyway would hide that.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.check_covered(from)?;
        let mut date = from;
        let mut left = n;
        while left > 0 {
            date = self.next_day(date)?;
            if self.is_working_day(date)? {
                left -= 1;
            }
        }
        Ok(date)
    }

    /// [`add_working_days`](Self::add_working_days) with
    /// [`PUBLICATION_WORKING_DAYS`]: the last day to publish a result
    /// recorded on `recorded`.
    pub fn publication_deadline(&self, recorded: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.add_working_days(recorded, PUBLICATION_WORKING_DAYS)
    }

    /// [`publication_deadline`](Self::publication_deadline), marked
    /// provisional when any year from `recorded` to the deadline has no
    /// official table.
    pub fn deadline(&self, recorded: NaiveDate) -> Result<Deadline, CalendarError> {
        let date = self.publication_deadline(recorded)?;
        Ok(Deadline {
            date,
            provisional: (recorded.year()..=date.year()).any(|year| self.is_provisional(year)),
        })
    }

    /// The number of working days in `(from, to]`: after `from`, up to and
    /// including `to`. So `working_days_between(d, add_working_days(d, n)) == n`,
    /// and a result recorded on `from` and published on `to` is on time when
    /// this is at most 20. `Reversed` when `to < from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32, CalendarError> {
        if to < from {
            return Err(CalendarError::Reversed { from, to });
        }
        self.check_covered(from)?;
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = self.next_day(date)?;
            if self.is_working_day(date)? {
                count += 1;
            }
        }
        Ok(count)
    }

    fn check_covered(&self, date: NaiveDate) -> Result<(), CalendarError> {
        if self.years.contains_key(&date.year()) || self.is_provisional(date.year()) {
            Ok(())
        } else {
            Err(CalendarError::OutOfRange {
                date,
                covered: self.covered_years(),
            })
        }
    }

    // Only fails past chrono's last date, which no table reaches; reported
    // as out of range all the same rather than unwrapped.
    fn next_day(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        date.succ_opt().ok_or_else(|| CalendarError::OutOfRange {
            date,
            covered: self.covered_years(),
        })
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Exactly `YYYY-MM-DD`: chrono alone would also take `2026-1-4`, and a
/// transcription that sloppy deserves a second look.
fn parse_date(value: &str, entry: &Entry) -> Result<NaiveDate, CalendarError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|date| date.format("%Y-%m-%d").to_string() == value)
        .ok_or_else(|| CalendarError::BadDate {
            entry: entry.clone(),
            value: value.into(),
        })
}

fn check_year(date: NaiveDate, year: i32, adjacent_year: bool, entry: &Entry) -> Result<(), CalendarError> {
    let distance = (i64::from(date.year()) - i64::from(year)).abs();
    if distance == 0 || (adjacent_year && distance == 1) {
        Ok(())
    } else {
        Err(CalendarError::OutsideYear {
            entry: entry.clone(),
            date,
            year,
            adjacent_year,
        })
    }
}

fn insert(days: &mut BTreeMap<NaiveDate, Entry>, date: NaiveDate, entry: Entry) -> Result<(), CalendarError> {
    match days.get(&date) {
        None => {
            days.insert(date, entry);
            Ok(())
        }
        Some(first) if first.kind == entry.kind => Err(CalendarError::Duplicate {
            date,
            first: Box::new(first.clone()),
            second: Box::new(entry),
        }),
        Some(first) => {
            let (holiday, workday) = if first.kind == DayKind::Holiday {
                (first.clone(), entry)
            } else {
                (entry, first.clone())
            };
            Err(CalendarError::HolidayAndWorkday {
                date,
                holiday: Box::new(holiday),
                workday: Box::new(workday),
            })
        }
    }
}
