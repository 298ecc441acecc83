//! The calendar state machine: what the replicated log means.
//!
//! Deterministic and pure: `apply` reads nothing but its command (ids and
//! times travel inside it; time zones come from the database compiled into
//! the binary), so every node that applies the same log holds byte-identical
//! state. What it promises that a merge-based calendar cannot:
//!
//! - an edit based on an old version is refused, never silently applied
//!   over someone else's ([`Rejection::StaleVersion`]);
//! - a resource (a room, a projector) is never booked twice at once,
//!   occurrences of repeating bookings included, up to
//!   [`BOOKING_HORIZON_DAYS`] ahead ([`Rejection::Conflict`]).

mod command;
pub mod ics;
mod model;
pub mod query;
pub mod recur;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

pub use command::*;
pub use model::*;
use recur::{interval, zone};

/// Every calendar and event of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    calendars: BTreeMap<String, Calendar>,
    events: BTreeMap<String, Event>,
}

impl Default for Store {
    /// A new room has one calendar, [`DEFAULT_CALENDAR`].
    fn default() -> Self {
        let calendar = Calendar {
            id: DEFAULT_CALENDAR.into(),
            name: "Calendar".into(),
            colour: "#2f6fde".into(),
            version: 1,
        };
        Store {
            calendars: BTreeMap::from([(calendar.id.clone(), calendar)]),
            events: BTreeMap::new(),
        }
    }
}

impl Store {
    pub fn apply(&mut self, command: Command) -> Result<Outcome, Rejection> {
        command.validate()?;
        match command {
            Command::CreateCalendar { id, name, colour } => {
                if self.calendars.contains_key(&id) {
                    return Err(Rejection::DuplicateCalendar(id));
                }
                if self.calendars.len() >= MAX_CALENDARS {
                    return Err(Rejection::TooManyCalendars);
                }
                let calendar = Calendar {
                    id: id.clone(),
                    name: name.trim().into(),
                    colour: colour.to_ascii_lowercase(),
                    version: 1,
                };
                self.calendars.insert(id.clone(), calendar);
                Ok(Outcome::CalendarCreated { id })
            }
            Command::UpdateCalendar {
                id,
                version,
                name,
                colour,
            } => {
                let calendar = self
                    .calendars
                    .get_mut(&id)
                    .ok_or(Rejection::UnknownCalendar(id.clone()))?;
                same_version(calendar.version, version)?;
                calendar.name = name.trim().into();
                calendar.colour = colour.to_ascii_lowercase();
                calendar.version += 1;
                Ok(Outcome::CalendarUpdated {
                    id,
                    version: calendar.version,
                })
            }
            Command::DeleteCalendar { id, version, cascade } => {
                let calendar = self.calendars.get(&id).ok_or(Rejection::UnknownCalendar(id.clone()))?;
                same_version(calendar.version, version)?;
                let events = self.count_in(&id);
                if events > 0 && !cascade {
                    return Err(Rejection::CalendarNotEmpty { id, events });
                }
                self.events.retain(|_, e| e.calendar != id);
                self.calendars.remove(&id);
                Ok(Outcome::CalendarDeleted { id, events })
            }
            Command::CreateEvent { event, stamp } => self.create(event, &stamp).map(|id| Outcome::Created { id }),
            Command::UpdateEvent {
                id,
                version,
                edit,
                details,
                stamp,
            } => self.update(id, version, edit, details, &stamp),
            Command::DeleteEvent {
                id,
                version,
                scope,
                stamp,
            } => self.delete(id, version, scope, &stamp),
            Command::Import {
                calendar,
                events,
                stamp,
            } => {
                if !self.calendars.contains_key(&calendar) {
                    return Err(Rejection::UnknownCalendar(calendar));
                }
                let results = events
                    .into_iter()
                    .map(|mut event| {
                        event.calendar.clone_from(&calendar);
                        check_new_event(&event)?;
                        self.create(event, &stamp)
                    })
                    .collect();
                Ok(Outcome::Imported { results })
            }
        }
    }

