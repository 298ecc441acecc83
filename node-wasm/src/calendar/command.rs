//! What users ask the cluster to do, what it answers, and the checks that
//! need no state (shared by the UI, to answer at once, and by `apply`,
//! which must not trust the UI).

use chrono::{Datelike, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::model::*;
use super::recur;

/// Who asks, and their clock's reading: the only time `apply` ever sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub author: String,
    /// Milliseconds since 1970, UTC.
    pub at_ms: i64,
}

/// An event to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub id: String,
    pub calendar: String,
    pub details: Details,
    pub recurrence: Option<Recurrence>,
}

/// Which part of a series a deletion removes. Occurrences are named by
/// their original start (RECURRENCE-ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    All,
    This(NaiveDateTime),
    ThisAndFollowing(NaiveDateTime),
}

/// What an edit does to the series' rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleChange {
    Keep,
    Set(String),
    /// Stop repeating.
    Clear,
}

/// Which part of a series an update changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Edit {
    /// The whole event; for a series, `details.timing` is its first occurrence.
    All { rule: RuleChange },
    /// One occurrence only; it keeps the series' time zone and resource.
    This { occurrence: NaiveDateTime },
    /// Ends the series before `occurrence` and starts a new one, `new_id`,
    /// at `details.timing`. `RuleChange::Keep` keeps the rule (a COUNT
    /// becomes the number of occurrences that were still to come).
    ThisAndFollowing {
        occurrence: NaiveDateTime,
        new_id: String,
        rule: RuleChange,
    },
}

/// What a user asks the cluster to do. New variants go at the end: postcard
/// numbers variants by position, and old log entries must keep their meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    CreateCalendar {
        id: String,
        name: String,
        colour: String,
    },
    /// Rename and recolour.
    UpdateCalendar {
        id: String,
        version: u64,
        name: String,
        colour: String,
    },
    /// A calendar that still has events is only deleted with `cascade`.
    DeleteCalendar {
        id: String,
        version: u64,
        cascade: bool,
    },
    CreateEvent {
        event: NewEvent,
        stamp: Stamp,
    },
    /// `version` is the one the user saw: anything newer means someone else
    /// changed the event, and the update is refused.
    UpdateEvent {
        id: String,
        version: u64,
        edit: Edit,
        details: Details,
        stamp: Stamp,
    },
    DeleteEvent {
        id: String,
        version: u64,
        scope: Scope,
        stamp: Stamp,
    },
    /// Part of an .ics import: every event is created on its own, and each
    /// gets its own answer.
    Import {
        calendar: String,
        events: Vec<NewEvent>,
        stamp: Stamp,
    },
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Created {
        id: String,
    },
    Updated {
        id: String,
        version: u64,
    },
    /// A series was cut before an occurrence and continued as `new_id`.
    Split {
        id: String,
        new_id: String,
    },
    Deleted {
        id: String,
    },
    CalendarCreated {
        id: String,
    },
    CalendarUpdated {
        id: String,
        version: u64,
    },
    /// `events` were deleted with it.
    CalendarDeleted {
        id: String,
        events: usize,
    },
    /// One answer per imported event, in order.
    Imported {
        results: Vec<Result<String, Rejection>>,
    },
}

