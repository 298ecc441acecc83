//! The calendar state machine: every command and rejection, recurrence
//! (DST included), bookings, queries, snapshots and .ics. Runs natively and,
//! unchanged, in headless Chromium (`cargo xtask test`), which shows apply
//! and snapshots are the same on both targets.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use chrono::{NaiveDate, NaiveDateTime};
use node_wasm::calendar::ics::{self, ItemStatus};
use node_wasm::calendar::query::When;
use node_wasm::calendar::*;
use node_wasm::machine::{Machine, Proposal};

/// An .ics file with `n` simple events.
fn ics_events(n: usize) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n");
    for i in 0..n {
        text.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:bulk-{i}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Item {i}\r\n\
             DTSTART:20260301T{:02}0000Z\r\nDTEND:20260301T{:02}3000Z\r\nEND:VEVENT\r\n",
            i % 24,
            i % 24
        ));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn stamp_at(at: &str) -> Stamp {
    Stamp {
        author: "ana".into(),
        at_ms: t(at).and_utc().timestamp_millis(),
    }
}

fn stamp() -> Stamp {
    stamp_at("2026-01-01 00:00")
}

fn timed(id: &str, title: &str, start: &str, end: &str, tz: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        calendar: DEFAULT_CALENDAR.into(),
        details: Details::timed(title, t(start), t(end), tz),
        recurrence: None,
    }
}

fn booked(id: &str, start: &str, end: &str, room: &str) -> NewEvent {
    let mut e = timed(id, id, start, end, "Europe/Berlin");
    e.details.resource = Some(room.into());
    e
}

fn repeating(mut e: NewEvent, rule: &str) -> NewEvent {
    e.recurrence = Some(Recurrence::new(rule));
    e
}

fn create(store: &mut Store, e: NewEvent) -> Result<Outcome, Rejection> {
    store.apply(Command::CreateEvent {
        event: e,
        stamp: stamp(),
    })
}

fn update(store: &mut Store, id: &str, edit: Edit, details: Details) -> Result<Outcome, Rejection> {
    let version = store.get(id).unwrap().version;
    store.apply(Command::UpdateEvent {
        id: id.into(),
        version,
        edit,
        details,
        stamp: stamp(),
    })
}

fn delete(store: &mut Store, id: &str, scope: Scope) -> Result<Outcome, Rejection> {
    let version = store.get(id).unwrap().version;
    store.apply(Command::DeleteEvent {
        id: id.into(),
        version,
        scope,
        stamp: stamp(),
    })
}

/// Occurrence starts of everything, in UTC, within a range.
fn starts_utc(store: &Store, from: &str, to: &str) -> Vec<NaiveDateTime> {
    store
        .occurrences_between(t(from), t(to), chrono_tz::UTC)
        .iter()
        .map(|s| s.start_utc)
        .collect()
}

fn shown_times(store: &Store, from: &str, to: &str, tz: chrono_tz::Tz) -> Vec<String> {
    store
        .occurrences_between(t(from), t(to), tz)
        .iter()
        .map(|s| match s.when {
            When::Timed { start, .. } => start.format("%m-%d %H:%M").to_string(),
            When::AllDay { start, .. } => start.format("%m-%d").to_string(),
        })
        .collect()
}

// ---- calendars ------------------------------------------------------------

#[test]
fn a_new_room_has_a_default_calendar_and_calendars_can_be_managed() {
    let mut s = Store::default();
    assert_eq!(
        s.calendars().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [DEFAULT_CALENDAR]
    );
    let new_calendar = |id: &str, colour: &str| Command::CreateCalendar {
        id: id.into(),
        name: "Team".into(),
        colour: colour.into(),
    };
    assert_eq!(
        s.apply(new_calendar("team", "#AABBCC")),
        Ok(Outcome::CalendarCreated { id: "team".into() })
    );
    assert_eq!(s.calendar("team").unwrap().colour, "#aabbcc");
    assert_eq!(
        s.apply(new_calendar("team", "#aabbcc")),
        Err(Rejection::DuplicateCalendar("team".into()))
    );
    assert_eq!(
        s.apply(new_calendar("x", "red")),
        Err(Rejection::BadColour("red".into()))
    );
    let rename = |version| Command::UpdateCalendar {
        id: "team".into(),
        version,
        name: "Team A".into(),
        colour: "#112233".into(),
    };
    assert_eq!(
        s.apply(rename(1)),
        Ok(Outcome::CalendarUpdated {
            id: "team".into(),
            version: 2
        })
    );
    assert_eq!(s.apply(rename(1)), Err(Rejection::StaleVersion { current: 2 }));
    assert_eq!(s.calendar("team").unwrap().name, "Team A");
    let mut e = timed("e1", "Standup", "2026-12-04 09:00", "2026-12-04 09:15", "UTC");
    e.calendar = "team".into();
    create(&mut s, e).unwrap();
    let delete = |cascade| Command::DeleteCalendar {
        id: "team".into(),
        version: 2,
        cascade,
    };
    assert_eq!(
        s.apply(delete(false)),
        Err(Rejection::CalendarNotEmpty {
            id: "team".into(),
            events: 1
        })
    );
    assert_eq!(
        s.apply(delete(true)),
        Ok(Outcome::CalendarDeleted {
            id: "team".into(),
            events: 1
        })
    );
    assert!(s.get("e1").is_none() && s.calendar("team").is_none());
    let mut orphan = timed("e2", "Lost", "2026-12-04 09:00", "2026-12-04 09:15", "UTC");
    orphan.calendar = "team".into();
    assert_eq!(create(&mut s, orphan), Err(Rejection::UnknownCalendar("team".into())));
}

#[test]
fn calendars_are_limited() {
    let mut s = Store::default();
    for i in 1..MAX_CALENDARS {
        s.apply(Command::CreateCalendar {
            id: format!("c{i}"),
            name: "c".into(),
            colour: "#000000".into(),
        })
        .unwrap();
    }
    let one_more = Command::CreateCalendar {
        id: "last".into(),
        name: "c".into(),
        colour: "#000000".into(),
    };
    assert_eq!(s.apply(one_more), Err(Rejection::TooManyCalendars));
}