    /// Apply a log entry's bytes; undecodable bytes are a rejection, not a crash.
    pub fn apply_bytes(&mut self, bytes: &[u8]) -> Result<Outcome, Rejection> {
        self.apply(Command::decode(bytes)?)
    }

    pub fn calendars(&self) -> impl Iterator<Item = &Calendar> {
        self.calendars.values()
    }

    pub fn calendar(&self, id: &str) -> Option<&Calendar> {
        self.calendars.get(id)
    }

    /// Events (whole series) ordered by first start, then id.
    pub fn events(&self) -> Vec<&Event> {
        let mut out: Vec<&Event> = self.events.values().collect();
        out.sort_by(|a, b| (a.details.timing.start_key(), &a.id).cmp(&(b.details.timing.start_key(), &b.id)));
        out
    }

    pub fn get(&self, id: &str) -> Option<&Event> {
        self.events.get(id)
    }

    fn count_in(&self, calendar: &str) -> usize {
        self.events.values().filter(|e| e.calendar == calendar).count()
    }

    fn create(&mut self, new: NewEvent, stamp: &Stamp) -> Result<String, Rejection> {
        if self.events.contains_key(&new.id) {
            return Err(Rejection::DuplicateId(new.id));
        }
        if !self.calendars.contains_key(&new.calendar) {
            return Err(Rejection::UnknownCalendar(new.calendar));
        }
        if self.count_in(&new.calendar) >= MAX_EVENTS_PER_CALENDAR {
            return Err(Rejection::TooManyEvents);
        }
        let details = tidy(new.details);
        let recurrence = match new.recurrence {
            Some(r) => Some(Recurrence {
                rule: recur::normalize_rule(&r.rule, &details)?,
                ..r
            }),
            None => None,
        };
        let event = Event {
            id: new.id,
            calendar: new.calendar,
            details,
            recurrence,
            author: stamp.author.trim().into(),
            modified_ms: stamp.at_ms,
            version: 1,
        };
        if let Some(key) = stray_exception(&event)? {
            return Err(Rejection::NoSuchOccurrence(key));
        }
        self.check_booking(&event, &[], stamp.at_ms)?;
        let id = event.id.clone();
        self.events.insert(id.clone(), event);
        Ok(id)
    }

    fn current(&self, id: &str, version: u64) -> Result<&Event, Rejection> {
        let event = self.events.get(id).ok_or_else(|| Rejection::UnknownEvent(id.into()))?;
        same_version(event.version, version)?;
        Ok(event)
    }