/// Why a command was refused. Refusals are deterministic too: every node
/// refuses the same command the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("the title is empty")]
    EmptyTitle,
    #[error("the {field} is longer than {max} characters")]
    TooLong { field: String, max: usize },
    #[error("the {field} is empty")]
    Empty { field: String },
    #[error("an id must be 1 to {MAX_ID_CHARS} characters")]
    BadId,
    #[error("the event ends before it starts")]
    EndBeforeStart,
    #[error("an event may last at most {MAX_EVENT_DAYS} days")]
    TooLongEvent,
    #[error("dates must lie between the years {MIN_YEAR} and {MAX_YEAR}")]
    OutOfRange,
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Berlin)")]
    UnknownTimeZone(String),
    #[error("invalid repeat rule: {0}")]
    InvalidRule(String),
    #[error("colour {0:?} is not of the form #rrggbb")]
    BadColour(String),
    #[error("an event with id {0} already exists")]
    DuplicateId(String),
    #[error("a calendar with id {0} already exists")]
    DuplicateCalendar(String),
    #[error("no event with id {0}")]
    UnknownEvent(String),
    #[error("no calendar with id {0}")]
    UnknownCalendar(String),
    #[error("calendar {id} still has {events} events; delete them too to delete it")]
    CalendarNotEmpty { id: String, events: usize },
    #[error("at most {MAX_CALENDARS} calendars")]
    TooManyCalendars,
    #[error("a calendar holds at most {MAX_EVENTS_PER_CALENDAR} events")]
    TooManyEvents,
    #[error("a series has at most {MAX_EXCEPTIONS} changed or cancelled occurrences")]
    TooManyExceptions,
    #[error("an import command holds at most {MAX_IMPORT_BATCH} events")]
    BatchTooLarge,
    #[error("event {0} does not repeat")]
    NotRecurring(String),
    #[error("the series has no occurrence starting at {0}")]
    NoSuchOccurrence(NaiveDateTime),
    #[error("one occurrence keeps its series' {0}; edit all events to change it")]
    SeriesField(String),
    #[error("the series repeats too often to check (over {MAX_OCCURRENCES} occurrences)")]
    TooManyOccurrences,
    #[error("{resource} is already booked then by \"{title}\" ({event}) from {start} UTC")]
    Conflict {
        resource: String,
        event: String,
        title: String,
        start: NaiveDateTime,
    },
    #[error("changed by someone else (now at version {current})")]
    StaleVersion { current: u64 },
    #[error("the command could not be decoded")]
    Malformed,
    #[error("an older request from this client, already superseded")]
    StaleRequest,
    #[error("this tab is an observer; edit in a tab that runs a node")]
    ReadOnlyObserver,
}

impl Details {
    /// A timed event in zone `tz` with nothing but a title.
    pub fn timed(title: impl Into<String>, start: NaiveDateTime, end: NaiveDateTime, tz: impl Into<String>) -> Self {
        Details {
            title: title.into(),
            description: String::new(),
            location: String::new(),
            timing: Timing::Zoned { start, end },
            tz: tz.into(),
            resource: None,
        }
    }
}

impl Command {
    /// Create a single UTC event in the default calendar: the simplest
    /// edit, used by the simulator and examples.
    pub fn create_timed(id: &str, title: &str, start: NaiveDateTime, end: NaiveDateTime) -> Self {
        Command::CreateEvent {
            event: NewEvent {
                id: id.into(),
                calendar: DEFAULT_CALENDAR.into(),
                details: Details::timed(title, start, end, "UTC"),
                recurrence: None,
            },
            stamp: Stamp {
                author: String::new(),
                at_ms: 0,
            },
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("commands always serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Rejection> {
        postcard::from_bytes(bytes).map_err(|_| Rejection::Malformed)
    }

    /// The checks that need no state.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::CreateCalendar { id, name, colour } | Command::UpdateCalendar { id, name, colour, .. } => {
                check_id(id)?;
                check_text("calendar name", name, MAX_NAME_CHARS, true)?;
                check_colour(colour)
            }
            Command::DeleteCalendar { id, .. } => check_id(id),
            Command::CreateEvent { event, stamp } => {
                check_stamp(stamp)?;
                check_new_event(event)
            }
            Command::UpdateEvent {
                id,
                edit,
                details,
                stamp,
                ..
            } => {
                check_id(id)?;
                check_stamp(stamp)?;
                check_details(details)?;
                match edit {
                    Edit::All { rule } | Edit::ThisAndFollowing { rule, .. } => {
                        if let RuleChange::Set(rule) = rule {
                            recur::check_rule(rule, details)?;
                        }
                    }
                    Edit::This { .. } => {}
                }
                if let Edit::ThisAndFollowing { new_id, .. } = edit {
                    check_id(new_id)?;
                }
                Ok(())
            }
            Command::DeleteEvent { id, stamp, .. } => {
                check_id(id)?;
                check_stamp(stamp)
            }
            Command::Import {
                calendar,
                events,
                stamp,
            } => {
                check_id(calendar)?;
                check_stamp(stamp)?;
                if events.len() > MAX_IMPORT_BATCH {
                    return Err(Rejection::BatchTooLarge);
                }
                // Each event is judged on its own when applied.
                Ok(())
            }
        }
    }
}