// ---- events: create, validation -------------------------------------------

#[test]
fn events_are_created_with_author_time_and_version_one() {
    let mut s = Store::default();
    let mut e = timed(
        "e1",
        "  Review  ",
        "2026-12-04 09:00",
        "2026-12-04 10:00",
        "Europe/Berlin",
    );
    e.details.description = "Quarterly numbers".into();
    e.details.location = "Room 1".into();
    assert_eq!(create(&mut s, e), Ok(Outcome::Created { id: "e1".into() }));
    let got = s.get("e1").unwrap();
    assert_eq!(got.title(), "Review");
    assert_eq!((got.author.as_str(), got.version), ("ana", 1));
    assert_eq!(got.modified_ms, stamp().at_ms);
    assert_eq!(
        create(
            &mut s,
            timed("e1", "Again", "2026-12-04 09:00", "2026-12-04 10:00", "UTC")
        ),
        Err(Rejection::DuplicateId("e1".into()))
    );
}

#[test]
fn invalid_events_are_refused_with_a_reason() {
    let mut s = Store::default();
    let ok = || timed("x", "Ok", "2026-12-04 09:00", "2026-12-04 10:00", "UTC");
    let with = |f: &dyn Fn(&mut NewEvent)| {
        let mut e = ok();
        f(&mut e);
        e
    };
    let cases: Vec<(NewEvent, Rejection)> = vec![
        (
            timed("x", "Oops", "2026-12-04 10:00", "2026-12-04 09:00", "UTC"),
            Rejection::EndBeforeStart,
        ),
        (with(&|e| e.details.title = "   ".into()), Rejection::EmptyTitle),
        (
            with(&|e| e.details.title = "x".repeat(MAX_TITLE_CHARS + 1)),
            Rejection::TooLong {
                field: "title".into(),
                max: MAX_TITLE_CHARS,
            },
        ),
        (
            with(&|e| e.details.description = "x".repeat(MAX_DESCRIPTION_CHARS + 1)),
            Rejection::TooLong {
                field: "description".into(),
                max: MAX_DESCRIPTION_CHARS,
            },
        ),
        (
            with(&|e| e.details.location = "x".repeat(MAX_LOCATION_CHARS + 1)),
            Rejection::TooLong {
                field: "location".into(),
                max: MAX_LOCATION_CHARS,
            },
        ),
        (
            with(&|e| e.details.tz = "Mars/Olympus".into()),
            Rejection::UnknownTimeZone("Mars/Olympus".into()),
        ),
        (with(&|e| e.id = String::new()), Rejection::BadId),
        (with(&|e| e.id = "x".repeat(MAX_ID_CHARS + 1)), Rejection::BadId),
        (
            with(&|e| e.details.resource = Some(" ".into())),
            Rejection::Empty {
                field: "resource".into(),
            },
        ),
        (
            with(&|e| {
                e.details.timing = Timing::AllDay {
                    start: d("2026-12-04"),
                    end: d("2026-12-04"),
                }
            }),
            Rejection::EndBeforeStart,
        ),
        (
            with(&|e| {
                e.details.timing = Timing::AllDay {
                    start: d("2026-01-01"),
                    end: d("2027-06-01"),
                }
            }),
            Rejection::TooLongEvent,
        ),
        (
            timed("x", "Ancient", "1800-01-01 09:00", "1800-01-01 10:00", "UTC"),
            Rejection::OutOfRange,
        ),
    ];
    for (event, why) in cases {
        assert_eq!(create(&mut s, event.clone()), Err(why.clone()), "{event:?}");
        assert!(!why.to_string().is_empty());
    }
    assert!(s.events().is_empty(), "nothing refused was stored");
}

#[test]
fn invalid_rules_are_refused() {
    let mut s = Store::default();
    let e = || timed("r", "Rule", "2026-12-04 09:00", "2026-12-04 10:00", "UTC");
    for rule in [
        "FREQ=SECONDLY",
        "FREQ=HOURLY;BYMINUTE=0",
        "FREQ=DAILY;BYHOUR=9,10",
        "FREQ=FORTNIGHTLY",
        "COUNT=3",
        "FREQ=WEEKLY;BYDAY=XX",
        "DTSTART:20261204T090000Z\nRRULE:FREQ=DAILY",
        "FREQ=DAILY;UNTIL=20200101T000000Z",
        "FREQ=DAILY;INTERVAL=0",
        // Never matches: refused rather than searched for ever.
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31",
        "nonsense",
    ] {
        let got = create(&mut s, repeating(e(), rule));
        assert!(matches!(got, Err(Rejection::InvalidRule(_))), "{rule}: {got:?}");
    }
    let too_long = format!("FREQ=DAILY;{}", "BYMONTH=1;".repeat(40));
    assert!(matches!(
        create(&mut s, repeating(e(), &too_long)),
        Err(Rejection::TooLong { .. })
    ));
    // A RRULE: prefix and lower case are fine, and stored normalized.
    create(&mut s, repeating(e(), "rrule:freq=daily;count=2")).unwrap();
    assert_eq!(
        s.get("r").unwrap().recurrence.as_ref().unwrap().rule,
        "FREQ=DAILY;COUNT=2"
    );
}

#[test]
fn a_client_clock_far_off_is_not_trusted() {
    let mut s = Store::default();
    for at_ms in [i64::MAX, i64::MIN, 8_000_000_000_000_000, -8_000_000_000_000_000] {
        let e = repeating(
            booked(&format!("x{at_ms}"), "2026-06-01 09:00", "2026-06-01 10:00", "Hall"),
            "FREQ=DAILY",
        );
        let stamp = Stamp {
            author: "skewed".into(),
            at_ms,
        };
        let got = s.apply(Command::CreateEvent { event: e, stamp });
        assert!(matches!(got, Ok(_) | Err(Rejection::Conflict { .. })), "{got:?}");
    }
    assert_eq!(s.events().len(), 1, "the later ones collide with the first");
}

