//! What the calendar stores: calendars, events, recurrences, and the limits
//! that keep every one of them (and so every snapshot) bounded.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Ids are chosen by clients (so every node agrees on them without a clock
/// or a random source); bound them so nobody stores a novel in one.
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
pub const MAX_LOCATION_CHARS: usize = 200;
/// Calendar names, resource names and authors.
pub const MAX_NAME_CHARS: usize = 100;
/// Length of one RRULE value.
pub const MAX_RULE_CHARS: usize = 300;
pub const MAX_CALENDARS: usize = 50;
pub const MAX_EVENTS_PER_CALENDAR: usize = 5_000;
/// Cancelled occurrences plus changed occurrences, per series.
pub const MAX_EXCEPTIONS: usize = 500;
/// Longest single occurrence (multi-day events are fine; year-long ones that
/// would block a room forever are not).
pub const MAX_EVENT_DAYS: i64 = 366;
/// Dates outside these years are refused: nobody plans there, and it keeps
/// every recurrence expansion finite.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2200;
/// How far ahead a recurring booking is checked for collisions, counted from
/// the later of the command's time and the series' first occurrence.
pub const BOOKING_HORIZON_DAYS: i64 = 730;
/// Most occurrences one expansion may produce (a booking check or a query).
pub const MAX_OCCURRENCES: usize = 5_000;
/// Most candidate dates one expansion may step through before giving up
/// (a daily series from 1900 to 2200 is about 110 000).
pub const MAX_STEPS: usize = 200_000;
/// Most events in one import command; the importer splits larger files.
pub const MAX_IMPORT_BATCH: usize = 50;
/// The calendar every room starts with, so a new room can be used at once.
pub const DEFAULT_CALENDAR: &str = "default";

/// A named, coloured collection of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub id: String,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    pub version: u64,
}

/// When an event happens. Ends are exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timing {
    /// Wall-clock times in the event's time zone.
    Zoned { start: NaiveDateTime, end: NaiveDateTime },
    /// Whole days: a one-day event on the 4th has `end` on the 5th.
    AllDay { start: NaiveDate, end: NaiveDate },
}

impl Timing {
    /// The occurrence key of this timing: its start as a wall-clock time
    /// (midnight for all-day events). RECURRENCE-ID and EXDATE use it.
    pub fn start_key(&self) -> NaiveDateTime {
        match *self {
            Timing::Zoned { start, .. } => start,
            Timing::AllDay { start, .. } => start.and_hms_opt(0, 0, 0).expect("midnight exists"),
        }
    }

    /// The same length, moved to start at `key`.
    pub fn moved_to(&self, key: NaiveDateTime) -> Timing {
        match *self {
            Timing::Zoned { start, end } => Timing::Zoned {
                start: key,
                end: key + (end - start),
            },
            Timing::AllDay { start, end } => Timing::AllDay {
                start: key.date(),
                end: key.date() + (end - start),
            },
        }
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, Timing::AllDay { .. })
    }
}

/// Everything a user edits about an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    pub title: String,
    pub description: String,
    pub location: String,
    pub timing: Timing,
    /// IANA name, e.g. `Europe/Berlin`. All-day events use it to know when
    /// their days begin for bookings and free/busy.
    pub tz: String,
    /// A room or thing that can be booked; two bookings may not overlap.
    pub resource: Option<String>,
}

/// One occurrence of a series, changed on its own (RECURRENCE-ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub title: String,
    pub description: String,
    pub location: String,
    pub timing: Timing,
}

/// How a series repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    /// An RFC 5545 RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10`.
    pub rule: String,
    /// Occurrences removed from the series, by their original start.
    pub exdates: BTreeSet<NaiveDateTime>,
    /// Occurrences changed on their own, by their original start.
    pub overrides: BTreeMap<NaiveDateTime, Override>,
}

impl Recurrence {
    pub fn new(rule: impl Into<String>) -> Self {
        Recurrence {
            rule: rule.into(),
            exdates: BTreeSet::new(),
            overrides: BTreeMap::new(),
        }
    }
}

/// A calendar event as stored: a single event or a whole series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub calendar: String,
    pub details: Details,
    pub recurrence: Option<Recurrence>,
    /// Who last changed it and when (milliseconds since 1970, UTC), both
    /// taken from the command.
    pub author: String,
    pub modified_ms: i64,
    /// Bumped on every change; edits name the version they were based on.
    pub version: u64,
}

impl Event {
    pub fn title(&self) -> &str {
        &self.details.title
    }
}
