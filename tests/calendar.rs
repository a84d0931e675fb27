//! The working-day calendar against the real `config/holidays` tables: the
//! expected deadlines are counted by hand from the notices, day by day, in
//! the comments; then the refusals on load.

use std::path::Path;

use chrono::NaiveDate;
use shuangsui::calendar::{statutory_holidays, CalendarError, DayKind, WorkCalendar};

fn d(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn calendar() -> WorkCalendar {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays");
    WorkCalendar::load_dir(&dir).unwrap()
}

// --- The shipped tables ---

#[test]
fn shipped_tables_cover_2025_and_2026_and_cite_their_notices() {
    let cal = calendar();
    assert_eq!(cal.covered_years(), vec![2025, 2026]);
    assert!(cal
        .source(2025)
        .unwrap()
        .contains("国务院办公厅关于2025年部分节假日安排的通知"));
    assert!(cal.source(2025).unwrap().contains("国办发明电〔2024〕12号"));
    assert!(cal
        .source(2026)
        .unwrap()
        .contains("国务院办公厅关于2026年部分节假日安排的通知"));
}

#[test]
fn shipped_tables_have_the_notices_day_counts() {
    // 2025: 元旦 1, 春节 8, 清明 3, 劳动节 5, 端午 3, 国庆中秋 8 = 28 days off;
    // make-up days 1-26, 2-8, 4-27, 9-28, 10-11 = 5.
    // 2026: 元旦 3, 春节 9, 清明 3, 劳动节 5, 端午 3, 中秋 3, 国庆 7 = 33 days off;
    // make-up days 1-4, 2-14, 2-28, 5-9, 9-20, 10-10 = 6.
    let cal = calendar();
    let count = |year: i32, kind: DayKind| {
        let mut date = d(&format!("{year}-01-01"));
        let mut n = 0;
        while date.format("%Y").to_string() == year.to_string() {
            if cal.entry(date).is_some_and(|e| e.kind == kind) {
                n += 1;
            }
            date = date.succ_opt().unwrap();
        }
        n
    };
    assert_eq!(count(2025, DayKind::Holiday), 28);
    assert_eq!(count(2025, DayKind::Workday), 5);
    assert_eq!(count(2026, DayKind::Holiday), 33);
    assert_eq!(count(2026, DayKind::Workday), 6);
}

// --- is_working_day ---

#[test]
fn make_up_saturdays_and_sundays_are_working_days() {
    let cal = calendar();
    // 2026 春节: "2月14日（周六）、2月28日（周六）上班".
    assert!(cal.is_working_day(d("2026-02-14")).unwrap());
    assert!(cal.is_working_day(d("2026-02-28")).unwrap());
    // 2026 元旦: "1月4日（周日）上班"; 国庆: "9月20日（周日）、10月10日（周六）上班".
    assert!(cal.is_working_day(d("2026-01-04")).unwrap());
    assert!(cal.is_working_day(d("2026-09-20")).unwrap());
    assert!(cal.is_working_day(d("2026-10-10")).unwrap());
    assert_eq!(cal.entry(d("2026-02-14")).unwrap().name, "春节调休上班");
}

#[test]
fn holidays_on_weekdays_are_days_off_and_plain_weekends_stay_off() {
    let cal = calendar();
    // Monday 2026-02-16 and Monday 2026-02-23 (正月初七) are inside the 春节 break.
    assert!(!cal.is_working_day(d("2026-02-16")).unwrap());
    assert!(!cal.is_working_day(d("2026-02-23")).unwrap());
    // Thursday 2026-10-01 to Wednesday 2026-10-07: 国庆节.
    assert!(!cal.is_working_day(d("2026-10-07")).unwrap());
    // Saturday 2026-03-07, Sunday 2026-03-08: ordinary weekend.
    assert!(!cal.is_working_day(d("2026-03-07")).unwrap());
    assert!(!cal.is_working_day(d("2026-03-08")).unwrap());
    // Friday 2026-03-06, and Thursday 2026-10-08, the first day back.
    assert!(cal.is_working_day(d("2026-03-06")).unwrap());
    assert!(cal.is_working_day(d("2026-10-08")).unwrap());
}

#[test]
fn a_date_outside_the_table_is_an_error_naming_the_date_and_the_years_covered() {
    let cal = calendar();
    // 2027..=2035 are provisional (below); 2036 has no statutory table either.
    let err = cal.is_working_day(d("2036-03-02")).unwrap_err();
    match &err {
        CalendarError::OutOfRange { date, covered } => {
            assert_eq!(*date, d("2036-03-02"));
            assert_eq!(covered, &vec![2025, 2026]);
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("2036-03-02"), "{message}");
    assert!(message.contains("2025, 2026"), "{message}");
    assert!(message.contains("2036.toml"), "{message}");
    // Before the table as well.
    assert!(matches!(
        cal.is_working_day(d("2024-12-31")),
        Err(CalendarError::OutOfRange { .. })
    ));
}

// --- Deadlines (add_working_days) ---

#[test]
fn deadline_across_the_2026_spring_festival() {
    // Recorded Monday 2026-02-09. Counting the working days after it:
    //   Tue 2-10 (1), Wed 2-11 (2), Thu 2-12 (3), Fri 2-13 (4),
    //   Sat 2-14 (5: 春节调休上班),
    //   Sun 2-15 .. Mon 2-23: 春节 break, nothing counts,
    //   Tue 2-24 (6), Wed 2-25 (7), Thu 2-26 (8), Fri 2-27 (9),
    //   Sat 2-28 (10: 春节调休上班), Sun 3-1 off,
    //   Mon 3-2 .. Fri 3-6 (11..15), Mon 3-9 .. Fri 3-13 (16..20).
    // Deadline Friday 2026-03-13. Counting Monday to Friday alone would give
    // Monday 3-9: the six weekdays of the break cost six days, the two
    // make-up Saturdays give two back.
    let cal = calendar();
    assert_eq!(cal.add_working_days(d("2026-02-09"), 20).unwrap(), d("2026-03-13"));
    assert_eq!(cal.publication_deadline(d("2026-02-09")).unwrap(), d("2026-03-13"));
    assert_eq!(cal.working_days_between(d("2026-02-09"), d("2026-03-13")).unwrap(), 20);

    // Recorded Friday 2026-02-13, the day before the make-up Saturday: that
    // Saturday is day 1, then Tue 2-24 .. Fri 2-27 (2..5), Sat 2-28 (6),
    // Mon 3-2 .. Fri 3-6 (7..11), Mon 3-9 .. Fri 3-13 (12..16),
    // Mon 3-16 .. Thu 3-19 (17..20). Deadline Thursday 2026-03-19.
    assert_eq!(cal.add_working_days(d("2026-02-13"), 20).unwrap(), d("2026-03-19"));
    // Recorded on the make-up Saturday itself, or on any day of the break:
    // the next working day is Tuesday 2026-02-24.
    assert_eq!(cal.add_working_days(d("2026-02-14"), 1).unwrap(), d("2026-02-24"));
    assert_eq!(cal.add_working_days(d("2026-02-18"), 1).unwrap(), d("2026-02-24"));
}

#[test]
fn deadline_across_the_2026_mid_autumn_and_national_day_holidays() {
    // Recorded Friday 2026-09-18:
    //   Sun 9-20 (1: 国庆节调休上班),
    //   Mon 9-21 .. Thu 9-24 (2..5), Fri 9-25 .. Sun 9-27: 中秋节,
    //   Mon 9-28 .. Wed 9-30 (6..8), Thu 10-1 .. Wed 10-7: 国庆节,
    //   Thu 10-8 (9), Fri 10-9 (10), Sat 10-10 (11: 国庆节调休上班),
    //   Mon 10-12 .. Fri 10-16 (12..16), Mon 10-19 .. Thu 10-22 (17..20).
    // Deadline Thursday 2026-10-22.
    let cal = calendar();
    assert_eq!(cal.add_working_days(d("2026-09-18"), 20).unwrap(), d("2026-10-22"));
    assert_eq!(cal.working_days_between(d("2026-09-18"), d("2026-10-22")).unwrap(), 20);
    // Recorded Wednesday 2026-09-30, the last day before the break:
    //   Thu 10-8 (1), Fri 10-9 (2), Sat 10-10 (3),
    //   Mon 10-12 .. Fri 10-16 (4..8), 10-19 .. 10-23 (9..13),
    //   10-26 .. 10-30 (14..18), Mon 11-2 (19), Tue 11-3 (20).
    assert_eq!(cal.add_working_days(d("2026-09-30"), 20).unwrap(), d("2026-11-03"));
}

#[test]
fn deadline_across_the_2025_to_2026_year_boundary() {
    // Recorded Monday 2025-12-15 (2025.toml), deadline in 2026 (2026.toml):
    //   Tue 12-16 .. Fri 12-19 (1..4), Mon 12-22 .. Fri 12-26 (5..9),
    //   Mon 12-29 .. Wed 12-31 (10..12),
    //   Thu 2026-01-01 .. Sat 01-03: 元旦, Sun 01-04 (13: 元旦调休上班),
    //   Mon 01-05 .. Fri 01-09 (14..18), Mon 01-12 (19), Tue 01-13 (20).
    // Deadline Tuesday 2026-01-13 (Monday to Friday alone: Monday 01-12).
    let cal = calendar();
    assert_eq!(cal.add_working_days(d("2025-12-15"), 20).unwrap(), d("2026-01-13"));
    assert_eq!(cal.working_days_between(d("2025-12-15"), d("2026-01-13")).unwrap(), 20);
    // Recorded on New Year's Eve 2025, Wednesday: the first working day
    // after it is the make-up Sunday 2026-01-04.
    assert_eq!(cal.add_working_days(d("2025-12-31"), 1).unwrap(), d("2026-01-04"));
}

#[test]
fn deadline_across_the_2025_national_day_holiday() {
    // 2025 国庆节、中秋节: Wed 10-1 .. Wed 10-8 off; Sun 9-28 and Sat 10-11 worked.
    // Recorded Friday 2025-09-26:
    //   Sun 9-28 (1), Mon 9-29 (2), Tue 9-30 (3), 10-1 .. 10-8 off,
    //   Thu 10-9 (4), Fri 10-10 (5), Sat 10-11 (6),
    //   10-13 .. 10-17 (7..11), 10-20 .. 10-24 (12..16), 10-27 .. 10-30 (17..20).
    // Deadline Thursday 2025-10-30.
    let cal = calendar();
    assert_eq!(cal.add_working_days(d("2025-09-26"), 20).unwrap(), d("2025-10-30"));
}

#[test]
fn deadlines_over_plain_weeks_skip_weekends() {
    let cal = calendar();
    // Recorded Monday 2026-03-02, no holiday until 清明 (4-4): four full weeks
    // (3-3 .. 3-27 gives 19) and Monday 3-30 is the 20th.
    assert_eq!(cal.add_working_days(d("2026-03-02"), 20).unwrap(), d("2026-03-30"));
    // Friday → the next Monday; Saturday and Sunday → Monday too.
    assert_eq!(cal.add_working_days(d("2026-03-06"), 1).unwrap(), d("2026-03-09"));
    assert_eq!(cal.add_working_days(d("2026-03-07"), 1).unwrap(), d("2026-03-09"));
    assert_eq!(cal.add_working_days(d("2026-03-08"), 1).unwrap(), d("2026-03-09"));
    // Zero days: the date itself, even on a weekend.
    assert_eq!(cal.add_working_days(d("2026-03-07"), 0).unwrap(), d("2026-03-07"));
    // (Fri, Mon] holds one working day; a weekend alone holds none.
    assert_eq!(cal.working_days_between(d("2026-03-06"), d("2026-03-09")).unwrap(), 1);
    assert_eq!(cal.working_days_between(d("2026-03-06"), d("2026-03-08")).unwrap(), 0);
    assert_eq!(cal.working_days_between(d("2026-03-06"), d("2026-03-06")).unwrap(), 0);
}

#[test]
fn a_deadline_that_runs_past_the_official_tables_is_provisional_not_refused() {
    let cal = calendar();
    // Recorded Tuesday 2026-12-15: the count runs into January 2027, for
    // which there is no notice yet. Provisionally only 元旦 (Fri 2027-01-01)
    // and the weekends are off: Wed 12-16 .. Thu 12-31 is 12, Mon 01-04 ..
    // Fri 01-08 is 17, Mon 11 (18), Tue 12 (19), Wed 13 (20).
    assert_eq!(cal.add_working_days(d("2026-12-15"), 20).unwrap(), d("2027-01-13"));
    let deadline = cal.deadline(d("2026-12-15")).unwrap();
    assert_eq!(deadline.date, d("2027-01-13"));
    assert!(deadline.provisional, "a day of 2027 was counted without its notice");
    // A deadline inside the official tables is not provisional.
    let official = cal.deadline(d("2026-03-02")).unwrap();
    assert!(!official.provisional);
    assert_eq!(official.date, cal.publication_deadline(d("2026-03-02")).unwrap());
    // Enough days still inside 2026 are fine: Wed 12-16 .. Thu 12-31 is 12.
    assert_eq!(cal.add_working_days(d("2026-12-15"), 12).unwrap(), d("2026-12-31"));
    assert_eq!(cal.working_days_between(d("2026-12-01"), d("2027-01-05")).unwrap(), 24);
    // Before the 2024 revision, and past the statutory tabulation: no guess.
    assert!(matches!(
        cal.add_working_days(d("2024-12-31"), 1),
        Err(CalendarError::OutOfRange { .. })
    ));
    match cal.add_working_days(d("2035-12-20"), 20) {
        Err(CalendarError::OutOfRange { date, covered }) => {
            assert_eq!(date, d("2036-01-01"));
            assert_eq!(covered, vec![2025, 2026]);
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    assert!(matches!(
        cal.working_days_between(d("2026-03-09"), d("2026-03-06")),
        Err(CalendarError::Reversed { .. })
    ));
}

// --- The provisional calendar ---

#[test]
fn the_statutory_days_of_2025_and_2026_are_official_holidays() {
    // The lunar table and the rule, checked against the two notices: every
    // statutory day is a day off there, 13 of them, and each festival lands
    // in the notice's break of the same name.
    let cal = calendar();
    for year in [2025, 2026] {
        let days = statutory_holidays(year).unwrap();
        assert_eq!(days.len(), 13, "{year}: {days:?}");
        for (date, festival) in days {
            let entry = cal
                .entry(date)
                .unwrap_or_else(|| panic!("{date} ({festival}) is not named by {year}.toml"));
            assert_eq!(entry.kind, DayKind::Holiday, "{date} ({festival})");
            assert!(entry.name.contains(festival), "{date}: {festival} vs {:?}", entry.name);
        }
    }
    let eve = |year| {
        statutory_holidays(year)
            .unwrap()
            .into_iter()
            .find(|(_, f)| *f == "春节")
            .unwrap()
            .0
    };
    assert_eq!(eve(2025), d("2025-01-28"), "农历除夕, as the 2025 notice says");
    assert_eq!(eve(2027), d("2027-02-05"));
    assert!(statutory_holidays(2024).is_none() && statutory_holidays(2036).is_none());
    // 2031: 中秋 falls on 1 October, one day for both.
    assert_eq!(statutory_holidays(2031).unwrap().len(), 12);
}

#[test]
fn a_provisional_year_has_statutory_days_and_weekends_off_and_no_make_up_days() {
    let cal = calendar();
    assert!(cal.is_provisional(2027) && !cal.is_provisional(2026) && !cal.is_provisional(2036));
    // 2027 春节: 除夕 Fri 02-05 .. 初三 Mon 02-08.
    assert!(!cal.is_working_day(d("2027-02-05")).unwrap());
    assert_eq!(cal.provisional_holiday(d("2027-02-05")), Some("春节"));
    assert!(!cal.is_working_day(d("2027-02-08")).unwrap());
    assert!(cal.is_working_day(d("2027-02-04")).unwrap());
    assert!(cal.is_working_day(d("2027-02-09")).unwrap(), "no bridge days");
    // Weekends stay off: no make-up working days without the notice.
    assert!(!cal.is_working_day(d("2027-02-06")).unwrap());
    assert!(!cal.is_working_day(d("2027-02-20")).unwrap());
    // 清明 Mon 2027-04-05, 劳动节 Sat–Sun 05-01..02 (no day in lieu), 国庆 Fri 10-01.
    assert!(!cal.is_working_day(d("2027-04-05")).unwrap());
    assert!(cal.is_working_day(d("2027-05-03")).unwrap());
    assert!(!cal.is_working_day(d("2027-10-01")).unwrap());
    assert!(cal.is_working_day(d("2027-10-04")).unwrap());
    assert!(cal.entry(d("2027-02-05")).is_none(), "no notice names it");
}

#[test]
fn adding_the_official_table_replaces_the_provisional_deadline() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays");
    let dir = tempfile::tempdir().unwrap();
    for year in [2025, 2026] {
        std::fs::copy(
            shipped.join(format!("{year}.toml")),
            dir.path().join(format!("{year}.toml")),
        )
        .unwrap();
    }
    let before = WorkCalendar::load_dir(dir.path())
        .unwrap()
        .deadline(d("2026-12-15"))
        .unwrap();
    assert_eq!((before.date, before.provisional), (d("2027-01-13"), true));
    // A notice that adds Mon 2027-01-04 to the 元旦 break moves the deadline
    // one working day on, and it is no longer provisional.
    std::fs::write(
        dir.path().join("2027.toml"),
        "year = 2027\nsource = \"test notice\"\n[[holiday]]\nname = \"元旦\"\n\
         days = [\"2027-01-01\", \"2027-01-02\", \"2027-01-03\", \"2027-01-04\"]\n",
    )
    .unwrap();
    let after = WorkCalendar::load_dir(dir.path())
        .unwrap()
        .deadline(d("2026-12-15"))
        .unwrap();
    assert_eq!((after.date, after.provisional), (d("2027-01-14"), false));
}

#[test]
fn provisional_deadlines_stay_within_a_week_of_the_official_ones() {
    // The documented bound: the provisional rule applied to 2025 and 2026,
    // against those years' notices, for every start date whose deadline
    // stays in the tables. Most dates agree (491 of 700); the make-up
    // Saturdays and bridge days move a few, from 6 days earlier to 7 later.
    let official = calendar();
    let provisional = WorkCalendar::from_tables([]).unwrap();
    let mut start = d("2025-01-01");
    let (mut worst, mut same, mut total) = (0i64, 0, 0);
    while start < d("2026-12-01") {
        let o = official.deadline(start).unwrap();
        let p = provisional.deadline(start).unwrap();
        assert!(!o.provisional && p.provisional);
        let gap = (p.date - o.date).num_days();
        worst = worst.max(gap.abs());
        same += usize::from(gap == 0);
        total += 1;
        start = start.succ_opt().unwrap();
    }
    assert!(worst <= 7, "worst gap {worst} days");
    assert!(same * 2 > total, "{same} of {total} agree");
}

#[test]
fn the_start_warning_comes_within_60_days_of_the_tables_end() {
    let cal = calendar();
    // 2026-11-01 + 60 days is 2026-12-31: not yet; a day later, yes.
    assert_eq!(cal.ending_soon(d("2026-11-01"), 60), None);
    let warning = cal.ending_soon(d("2026-11-02"), 60).unwrap();
    assert!(
        warning.contains("2026-12-31") && warning.contains("2027.toml"),
        "{warning}"
    );
    assert!(cal.ending_soon(d("2026-12-01"), 60).is_some());
    assert_eq!(cal.official_until(d("2025-06-01")), Some(d("2026-12-31")));
    // Today already past the tables.
    let warning = cal.ending_soon(d("2027-01-05"), 60).unwrap();
    assert!(
        warning.contains("does not cover today") && warning.contains("2027.toml"),
        "{warning}"
    );
    assert_eq!(cal.ending_soon(d("2025-03-01"), 60), None);
}

#[test]
fn counting_and_adding_agree_on_every_start_date() {
    // For every start date in 2025 whose deadline is still inside the table:
    // the deadline is a working day, and exactly 20 working days lie in
    // (start, deadline].
    let cal = calendar();
    // Through the provisional years too, up to the end of the tabulation.
    let mut start = d("2025-01-01");
    let mut checked = 0;
    while start < d("2035-12-01") {
        let deadline = cal.add_working_days(start, 20).unwrap();
        assert!(cal.is_working_day(deadline).unwrap(), "{start} → {deadline}");
        assert_eq!(
            cal.working_days_between(start, deadline).unwrap(),
            20,
            "{start} → {deadline}"
        );
        // The day before the deadline is short of 20 working days.
        assert_eq!(
            cal.working_days_between(start, deadline.pred_opt().unwrap()).unwrap(),
            19
        );
        start = start.succ_opt().unwrap();
        checked += 1;
    }
    assert!(checked > 3900);
}

// --- Refusals on load ---

const HEAD: &str = "year = 2026\nsource = \"test notice\"\n";

fn parse(body: &str) -> Result<(), CalendarError> {
    WorkCalendar::parse_year(&format!("{HEAD}{body}"), "2026.toml").map(|_| ())
}

fn refused(body: &str) -> String {
    let err = parse(body).expect_err("should be refused");
    let message = err.to_string();
    assert!(
        message.contains("2026.toml"),
        "the error should name the file: {message}"
    );
    message
}

const SPRING: &str = "[[holiday]]\nname = \"春节\"\ndays = [\"2026-02-16\", \"2026-02-17\"]\n";

#[test]
fn a_minimal_file_parses() {
    let table = WorkCalendar::parse_year(
        &format!("{HEAD}{SPRING}[[workday]]\nname = \"春节调休上班\"\ndate = \"2026-02-14\"\n"),
        "2026.toml",
    )
    .unwrap();
    assert_eq!(table.year, 2026);
    assert_eq!(table.days.len(), 3);
    assert_eq!(table.days[&d("2026-02-14")].kind, DayKind::Workday);
}

#[test]
fn refuses_a_date_outside_the_year() {
    let message = refused("[[holiday]]\nname = \"元旦\"\ndays = [\"2026-01-01\", \"2027-01-01\"]\n");
    assert!(message.contains("2027-01-01") && message.contains("元旦"), "{message}");
    assert!(message.contains("adjacent_year"), "{message}");
    assert!(matches!(
        parse("[[holiday]]\nname = \"元旦\"\ndays = [\"2027-01-01\"]\n"),
        Err(CalendarError::OutsideYear {
            adjacent_year: false,
            ..
        })
    ));
}

#[test]
fn adjacent_year_allows_the_neighbouring_year_only() {
    // As in the 2019 notice: 元旦 2018-12-30 .. 2019-01-01, 2018-12-29 worked.
    let text = "year = 2019\nsource = \"国办发明电〔2018〕15号\"\n\
        [[holiday]]\nname = \"元旦\"\nadjacent_year = true\ndays = [\"2018-12-30\", \"2018-12-31\", \"2019-01-01\"]\n\
        [[workday]]\nname = \"元旦调休上班\"\nadjacent_year = true\ndate = \"2018-12-29\"\n";
    let table = WorkCalendar::parse_year(text, "2019.toml").unwrap();
    assert_eq!(table.days.len(), 4);
    // Two years away is refused even with the flag.
    let far =
        "year = 2019\nsource = \"x\"\n[[holiday]]\nname = \"元旦\"\nadjacent_year = true\ndays = [\"2017-12-30\"]\n";
    assert!(matches!(
        WorkCalendar::parse_year(far, "2019.toml"),
        Err(CalendarError::OutsideYear {
            adjacent_year: true,
            ..
        })
    ));
    // Coverage is still by file: 2018 is not covered by 2019.toml alone.
    let cal = WorkCalendar::from_tables([table]).unwrap();
    assert!(matches!(
        cal.is_working_day(d("2018-12-29")),
        Err(CalendarError::OutOfRange { .. })
    ));
    assert!(!cal.is_working_day(d("2019-01-01")).unwrap());
}

#[test]
fn refuses_a_date_listed_twice() {
    let message = refused("[[holiday]]\nname = \"春节\"\ndays = [\"2026-02-16\", \"2026-02-16\"]\n");
    assert!(
        message.contains("2026-02-16") && message.contains("listed twice"),
        "{message}"
    );
    let across = format!("{SPRING}[[holiday]]\nname = \"又一个春节\"\ndays = [\"2026-02-17\"]\n");
    let message = refused(&across);
    assert!(
        message.contains("#1 \"春节\"") && message.contains("#2 \"又一个春节\""),
        "{message}"
    );
    let workdays = format!(
        "{SPRING}[[workday]]\nname = \"a\"\ndate = \"2026-02-14\"\n[[workday]]\nname = \"b\"\ndate = \"2026-02-14\"\n"
    );
    assert!(matches!(parse(&workdays), Err(CalendarError::Duplicate { .. })));
}

#[test]
fn refuses_a_make_up_day_on_a_weekday() {
    // 2026-02-13 is a Friday: already a working day, so listing it is a mistake.
    let message = refused(&format!(
        "{SPRING}[[workday]]\nname = \"春节调休上班\"\ndate = \"2026-02-13\"\n"
    ));
    assert!(message.contains("2026-02-13") && message.contains("Fri"), "{message}");
    assert!(message.contains("[[workday]] #1 \"春节调休上班\""), "{message}");
}

#[test]
fn refuses_a_holiday_that_is_also_a_make_up_day() {
    // Sunday 2026-02-15 is in the 春节 break; it cannot also be worked.
    let body = "[[holiday]]\nname = \"春节\"\ndays = [\"2026-02-15\"]\n\
        [[workday]]\nname = \"春节调休上班\"\ndate = \"2026-02-15\"\n";
    let message = refused(body);
    assert!(message.contains("both a holiday"), "{message}");
    assert!(matches!(parse(body), Err(CalendarError::HolidayAndWorkday { .. })));
}

#[test]
fn refuses_unknown_keys() {
    let top = refused(&format!("{SPRING}comment = \"oops\"\n"));
    assert!(top.contains("comment"), "{top}");
    let inner = refused("[[holiday]]\nname = \"春节\"\nday = [\"2026-02-16\"]\n");
    assert!(inner.contains("day"), "{inner}");
    let table = refused(&format!("{SPRING}[[workdays]]\nname = \"x\"\ndate = \"2026-02-14\"\n"));
    assert!(table.contains("workdays"), "{table}");
}

#[test]
fn refuses_bad_dates() {
    for bad in ["2026-02-30", "2026/02/16", "2026-2-16", "16 Feb 2026", ""] {
        let message = refused(&format!("[[holiday]]\nname = \"春节\"\ndays = [\"{bad}\"]\n"));
        assert!(
            message.contains("YYYY-MM-DD") && message.contains("春节"),
            "{bad}: {message}"
        );
    }
    // A TOML date value instead of a string is a type error, also refused.
    refused("[[holiday]]\nname = \"春节\"\ndays = [2026-02-16]\n");
}

#[test]
fn refuses_missing_or_empty_fields() {
    assert!(matches!(
        WorkCalendar::parse_year(&format!("year = 2026\nsource = \"  \"\n{SPRING}"), "2026.toml"),
        Err(CalendarError::Empty { .. })
    ));
    refused("[[holiday]]\nname = \"\"\ndays = [\"2026-02-16\"]\n");
    refused("[[holiday]]\nname = \"春节\"\ndays = []\n");
    // A year file with no holidays is a stub, not a calendar.
    refused("");
    // No source at all.
    assert!(matches!(
        WorkCalendar::parse_year(&format!("year = 2026\n{SPRING}"), "2026.toml"),
        Err(CalendarError::Syntax { .. })
    ));
}

#[test]
fn load_dir_refuses_a_year_that_does_not_match_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("2027.toml"), format!("{HEAD}{SPRING}")).unwrap();
    let err = WorkCalendar::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            CalendarError::YearMismatch {
                year: 2026,
                named: 2027,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("2027.toml"), "{err}");
}

#[test]
fn load_dir_refuses_misnamed_toml_files_and_empty_folders_but_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        WorkCalendar::load_dir(dir.path()),
        Err(CalendarError::NoYears { .. })
    ));
    std::fs::write(dir.path().join("README.md"), "notes").unwrap();
    assert!(matches!(
        WorkCalendar::load_dir(dir.path()),
        Err(CalendarError::NoYears { .. })
    ));
    std::fs::write(dir.path().join("2026.toml"), format!("{HEAD}{SPRING}")).unwrap();
    assert_eq!(WorkCalendar::load_dir(dir.path()).unwrap().covered_years(), vec![2026]);
    std::fs::write(dir.path().join("holidays-2027.toml"), "").unwrap();
    let err = WorkCalendar::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, CalendarError::BadFileName { .. }), "{err:?}");
    assert!(matches!(
        WorkCalendar::load_dir(&dir.path().join("missing")),
        Err(CalendarError::Read { .. })
    ));
}