#[test]
fn events_per_calendar_are_limited() {
    let mut s = Store::default();
    for i in 0..MAX_EVENTS_PER_CALENDAR {
        create(
            &mut s,
            timed(&format!("e{i}"), "x", "2026-12-04 09:00", "2026-12-04 10:00", "UTC"),
        )
        .unwrap();
    }
    assert_eq!(
        create(
            &mut s,
            timed("last", "x", "2026-12-04 09:00", "2026-12-04 10:00", "UTC")
        ),
        Err(Rejection::TooManyEvents)
    );
}

// ---- updates and deletes, with versions -------------------------------------

#[test]
fn a_stale_update_or_delete_is_refused_with_the_current_version() {
    let mut s = Store::default();
    create(
        &mut s,
        timed("e", "Plan", "2026-12-04 09:00", "2026-12-04 10:00", "UTC"),
    )
    .unwrap();
    let details = Details::timed("Plan v2", t("2026-12-04 09:00"), t("2026-12-04 11:00"), "UTC");
    let edit = |version| Command::UpdateEvent {
        id: "e".into(),
        version,
        edit: Edit::All { rule: RuleChange::Keep },
        details: details.clone(),
        stamp: stamp_at("2026-02-01 00:00"),
    };
    assert_eq!(
        s.apply(edit(1)),
        Ok(Outcome::Updated {
            id: "e".into(),
            version: 2
        })
    );
    // A second user, who also saw version 1, is told rather than overwriting.
    assert_eq!(s.apply(edit(1)), Err(Rejection::StaleVersion { current: 2 }));
    let del = |version| Command::DeleteEvent {
        id: "e".into(),
        version,
        scope: Scope::All,
        stamp: stamp(),
    };
    assert_eq!(s.apply(del(1)), Err(Rejection::StaleVersion { current: 2 }));
    assert_eq!(s.get("e").unwrap().title(), "Plan v2");
    assert_eq!(s.get("e").unwrap().modified_ms, stamp_at("2026-02-01 00:00").at_ms);
    assert_eq!(s.apply(del(2)), Ok(Outcome::Deleted { id: "e".into() }));
    assert_eq!(s.apply(del(3)), Err(Rejection::UnknownEvent("e".into())));
}

#[test]
fn occurrence_edits_on_a_single_event_are_refused() {
    let mut s = Store::default();
    create(
        &mut s,
        timed("e", "Once", "2026-12-04 09:00", "2026-12-04 10:00", "UTC"),
    )
    .unwrap();
    let details = s.get("e").unwrap().details.clone();
    let edit = Edit::This {
        occurrence: t("2026-12-04 09:00"),
    };
    assert_eq!(
        update(&mut s, "e", edit, details),
        Err(Rejection::NotRecurring("e".into()))
    );
    assert_eq!(
        delete(&mut s, "e", Scope::This(t("2026-12-04 09:00"))),
        Err(Rejection::NotRecurring("e".into()))
    );
}

// ---- recurrence -------------------------------------------------------------

#[test]
fn weekly_new_york_meeting_across_both_dst_changes_seen_from_berlin() {
    // US clocks go forward on 8 March 2026, EU clocks on 29 March: for three
    // weeks the meeting is an hour earlier in Berlin.
    let mut s = Store::default();
    let e = timed("w", "Sync", "2026-03-02 09:00", "2026-03-02 10:00", "America/New_York");
    create(&mut s, repeating(e, "FREQ=WEEKLY;COUNT=6")).unwrap();
    assert_eq!(
        starts_utc(&s, "2026-03-01 00:00", "2026-04-30 00:00"),
        [
            t("2026-03-02 14:00"),
            t("2026-03-09 13:00"),
            t("2026-03-16 13:00"),
            t("2026-03-23 13:00"),
            t("2026-03-30 13:00"),
            t("2026-04-06 13:00"),
        ]
    );
    assert_eq!(
        shown_times(&s, "2026-03-01 00:00", "2026-04-30 00:00", chrono_tz::Europe::Berlin),
        [
            "03-02 15:00",
            "03-09 14:00",
            "03-16 14:00",
            "03-23 14:00",
            "03-30 15:00",
            "04-06 15:00"
        ]
    );
    assert_eq!(
        shown_times(&s, "2026-03-01 00:00", "2026-04-30 00:00", chrono_tz::America::New_York),
        [
            "03-02 09:00",
            "03-09 09:00",
            "03-16 09:00",
            "03-23 09:00",
            "03-30 09:00",
            "04-06 09:00"
        ]
    );
}

#[test]
fn a_daily_time_in_the_spring_gap_moves_forward_and_the_autumn_fold_takes_the_first() {
    let mut s = Store::default();
    // Berlin skips 02:00-03:00 on 29 March 2026: 02:30 is read as 03:30 CEST.
    let gap = timed("gap", "Backup", "2026-03-28 02:30", "2026-03-28 02:45", "Europe/Berlin");
    create(&mut s, repeating(gap, "FREQ=DAILY;COUNT=3")).unwrap();
    assert_eq!(
        starts_utc(&s, "2026-03-27 00:00", "2026-03-31 00:00"),
        [t("2026-03-28 01:30"), t("2026-03-29 01:30"), t("2026-03-30 00:30")]
    );
    // New York repeats 01:00-02:00 on 1 November 2026: 01:30 is the first (EDT).
    let fold = timed(
        "fold",
        "Night job",
        "2026-10-31 01:30",
        "2026-10-31 01:45",
        "America/New_York",
    );
    create(&mut s, repeating(fold, "FREQ=DAILY;COUNT=3")).unwrap();
    assert_eq!(
        starts_utc(&s, "2026-10-30 00:00", "2026-11-03 00:00"),
        [t("2026-10-31 05:30"), t("2026-11-01 05:30"), t("2026-11-02 06:30")]
    );
}