    fn update(
        &mut self,
        id: String,
        version: u64,
        edit: Edit,
        details: Details,
        stamp: &Stamp,
    ) -> Result<Outcome, Rejection> {
        let current = self.current(&id, version)?;
        let details = tidy(details);
        let mut next = current.clone();
        touch(&mut next, stamp);
        match edit {
            Edit::All { rule } => {
                next.recurrence = changed_rule(current, rule, &details)?.map(|rule| {
                    let old = current.recurrence.clone().unwrap_or_else(|| Recurrence::new(""));
                    Recurrence { rule, ..old }
                });
                next.details = details;
                prune_exceptions(&mut next)?;
            }
            Edit::This { occurrence } => {
                let recurrence = current.recurrence.as_ref().ok_or(Rejection::NotRecurring(id.clone()))?;
                if details.tz != current.details.tz {
                    return Err(Rejection::SeriesField("time zone".into()));
                }
                if details.resource != current.details.resource {
                    return Err(Rejection::SeriesField("resource".into()));
                }
                if recurrence.exdates.contains(&occurrence) || !recur::is_occurrence(current, occurrence)? {
                    return Err(Rejection::NoSuchOccurrence(occurrence));
                }
                if !recurrence.overrides.contains_key(&occurrence) && exception_count(recurrence) >= MAX_EXCEPTIONS {
                    return Err(Rejection::TooManyExceptions);
                }
                let changed = Override {
                    title: details.title,
                    description: details.description,
                    location: details.location,
                    timing: details.timing,
                };
                next.recurrence
                    .as_mut()
                    .expect("checked above")
                    .overrides
                    .insert(occurrence, changed);
            }
            Edit::ThisAndFollowing {
                occurrence,
                new_id,
                rule,
            } => {
                let first = self.first_key(current, occurrence)?;
                if first == occurrence {
                    // From the first occurrence on is the whole series.
                    let edit = Edit::All { rule };
                    return self.update(id, version, edit, details, stamp);
                }
                if self.events.contains_key(&new_id) {
                    return Err(Rejection::DuplicateId(new_id));
                }
                if self.count_in(&current.calendar) >= MAX_EVENTS_PER_CALENDAR {
                    return Err(Rejection::TooManyEvents);
                }
                let tail_rule = match rule {
                    RuleChange::Keep => {
                        let rule = &current.recurrence.as_ref().expect("a series").rule;
                        let before = recur::keys(current, recur::to_utc(zone(&current.details.tz)?, occurrence))?.len();
                        Some(recur::normalize_rule(&remaining(rule, before), &details)?)
                    }
                    RuleChange::Set(rule) => Some(recur::normalize_rule(&rule, &details)?),
                    RuleChange::Clear => None,
                };
                let mut tail = Event {
                    id: new_id.clone(),
                    calendar: current.calendar.clone(),
                    details,
                    recurrence: tail_rule.map(|rule| {
                        let mut r = Recurrence::new(rule);
                        let old = current.recurrence.as_ref().expect("a series");
                        r.exdates = old.exdates.range(occurrence..).copied().collect();
                        r.overrides = old
                            .overrides
                            .range(occurrence..)
                            .map(|(k, v)| (*k, v.clone()))
                            .collect();
                        r
                    }),
                    author: String::new(),
                    modified_ms: 0,
                    version: 1,
                };
                touch(&mut tail, stamp);
                tail.version = 1;
                prune_exceptions(&mut tail)?;
                cut_before(&mut next, occurrence)?;
                self.check_booking(&tail, &[&next], stamp.at_ms)?;
                self.events.insert(id.clone(), next);
                self.events.insert(new_id.clone(), tail);
                return Ok(Outcome::Split { id, new_id });
            }
        }
        self.check_booking(&next, &[], stamp.at_ms)?;
        let version = next.version;
        self.events.insert(id.clone(), next);
        Ok(Outcome::Updated { id, version })
    }

    /// The first occurrence of the series `event`, checking that `occurrence`
    /// is one of its occurrences.
    fn first_key(&self, event: &Event, occurrence: NaiveDateTime) -> Result<NaiveDateTime, Rejection> {
        if event.recurrence.is_none() {
            return Err(Rejection::NotRecurring(event.id.clone()));
        }
        if !recur::is_occurrence(event, occurrence)? {
            return Err(Rejection::NoSuchOccurrence(occurrence));
        }
        Ok(recur::keys(
            event,
            recur::to_utc(zone(&event.details.tz)?, occurrence) + Duration::seconds(1),
        )?[0])
    }