#[test]
fn load_dir_names_the_file_with_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("2026.toml"), "year = 2026\nsource = \"x\n").unwrap();
    let err = WorkCalendar::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, CalendarError::Syntax { .. }), "{err:?}");
    assert!(err.to_string().contains("2026.toml"), "{err}");
}

#[test]
fn refuses_a_date_named_by_two_files() {
    // 2027.toml naming 2026-12-31 as an adjacent-year holiday that 2026.toml
    // also names: one of them is wrong, and the error names both.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2026.toml"),
        format!("{HEAD}[[holiday]]\nname = \"x\"\ndays = [\"2026-12-31\"]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2027.toml"),
        "year = 2027\nsource = \"y\"\n[[holiday]]\nname = \"元旦\"\nadjacent_year = true\ndays = [\"2026-12-31\", \"2027-01-01\"]\n",
    )
    .unwrap();
    let err = WorkCalendar::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, CalendarError::Duplicate { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("2026.toml") && message.contains("2027.toml"),
        "{message}"
    );
}

#[test]
fn from_tables_refuses_two_tables_for_one_year() {
    let a = WorkCalendar::parse_year(&format!("{HEAD}{SPRING}"), "a/2026.toml").unwrap();
    let b = WorkCalendar::parse_year(
        &format!("{HEAD}[[holiday]]\nname = \"x\"\ndays = [\"2026-05-01\"]\n"),
        "b/2026.toml",
    )
    .unwrap();
    assert!(matches!(
        WorkCalendar::from_tables([a, b]),
        Err(CalendarError::DuplicateYear { year: 2026, .. })
    ));
}