#[test]
fn southern_hemisphere_rules_and_monthly_byday() {
    let mut s = Store::default();
    // Sydney leaves daylight time on 5 April 2026 and enters it on 4 October.
    // Second Tuesday of each month at 10:00.
    let e = timed("m", "Board", "2026-03-10 10:00", "2026-03-10 11:00", "Australia/Sydney");
    create(&mut s, repeating(e, "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20261231")).unwrap();
    let got = starts_utc(&s, "2026-01-01 00:00", "2027-01-01 00:00");
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(got[0], t("2026-03-09 23:00")); // AEDT, UTC+11
    assert_eq!(got[1], t("2026-04-14 00:00")); // AEST, UTC+10
    assert_eq!(got[7], t("2026-10-12 23:00")); // AEDT again
    assert_eq!(got[9], t("2026-12-07 23:00"));
}

#[test]
fn all_day_events_keep_their_dates_in_every_zone() {
    let mut s = Store::default();
    let mut e = timed("h", "Holiday", "2026-12-24 00:00", "2026-12-24 00:00", "Europe/Berlin");
    e.details.timing = Timing::AllDay {
        start: d("2026-12-24"),
        end: d("2026-12-27"),
    };
    create(&mut s, repeating(e, "FREQ=YEARLY;COUNT=2")).unwrap();
    for tz in [chrono_tz::Pacific::Auckland, chrono_tz::America::Los_Angeles] {
        let shown = s.occurrences_between(t("2026-12-01 00:00"), t("2028-01-01 00:00"), tz);
        let dates: Vec<_> = shown.iter().map(|o| o.when).collect();
        assert_eq!(
            dates,
            [
                When::AllDay {
                    start: d("2026-12-24"),
                    end: d("2026-12-27")
                },
                When::AllDay {
                    start: d("2027-12-24"),
                    end: d("2027-12-27")
                }
            ]
        );
    }
    // Viewing only the 26th still shows the multi-day event.
    assert_eq!(
        shown_times(&s, "2026-12-26 00:00", "2026-12-27 00:00", chrono_tz::UTC),
        ["12-24"]
    );
}

#[test]
fn editing_one_occurrence_moves_only_that_one() {
    let mut s = Store::default();
    let e = timed("w", "Sync", "2026-03-02 09:00", "2026-03-02 10:00", "UTC");
    create(&mut s, repeating(e, "FREQ=WEEKLY;COUNT=3")).unwrap();
    let mut moved = Details::timed("Sync (moved)", t("2026-03-10 15:00"), t("2026-03-10 16:00"), "UTC");
    moved.location = "Café".into();
    let edit = Edit::This {
        occurrence: t("2026-03-09 09:00"),
    };
    update(&mut s, "w", edit, moved).unwrap();
    let shown = s.occurrences_between(t("2026-03-01 00:00"), t("2026-04-01 00:00"), chrono_tz::UTC);
    let got: Vec<_> = shown
        .iter()
        .map(|o| (o.start_utc, o.title.as_str(), o.changed))
        .collect();
    assert_eq!(
        got,
        [
            (t("2026-03-02 09:00"), "Sync", false),
            (t("2026-03-10 15:00"), "Sync (moved)", true),
            (t("2026-03-16 09:00"), "Sync", false),
        ]
    );
    assert_eq!(shown[1].occurrence, Some(t("2026-03-09 09:00")));
    // Not an occurrence; or changing what only the series may change.
    let details = s.get("w").unwrap().details.clone();
    let wrong = Edit::This {
        occurrence: t("2026-03-09 10:00"),
    };
    assert_eq!(
        update(&mut s, "w", wrong, details.clone()),
        Err(Rejection::NoSuchOccurrence(t("2026-03-09 10:00")))
    );
    let mut other_zone = details;
    other_zone.tz = "Europe/Paris".into();
    let edit = Edit::This {
        occurrence: t("2026-03-16 09:00"),
    };
    assert_eq!(
        update(&mut s, "w", edit, other_zone),
        Err(Rejection::SeriesField("time zone".into()))
    );
}

#[test]
fn deleting_one_occurrence_and_this_and_following() {
    let mut s = Store::default();
    let e = timed("d", "Daily", "2026-05-01 08:00", "2026-05-01 08:30", "Europe/Berlin");
    create(&mut s, repeating(e, "FREQ=DAILY;COUNT=10")).unwrap();
    delete(&mut s, "d", Scope::This(t("2026-05-03 08:00"))).unwrap();
    assert_eq!(
        s.occurrences_between(t("2026-04-30 00:00"), t("2026-06-01 00:00"), chrono_tz::UTC)
            .len(),
        9
    );
    assert_eq!(
        delete(&mut s, "d", Scope::ThisAndFollowing(t("2026-05-06 08:00"))),
        Ok(Outcome::Updated {
            id: "d".into(),
            version: 3
        })
    );
    let left = shown_times(&s, "2026-04-30 00:00", "2026-06-01 00:00", chrono_tz::Europe::Berlin);
    assert_eq!(left, ["05-01 08:00", "05-02 08:00", "05-04 08:00", "05-05 08:00"]);
    // From the first occurrence on is the whole series.
    assert_eq!(
        delete(&mut s, "d", Scope::ThisAndFollowing(t("2026-05-01 08:00"))),
        Ok(Outcome::Deleted { id: "d".into() })
    );
    assert!(s.get("d").is_none());
}