    fn delete(&mut self, id: String, version: u64, scope: Scope, stamp: &Stamp) -> Result<Outcome, Rejection> {
        let current = self.current(&id, version)?;
        let mut next = current.clone();
        touch(&mut next, stamp);
        match scope {
            Scope::All => {
                self.events.remove(&id);
                return Ok(Outcome::Deleted { id });
            }
            Scope::This(occurrence) => {
                self.first_key(current, occurrence)?;
                let recurrence = next.recurrence.as_mut().expect("a series");
                let known = recurrence.overrides.remove(&occurrence).is_some();
                if !known && !recurrence.exdates.contains(&occurrence) && exception_count(recurrence) >= MAX_EXCEPTIONS
                {
                    return Err(Rejection::TooManyExceptions);
                }
                recurrence.exdates.insert(occurrence);
            }
            Scope::ThisAndFollowing(occurrence) => {
                if self.first_key(current, occurrence)? == occurrence {
                    self.events.remove(&id);
                    return Ok(Outcome::Deleted { id });
                }
                cut_before(&mut next, occurrence)?;
            }
        }
        // Only removes occurrences: nothing new to check for bookings.
        let version = next.version;
        self.events.insert(id.clone(), next);
        Ok(Outcome::Updated { id, version })
    }

    /// Refuse `candidate` if it books its resource while another event
    /// (other than itself, with `replaced` standing in for the events of the
    /// same ids) has it booked. A single event is checked whole; a series
    /// from the later of its first occurrence and a day before `now_ms`, to
    /// `BOOKING_HORIZON_DAYS` after the later of its first occurrence and
    /// `now_ms`.
    fn check_booking(&self, candidate: &Event, replaced: &[&Event], now_ms: i64) -> Result<(), Rejection> {
        let Some(resource) = &candidate.details.resource else {
            return Ok(());
        };
        let (lo, hi) = booking_window(candidate, now_ms)?;
        let mine: Vec<_> = recur::occurrences(candidate, lo, hi)?
            .into_iter()
            .filter(|o| o.start < o.end)
            .collect();
        let (Some(first), Some(last_end)) = (mine.first(), mine.iter().map(|o| o.end).max()) else {
            return Ok(());
        };
        // mine is ordered by start; reach[i] = latest end among mine[..=i].
        let reach: Vec<NaiveDateTime> = mine
            .iter()
            .scan(first.start, |m, o| {
                *m = (*m).max(o.end);
                Some(*m)
            })
            .collect();
        let same = |e: &&Event| {
            e.id != candidate.id
                && e.details
                    .resource
                    .as_ref()
                    .is_some_and(|r| r.to_lowercase() == resource.to_lowercase())
        };
        let others = self
            .events
            .values()
            .filter(|e| !replaced.iter().any(|r| r.id == e.id))
            .chain(replaced.iter().copied())
            .filter(same);
        for other in others {
            for theirs in recur::occurrences(other, first.start, last_end)? {
                if theirs.start >= theirs.end {
                    continue;
                }
                // Among mine starting before theirs ends, does any end after theirs starts?
                let n = mine.partition_point(|o| o.start < theirs.end);
                if n > 0 && reach[n - 1] > theirs.start {
                    return Err(Rejection::Conflict {
                        resource: resource.clone(),
                        event: other.id.clone(),
                        title: theirs.title().into(),
                        start: theirs.start,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The UTC interval over which `event`'s bookings are checked.
/// Changed occurrences count wherever they were moved to.
pub fn booking_window(event: &Event, now_ms: i64) -> Result<(NaiveDateTime, NaiveDateTime), Rejection> {
    let tz = zone(&event.details.tz)?;
    let (first_start, first_end) = interval(tz, &event.details.timing);
    let Some(recurrence) = &event.recurrence else {
        return Ok((first_start, first_end));
    };
    // The command's clock is the client's: a reading outside the supported
    // years is ignored rather than trusted (or overflowed).
    let now = DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.naive_utc())
        .filter(|t| (MIN_YEAR..=MAX_YEAR).contains(&t.year()))
        .unwrap_or(first_start);
    let moved = recurrence.overrides.values().map(|o| interval(tz, &o.timing));
    let (earliest, latest) = moved.fold((first_start, first_end), |(lo, hi), (s, e)| (lo.min(s), hi.max(e)));
    let lo = earliest.max(now - Duration::days(1));
    let hi = (first_start.max(now) + Duration::days(BOOKING_HORIZON_DAYS)).max(latest);
    Ok((lo, hi))
}

fn same_version(current: u64, seen: u64) -> Result<(), Rejection> {
    if current == seen {
        Ok(())
    } else {
        Err(Rejection::StaleVersion { current })
    }
}

fn touch(event: &mut Event, stamp: &Stamp) {
    event.author = stamp.author.trim().into();
    event.modified_ms = stamp.at_ms;
    event.version += 1;
}

fn tidy(details: Details) -> Details {
    Details {
        title: details.title.trim().into(),
        description: details.description.trim_end().into(),
        location: details.location.trim().into(),
        resource: details.resource.map(|r| r.trim().to_owned()),
        ..details
    }
}

fn exception_count(r: &Recurrence) -> usize {
    r.exdates.len() + r.overrides.len()
}

/// The rule an `Edit::All` leaves on `current`, normalized for `details`.
fn changed_rule(current: &Event, change: RuleChange, details: &Details) -> Result<Option<String>, Rejection> {
    match change {
        RuleChange::Keep => current
            .recurrence
            .as_ref()
            .map(|r| recur::normalize_rule(&r.rule, details))
            .transpose(),
        RuleChange::Set(rule) => recur::normalize_rule(&rule, details).map(Some),
        RuleChange::Clear => Ok(None),
    }
}

/// The first exception of `event` that is not one of its occurrences.
fn stray_exception(event: &Event) -> Result<Option<NaiveDateTime>, Rejection> {
    let Some(r) = &event.recurrence else {
        return Ok(None);
    };
    let Some(last) = r.exdates.iter().chain(r.overrides.keys()).max() else {
        return Ok(None);
    };
    let keys = recur::keys(
        event,
        recur::to_utc(zone(&event.details.tz)?, *last) + Duration::days(2),
    )?;
    let off = |k: &NaiveDateTime| keys.binary_search(k).is_err();
    Ok(r.exdates.iter().chain(r.overrides.keys()).copied().find(off))
}

/// Drop the exceptions a changed rule or start left without an occurrence.
fn prune_exceptions(event: &mut Event) -> Result<(), Rejection> {
    while let Some(key) = stray_exception(event)? {
        let r = event.recurrence.as_mut().expect("has exceptions");
        r.exdates.remove(&key);
        r.overrides.remove(&key);
    }
    if let Some(r) = &event.recurrence {
        if exception_count(r) > MAX_EXCEPTIONS {
            return Err(Rejection::TooManyExceptions);
        }
    }
    Ok(())
}

/// End the series `event` just before `occurrence` (which is not its first).
fn cut_before(event: &mut Event, occurrence: NaiveDateTime) -> Result<(), Rejection> {
    let tz = zone(&event.details.tz)?;
    let until = if event.details.timing.is_all_day() {
        occurrence
    } else {
        recur::to_utc(tz, occurrence)
    } - Duration::seconds(1);
    let r = event.recurrence.as_mut().expect("a series");
    let mut parts: Vec<String> = rule_parts(&r.rule)
        .filter(|p| !p.starts_with("UNTIL=") && !p.starts_with("COUNT="))
        .collect();
    parts.push(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
    r.rule = parts.join(";");
    r.exdates = r.exdates.range(..occurrence).copied().collect();
    r.overrides = r.overrides.range(..occurrence).map(|(k, v)| (*k, v.clone())).collect();
    Ok(())
}

/// `rule` for what is left after `done` occurrences: a COUNT shrinks by them.
fn remaining(rule: &str, done: usize) -> String {
    rule_parts(rule)
        .map(
            |p| match p.strip_prefix("COUNT=").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => format!("COUNT={}", n.saturating_sub(done).max(1)),
                None => p,
            },
        )
        .collect::<Vec<_>>()
        .join(";")
}

fn rule_parts(rule: &str) -> impl Iterator<Item = String> + '_ {
    rule.split(';').filter(|p| !p.is_empty()).map(str::to_owned)
}