pub fn check_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(Rejection::BadId);
    }
    Ok(())
}

fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), Rejection> {
    if required && text.trim().is_empty() {
        return Err(if field == "title" {
            Rejection::EmptyTitle
        } else {
            Rejection::Empty { field: field.into() }
        });
    }
    if text.chars().count() > max {
        return Err(Rejection::TooLong {
            field: field.into(),
            max,
        });
    }
    Ok(())
}

fn check_colour(colour: &str) -> Result<(), Rejection> {
    let ok = colour.len() == 7 && colour.starts_with('#') && colour[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(Rejection::BadColour(colour.into()))
    }
}

fn check_stamp(stamp: &Stamp) -> Result<(), Rejection> {
    check_text("author", &stamp.author, MAX_NAME_CHARS, false)
}

pub fn check_new_event(event: &NewEvent) -> Result<(), Rejection> {
    check_id(&event.id)?;
    check_id(&event.calendar)?;
    check_details(&event.details)?;
    if let Some(recurrence) = &event.recurrence {
        recur::check_rule(&recurrence.rule, &event.details)?;
        if recurrence.exdates.len() + recurrence.overrides.len() > MAX_EXCEPTIONS {
            return Err(Rejection::TooManyExceptions);
        }
        for o in recurrence.overrides.values() {
            check_override(o)?;
        }
    }
    Ok(())
}

/// The checks on what a user typed.
pub fn check_details(details: &Details) -> Result<(), Rejection> {
    check_text("title", &details.title, MAX_TITLE_CHARS, true)?;
    check_text("description", &details.description, MAX_DESCRIPTION_CHARS, false)?;
    check_text("location", &details.location, MAX_LOCATION_CHARS, false)?;
    if let Some(resource) = &details.resource {
        check_text("resource", resource, MAX_NAME_CHARS, true)?;
    }
    recur::zone(&details.tz)?;
    check_timing(&details.timing)
}

pub fn check_override(o: &Override) -> Result<(), Rejection> {
    check_text("title", &o.title, MAX_TITLE_CHARS, true)?;
    check_text("description", &o.description, MAX_DESCRIPTION_CHARS, false)?;
    check_text("location", &o.location, MAX_LOCATION_CHARS, false)?;
    check_timing(&o.timing)
}

pub fn check_timing(timing: &Timing) -> Result<(), Rejection> {
    let (start, end) = match *timing {
        Timing::Zoned { start, end } => (start, end),
        Timing::AllDay { start, end } if end > start => (midnight(start), midnight(end)),
        Timing::AllDay { .. } => return Err(Rejection::EndBeforeStart),
    };
    if [start, end].iter().any(|t| !(MIN_YEAR..=MAX_YEAR).contains(&t.year())) {
        return Err(Rejection::OutOfRange);
    }
    if end < start {
        return Err(Rejection::EndBeforeStart);
    }
    if end - start > chrono::Duration::days(MAX_EVENT_DAYS) {
        return Err(Rejection::TooLongEvent);
    }
    Ok(())
}

fn midnight(date: chrono::NaiveDate) -> NaiveDateTime {
    date.and_time(chrono::NaiveTime::MIN)
}