#[test]
fn this_and_following_splits_the_series_and_keeps_the_count() {
    let mut s = Store::default();
    let e = timed("s", "Class", "2026-09-07 18:00", "2026-09-07 19:00", "Europe/London");
    create(&mut s, repeating(e, "FREQ=WEEKLY;COUNT=6")).unwrap();
    delete(&mut s, "s", Scope::This(t("2026-09-28 18:00"))).unwrap();
    // From the fourth class on: an hour later, in another room.
    let mut later = Details::timed("Class", t("2026-09-28 19:00"), t("2026-09-28 20:00"), "Europe/London");
    later.location = "Hall B".into();
    let edit = Edit::ThisAndFollowing {
        occurrence: t("2026-09-28 18:00"),
        new_id: "s2".into(),
        rule: RuleChange::Keep,
    };
    assert_eq!(
        update(&mut s, "s", edit, later),
        Ok(Outcome::Split {
            id: "s".into(),
            new_id: "s2".into()
        })
    );
    let shown = s.occurrences_between(t("2026-09-01 00:00"), t("2026-12-01 00:00"), chrono_tz::Europe::London);
    let got: Vec<_> = shown
        .iter()
        .map(|o| match o.when {
            When::Timed { start, .. } => format!("{} {} {}", o.event, start.format("%m-%d %H:%M"), o.location),
            When::AllDay { .. } => unreachable!(),
        })
        .collect();
    // The cancelled 28 Sept occurrence was the new series' first: its
    // exception moved with it, since the time changed it names nothing and
    // is dropped; the new series has the 3 occurrences that were left.
    assert_eq!(
        got,
        [
            "s 09-07 18:00 ",
            "s 09-14 18:00 ",
            "s 09-21 18:00 ",
            "s2 09-28 19:00 Hall B",
            "s2 10-05 19:00 Hall B",
            "s2 10-12 19:00 Hall B",
        ]
    );
    assert_eq!(
        s.get("s2").unwrap().recurrence.as_ref().unwrap().rule,
        "FREQ=WEEKLY;COUNT=3"
    );
}

#[test]
fn changing_the_rule_of_all_drops_exceptions_that_no_longer_exist() {
    let mut s = Store::default();
    let e = timed("r", "Gym", "2026-06-01 07:00", "2026-06-01 08:00", "UTC");
    create(&mut s, repeating(e, "FREQ=DAILY;COUNT=5")).unwrap();
    delete(&mut s, "r", Scope::This(t("2026-06-02 07:00"))).unwrap();
    delete(&mut s, "r", Scope::This(t("2026-06-03 07:00"))).unwrap();
    let details = s.get("r").unwrap().details.clone();
    let edit = Edit::All {
        rule: RuleChange::Set("FREQ=DAILY;INTERVAL=2;COUNT=3".into()),
    };
    update(&mut s, "r", edit, details.clone()).unwrap();
    let r = s.get("r").unwrap().recurrence.clone().unwrap();
    assert_eq!(r.exdates.into_iter().collect::<Vec<_>>(), [t("2026-06-03 07:00")]);
    assert_eq!(
        starts_utc(&s, "2026-06-01 00:00", "2026-07-01 00:00"),
        [t("2026-06-01 07:00"), t("2026-06-05 07:00")]
    );
    update(
        &mut s,
        "r",
        Edit::All {
            rule: RuleChange::Clear,
        },
        details,
    )
    .unwrap();
    assert!(s.get("r").unwrap().recurrence.is_none());
    assert_eq!(
        starts_utc(&s, "2026-06-01 00:00", "2026-07-01 00:00"),
        [t("2026-06-01 07:00")]
    );
}

#[test]
fn exceptions_must_name_occurrences_and_are_limited() {
    let mut s = Store::default();
    let mut e = repeating(
        timed("x", "Daily", "2026-01-01 09:00", "2026-01-01 10:00", "UTC"),
        "FREQ=DAILY",
    );
    e.recurrence.as_mut().unwrap().exdates.insert(t("2026-01-02 09:30"));
    assert_eq!(
        create(&mut s, e.clone()),
        Err(Rejection::NoSuchOccurrence(t("2026-01-02 09:30")))
    );
    let r = e.recurrence.as_mut().unwrap();
    r.exdates = (0..=MAX_EXCEPTIONS as i64)
        .map(|i| t("2026-01-01 09:00") + chrono::Duration::days(i))
        .collect();
    assert_eq!(create(&mut s, e), Err(Rejection::TooManyExceptions));
}

// ---- bookings ----------------------------------------------------------------

#[test]
fn a_room_cannot_be_double_booked_and_the_rejection_names_the_holder() {
    let mut s = Store::default();
    create(&mut s, booked("a", "2026-12-04 09:00", "2026-12-04 10:00", "Room 1")).unwrap();
    let clash = create(&mut s, booked("b", "2026-12-04 09:30", "2026-12-04 10:30", "room 1"));
    assert_eq!(
        clash,
        Err(Rejection::Conflict {
            resource: "room 1".into(),
            event: "a".into(),
            title: "a".into(),
            start: t("2026-12-04 08:00"),
        })
    );
    assert!(clash.unwrap_err().to_string().contains("already booked"));
    // Back to back is fine, as is another room or no room.
    create(&mut s, booked("c", "2026-12-04 10:00", "2026-12-04 11:00", "Room 1")).unwrap();
    create(&mut s, booked("d", "2026-12-04 09:30", "2026-12-04 10:30", "Room 2")).unwrap();
    create(
        &mut s,
        timed("e", "e", "2026-12-04 09:30", "2026-12-04 10:30", "Europe/Berlin"),
    )
    .unwrap();
    // The same instant written in another zone collides too.
    let mut elsewhere = timed("f", "f", "2026-12-04 03:15", "2026-12-04 03:45", "America/New_York");
    elsewhere.details.resource = Some("Room 1".into());
    assert!(matches!(create(&mut s, elsewhere), Err(Rejection::Conflict { event, .. }) if event == "a"));
    // Moving an event into a booked slot is refused too.
    let mut into = s.get("c").unwrap().details.clone();
    into.timing = Timing::Zoned {
        start: t("2026-12-04 09:45"),
        end: t("2026-12-04 10:15"),
    };
    assert!(matches!(
        update(&mut s, "c", Edit::All { rule: RuleChange::Keep }, into),
        Err(Rejection::Conflict { .. })
    ));
}

