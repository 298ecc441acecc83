//! What the UI asks of the calendar: occurrences in a range shown in the
//! viewer's time zone, free/busy of a resource, and text search.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::recur::{self, from_utc};
use super::{Event, Rejection, Store, Timing};

/// Most results of one search.
pub const MAX_SEARCH_RESULTS: usize = 200;

/// When an occurrence happens, as the viewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// All-day events keep their dates whatever the viewer's zone.
    AllDay { start: NaiveDate, end: NaiveDate },
    /// Wall-clock times in the display zone.
    Timed { start: NaiveDateTime, end: NaiveDateTime },
}

/// One occurrence, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub event: String,
    pub calendar: String,
    pub title: String,
    pub description: String,
    pub location: String,
    pub resource: Option<String>,
    /// The occurrence's original start (its RECURRENCE-ID) in the event's
    /// zone; `None` for a single event.
    pub occurrence: Option<NaiveDateTime>,
    /// Changed on its own, apart from its series.
    pub changed: bool,
    /// The series' version, for edits.
    pub version: u64,
    pub when: When,
    /// As stored: wall-clock times in the event's own zone.
    pub timing: Timing,
    /// UTC start, for ordering.
    pub start_utc: NaiveDateTime,
}

impl Store {
    /// Occurrences overlapping `[from, to)` (UTC) shown in `display`,
    /// ordered by start. All-day occurrences count on their dates in the
    /// display zone. A series too dense to expand is left out rather than
    /// failing the whole view.
    pub fn occurrences_between(&self, from: NaiveDateTime, to: NaiveDateTime, display: Tz) -> Vec<Shown> {
        let (day_from, day_to) = (
            from_utc(display, from).date(),
            from_utc(display, to - Duration::seconds(1)).date(),
        );
        let mut out = Vec::new();
        for event in self.events.values() {
            // Widen by two days so all-day events in far-off zones are seen.
            let Ok(occurrences) = recur::occurrences(event, from - Duration::days(2), to + Duration::days(2)) else {
                continue;
            };
            for o in occurrences {
                let when = match o.timing {
                    Timing::AllDay { start, end } => {
                        if start > day_to || end <= day_from {
                            continue;
                        }
                        When::AllDay { start, end }
                    }
                    Timing::Zoned { .. } => {
                        let inside = o.start < to && (o.end > from || (o.start == o.end && o.start >= from));
                        if !inside {
                            continue;
                        }
                        When::Timed {
                            start: from_utc(display, o.start),
                            end: from_utc(display, o.end),
                        }
                    }
                };
                out.push(Shown {
                    event: event.id.clone(),
                    calendar: event.calendar.clone(),
                    title: o.title().into(),
                    description: o.description().into(),
                    location: o.location().into(),
                    resource: event.details.resource.clone(),
                    occurrence: o.key,
                    changed: o.changed.is_some(),
                    version: event.version,
                    when,
                    timing: o.timing,
                    start_utc: o.start,
                });
            }
        }
        out.sort_by(|a, b| (a.start_utc, &a.event, a.occurrence).cmp(&(b.start_utc, &b.event, b.occurrence)));
        out
    }

    /// When `resource` is booked within `[from, to)` (UTC): merged busy
    /// intervals, clipped to the range. Names nobody: free/busy is what may
    /// be shown to people who cannot see the events. A range so long that a
    /// booking repeats more than [`MAX_OCCURRENCES`](super::MAX_OCCURRENCES) times in it is an error,
    /// never a silently shortened answer.
    pub fn free_busy(
        &self,
        resource: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, Rejection> {
        let wanted = resource.trim().to_lowercase();
        let mut busy = Vec::new();
        for e in self.events.values() {
            if e.details.resource.as_ref().is_some_and(|r| r.to_lowercase() == wanted) {
                for o in recur::occurrences(e, from, to)? {
                    if o.start < o.end {
                        busy.push((o.start.max(from), o.end.min(to)));
                    }
                }
            }
        }
        busy.sort();
        let mut merged: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
        for (s, e) in busy {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Ok(merged)
    }

    /// Events whose title, description or location (or those of one of
    /// their changed occurrences) contain every word of `text`, ignoring
    /// case; in start order, at most [`MAX_SEARCH_RESULTS`].
    pub fn search(&self, text: &str) -> Vec<&Event> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        if words.is_empty() {
            return Vec::new();
        }
        self.events()
            .into_iter()
            .filter(|e| {
                let mut hay = format!("{}\n{}\n{}", e.details.title, e.details.description, e.details.location);
                if let Some(r) = &e.recurrence {
                    for o in r.overrides.values() {
                        hay.push_str(&format!("\n{}\n{}\n{}", o.title, o.description, o.location));
                    }
                }
                let hay = hay.to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .take(MAX_SEARCH_RESULTS)
            .collect()
    }
}