#[test]
fn repeating_bookings_collide_within_the_horizon_only() {
    let mut s = Store::default();
    // A single booking far ahead, on a Monday two and a half years out.
    create(&mut s, booked("far", "2028-06-05 10:30", "2028-06-05 11:30", "Lab")).unwrap();
    // Weekly on Mondays, forever, created on 1 January 2026: its occurrences
    // are checked for two years, so the far one is not seen.
    let weekly = repeating(
        booked("weekly", "2026-01-05 10:00", "2026-01-05 11:00", "Lab"),
        "FREQ=WEEKLY",
    );
    assert_eq!(create(&mut s, weekly), Ok(Outcome::Created { id: "weekly".into() }));
    // A Monday 18 months on collides with the series...
    assert!(matches!(
        create(&mut s, booked("x", "2027-07-05 10:30", "2027-07-05 11:30", "Lab")),
        Err(Rejection::Conflict { event, .. }) if event == "weekly"
    ));
    // ... and a single booking is checked against every occurrence at its
    // time, however far: editing the far one now sees the series.
    let mut later = s.get("far").unwrap().details.clone();
    later.title = "far, renamed".into();
    assert!(matches!(
        update(&mut s, "far", Edit::All { rule: RuleChange::Keep }, later),
        Err(Rejection::Conflict { event, .. }) if event == "weekly"
    ));
    // A daily series that would meet the weekly one on its first Monday.
    let daily = || {
        repeating(
            booked("daily", "2026-02-03 10:30", "2026-02-03 10:45", "Lab"),
            "FREQ=DAILY;COUNT=7",
        )
    };
    assert!(
        matches!(create(&mut s, daily()), Err(Rejection::Conflict { start, .. }) if start == t("2026-02-09 09:00"))
    );
    // Skipping that Monday makes it fit.
    let mut skipping = daily();
    skipping
        .recurrence
        .as_mut()
        .unwrap()
        .exdates
        .insert(t("2026-02-09 10:30"));
    create(&mut s, skipping).unwrap();
}

#[test]
fn moving_one_occurrence_of_a_booking_is_checked() {
    let mut s = Store::default();
    create(&mut s, booked("one", "2026-03-04 14:00", "2026-03-04 15:00", "Van")).unwrap();
    create(
        &mut s,
        repeating(
            booked("rep", "2026-03-02 14:00", "2026-03-02 15:00", "Van"),
            "FREQ=DAILY;COUNT=2",
        ),
    )
    .unwrap();
    let mut moved = s.get("rep").unwrap().details.clone();
    moved.timing = Timing::Zoned {
        start: t("2026-03-04 14:30"),
        end: t("2026-03-04 15:30"),
    };
    let edit = Edit::This {
        occurrence: t("2026-03-03 14:00"),
    };
    assert!(matches!(update(&mut s, "rep", edit, moved), Err(Rejection::Conflict { event, .. }) if event == "one"));
}

#[test]
fn free_busy_merges_and_search_finds_words() {
    let mut s = Store::default();
    create(&mut s, booked("a", "2026-12-04 09:00", "2026-12-04 10:00", "Room 1")).unwrap();
    create(&mut s, booked("b", "2026-12-04 10:00", "2026-12-04 11:00", "Room 1")).unwrap();
    create(&mut s, booked("c", "2026-12-04 13:00", "2026-12-04 14:00", "Room 1")).unwrap();
    let busy = s
        .free_busy("room 1", t("2026-12-04 00:00"), t("2026-12-05 00:00"))
        .unwrap();
    assert_eq!(
        busy,
        [
            (t("2026-12-04 08:00"), t("2026-12-04 10:00")),
            (t("2026-12-04 12:00"), t("2026-12-04 13:00"))
        ]
    );
    // A daily booking over thirty years is too many occurrences to list:
    // an error, not a shortened answer.
    create(
        &mut s,
        repeating(
            booked("daily", "2027-01-01 07:00", "2027-01-01 07:30", "Room 1"),
            "FREQ=DAILY",
        ),
    )
    .unwrap();
    assert_eq!(
        s.free_busy("Room 1", t("2027-01-01 00:00"), t("2057-01-01 00:00")),
        Err(Rejection::TooManyOccurrences)
    );
    let mut e = timed("p", "Planning", "2026-12-07 09:00", "2026-12-07 10:00", "UTC");
    e.details.description = "Budget for Q1".into();
    e.details.location = "Zürich office".into();
    create(&mut s, e).unwrap();
    let ids = |q: &str| s.search(q).iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids("budget ZÜRICH"), ["p"]);
    assert_eq!(ids("planning q1"), ["p"]);
    assert!(ids("budget berlin").is_empty());
    assert!(ids("  ").is_empty());
}

// ---- determinism, snapshots, sessions -----------------------------------------

fn scripted_machine() -> Machine {
    let mut m = Machine::default();
    let mut index = 0;
    let mut run = |m: &mut Machine, command: Command| {
        index += 1;
        m.apply(
            index,
            &Proposal {
                client: 7,
                seq: index,
                command,
            }
            .encode(),
        )
    };
    run(
        &mut m,
        Command::CreateCalendar {
            id: "team".into(),
            name: "Team".into(),
            colour: "#336699".into(),
        },
    );
    let mut e = booked("w", "2026-03-02 09:00", "2026-03-02 10:00", "Room 1");
    e.calendar = "team".into();
    e.recurrence = Some(Recurrence::new("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20"));
    run(
        &mut m,
        Command::CreateEvent {
            event: e,
            stamp: stamp(),
        },
    );
    let mut h = timed("h", "Holiday", "2026-12-24 00:00", "2026-12-24 00:00", "Europe/Berlin");
    h.details.timing = Timing::AllDay {
        start: d("2026-12-24"),
        end: d("2026-12-26"),
    };
    run(
        &mut m,
        Command::CreateEvent {
            event: h,
            stamp: stamp(),
        },
    );
    run(
        &mut m,
        Command::DeleteEvent {
            id: "w".into(),
            version: 1,
            scope: Scope::This(t("2026-03-04 09:00")),
            stamp: stamp(),
        },
    );
    m
}

#[test]
fn a_snapshot_of_this_format_still_loads_byte_for_byte() {
    // The fixture was written by this format (SNAPSHOT_FORMAT 2). Any change
    // that makes it unreadable needs a new format number and a migration.
    // Regenerate deliberately with RAFTCAL_BLESS=1 (native only).
    let m = scripted_machine();
    let bytes = m.snapshot();
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("RAFTCAL_BLESS").is_some() {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/snapshot-v2.bin"),
            &bytes,
        )
        .unwrap();
    }
    let fixture: &[u8] = include_bytes!("fixtures/snapshot-v2.bin");
    assert_eq!(Machine::restore(fixture).unwrap(), m);
    assert_eq!(bytes, fixture, "the same commands give the same bytes on every target");
}

#[test]
fn import_plans_become_batches_that_apply_with_a_result_each() {
    let text = ics_events(120);
    let plan = ics::parse(&text, DEFAULT_CALENDAR).unwrap();
    assert_eq!(plan.events.len(), 120);
    let batches = ics::batches(plan.events, DEFAULT_CALENDAR, &stamp());
    assert_eq!(batches.len(), 3, "{} per batch", MAX_IMPORT_BATCH);
    let mut s = Store::default();
    let mut created = 0;
    for b in batches {
        match s.apply(b).unwrap() {
            Outcome::Imported { results } => created += results.iter().filter(|r| r.is_ok()).count(),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 120);
    // A hand-made import command larger than a batch is refused whole.
    let too_many = ics::parse(&ics_events(MAX_IMPORT_BATCH + 1), DEFAULT_CALENDAR)
        .unwrap()
        .events;
    let oversized = Command::Import {
        calendar: DEFAULT_CALENDAR.into(),
        events: too_many,
        stamp: stamp(),
    };
    assert_eq!(s.apply(oversized), Err(Rejection::BatchTooLarge));
    let unknown = Command::Import {
        calendar: "nope".into(),
        events: vec![],
        stamp: stamp(),
    };
    assert_eq!(s.apply(unknown), Err(Rejection::UnknownCalendar("nope".into())));
    // Importing the same file again: every item is answered, none created twice.
    let again = ics::batches(
        ics::parse(&text, DEFAULT_CALENDAR).unwrap().events,
        DEFAULT_CALENDAR,
        &stamp(),
    );
    match s.apply(again[0].clone()).unwrap() {
        Outcome::Imported { results } => {
            assert!(results.iter().all(|r| matches!(r, Err(Rejection::DuplicateId(_)))))
        }
        other => panic!("{other:?}"),
    }
}

// ---- .ics -----------------------------------------------------------------------

fn import_file(s: &mut Store, text: &str) -> ics::ImportPlan {
    let plan = ics::parse(text, DEFAULT_CALENDAR).unwrap();
    for b in ics::batches(plan.events.clone(), DEFAULT_CALENDAR, &stamp()) {
        let Outcome::Imported { results } = s.apply(b).unwrap() else {
            panic!("not an import outcome")
        };
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    plan
}

#[test]
fn ics_all_day_events() {
    let mut s = Store::default();
    let plan = import_file(&mut s, include_str!("fixtures/all-day.ics"));
    assert!(
        plan.report
            .iter()
            .all(|r| matches!(r.status, ItemStatus::Imported { .. })),
        "{:?}",
        plan.report
    );
    let shown = shown_times(&s, "2026-12-01 00:00", "2027-01-10 00:00", chrono_tz::Asia::Tokyo);
    assert_eq!(shown, ["12-24", "12-31", "01-01"]);
    let trip = s.get("trip-2026@example.com").unwrap();
    assert_eq!(
        trip.details.timing,
        Timing::AllDay {
            start: d("2026-12-24"),
            end: d("2026-12-28")
        }
    );
    assert_eq!(
        trip.details.description,
        "Flights: LH 123, back on the 27th;\nbring gifts"
    );
}

#[test]
fn ics_recurring_with_exceptions() {
    let mut s = Store::default();
    let plan = import_file(&mut s, include_str!("fixtures/recurring-exceptions.ics"));
    assert_eq!(plan.events.len(), 1, "{:?}", plan.report);
    let shown = s.occurrences_between(t("2026-01-01 00:00"), t("2026-03-01 00:00"), chrono_tz::Europe::Berlin);
    let got: Vec<_> = shown
        .iter()
        .map(|o| match o.when {
            When::Timed { start, .. } => format!("{} {}", start.format("%m-%d %H:%M"), o.title),
            When::AllDay { .. } => unreachable!(),
        })
        .collect();
    // Weekly Tuesdays at 10:00 Berlin, 6 times; 20 Jan cancelled by EXDATE,
    // 3 Feb cancelled by a STATUS:CANCELLED instance, 27 Jan moved to 14:00.
    assert_eq!(
        got,
        [
            "01-06 10:00 Standup",
            "01-13 10:00 Standup",
            "01-27 14:00 Standup (late)",
            "02-10 10:00 Standup"
        ]
    );
}

#[test]
fn ics_multiple_zones_are_resolved() {
    let mut s = Store::default();
    let plan = import_file(&mut s, include_str!("fixtures/multi-zone.ics"));
    let zones: Vec<_> = plan
        .events
        .iter()
        .map(|e| (e.id.as_str(), e.details.tz.as_str()))
        .collect();
    assert_eq!(
        zones,
        [
            ("ny", "America/New_York"),
            ("berlin-mozilla", "Europe/Berlin"),
            ("outlook", "America/Los_Angeles"),
            ("utc", "UTC"),
            ("lic", "Asia/Kolkata"),
        ]
    );
    assert_eq!(
        starts_utc(&s, "2026-06-01 00:00", "2026-06-02 00:00"),
        [
            t("2026-06-01 04:30"), // 10:00 Kolkata
            t("2026-06-01 07:00"), // 09:00 Berlin (CEST)
            t("2026-06-01 12:00"), // UTC
            t("2026-06-01 13:00"), // 09:00 New York (EDT)
            t("2026-06-01 16:00"), // 09:00 Los Angeles (PDT)
        ]
    );
    // DURATION instead of DTEND.
    let ny = s.get("ny").unwrap();
    assert_eq!(
        ny.details.timing,
        Timing::Zoned {
            start: t("2026-06-01 09:00"),
            end: t("2026-06-01 10:30")
        }
    );
}

#[test]
fn ics_a_zone_known_only_by_its_vtimezone_is_matched_by_offsets() {
    // Outlook writes custom zones like this: no IANA name anywhere.
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\n\
        BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n\
        RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\n\
        TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n\
        END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:o\r\nSUMMARY:Outlook\r\n\
        DTSTART;TZID=Customized Time Zone:20260706T090000\r\nDTEND;TZID=Customized Time Zone:20260706T100000\r\n\
        END:VEVENT\r\nBEGIN:VEVENT\r\nUID:n\r\nSUMMARY:Nowhere\r\n\
        DTSTART;TZID=No Such Zone:20260706T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let plan = ics::parse(text, DEFAULT_CALENDAR).unwrap();
    assert_eq!(plan.events.len(), 1);
    assert_eq!(plan.events[0].details.tz, "America/New_York");
    let ItemStatus::Imported { notes, .. } = &plan.report[0].status else {
        panic!("{:?}", plan.report)
    };
    assert_eq!(
        notes,
        &["time zone \"Customized Time Zone\" was read as America/New_York (same offsets)"]
    );
    assert_eq!(
        plan.report[1].status,
        ItemStatus::Skipped("unknown time zone \"No Such Zone\"".into())
    );
}

#[test]
fn ics_malformed_items_are_skipped_and_reported_never_silently() {
    let mut s = Store::default();
    let plan = import_file(&mut s, include_str!("fixtures/malformed.ics"));
    let report: Vec<_> = plan
        .report
        .iter()
        .map(|r| match &r.status {
            ItemStatus::Imported { notes, .. } => format!("{}: ok {}", r.uid, notes.join("; ")),
            ItemStatus::Skipped(why) => format!("{}: skipped {why}", r.uid),
        })
        .collect();
    let expect = [
        "good: ok ",
        "no-start: skipped no DTSTART",
        "bad-zone: skipped unknown time zone \"Mars/Olympus\"",
        "bad-rule: skipped invalid repeat rule",
        "backwards: skipped the event ends before it starts",
        "untitled: ok it had no title",
        "cancelled: skipped the event is cancelled",
        "bad-date: skipped DTSTART \"2026-13-45\" is not a date or date-time",
        "VTODO: skipped VTODO components are not calendar events",
        "orphan: skipped a changed occurrence of a series that is not in the file",
    ];
    assert_eq!(report.len(), expect.len(), "{report:#?}");
    for want in expect {
        assert!(
            report.iter().any(|r| r.starts_with(want)),
            "missing {want:?} in {report:#?}"
        );
    }
    assert_eq!(s.events().len(), 2);
    // Absurd durations and dates are refused per item, never a panic.
    let absurd = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nSUMMARY:x\r\nDTSTART:20260101T000000Z\r\n\
                  DURATION:P999999999999999W\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\nSUMMARY:x\r\n\
                  DTSTART;VALUE=DATE:20260101\r\nDURATION:P9999999999D\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:y\r\n\
                  SUMMARY:x\r\nDTSTART:99991231T235959Z\r\nDURATION:PT99999999H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let plan = ics::parse(absurd, DEFAULT_CALENDAR).unwrap();
    assert!(plan.events.is_empty(), "{:?}", plan.events);
    assert_eq!(plan.report.len(), 3);
    // A file that is not iCalendar at all is one clear error.
    assert!(matches!(
        ics::parse("hello, world", DEFAULT_CALENDAR),
        Err(ics::IcsError::Syntax(_))
    ));
    // A cut-off file: an error or nothing, never a panic or a half event.
    let cut = ics::parse("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:2026", DEFAULT_CALENDAR);
    assert!(cut.map_or(true, |plan| plan.events.is_empty()));
}

#[test]
fn ics_export_then_import_gives_the_same_events() {
    let m = scripted_machine();
    let mut s = m.store().clone();
    let mut e = timed(
        "q",
        "Quote; \"comma\", backslash \\",
        "2026-07-01 09:00",
        "2026-07-01 09:30",
        "UTC",
    );
    e.details.description = "line one\nline two".into();
    create(&mut s, e).unwrap();
    let mut rep = repeating(
        timed("r", "Review", "2026-07-06 16:00", "2026-07-06 17:00", "Asia/Tokyo"),
        "FREQ=MONTHLY;BYMONTHDAY=6;COUNT=4",
    );
    rep.recurrence.as_mut().unwrap().overrides.insert(
        t("2026-08-06 16:00"),
        Override {
            title: "Review (short)".into(),
            description: String::new(),
            location: "Online".into(),
            timing: Timing::Zoned {
                start: t("2026-08-06 16:00"),
                end: t("2026-08-06 16:30"),
            },
        },
    );
    create(&mut s, rep).unwrap();
    let text = ics::export(&s, None);
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.contains("DTSTART;TZID=Asia/Tokyo:20260706T160000"), "{text}");
    let mut back = Store::default();
    for cal in s.calendars().filter(|c| c.id != DEFAULT_CALENDAR) {
        back.apply(Command::CreateCalendar {
            id: cal.id.clone(),
            name: cal.name.clone(),
            colour: cal.colour.clone(),
        })
        .unwrap();
    }
    for cal in s.calendars() {
        let text = ics::export(&s, Some(&cal.id));
        let plan = ics::parse(&text, &cal.id).unwrap();
        for b in ics::batches(plan.events, &cal.id, &stamp()) {
            back.apply(b).unwrap();
        }
    }
    let strip = |s: &Store| {
        s.events()
            .into_iter()
            .map(|e| {
                (
                    e.id.clone(),
                    e.calendar.clone(),
                    e.details.clone(),
                    e.recurrence.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&back), strip(&s));
}
