//! Time zones and recurrence: turning a stored event into the absolute
//! intervals it occupies. Pure and deterministic: the zone database is the
//! one compiled into the binary (chrono-tz), never the machine's.

use chrono::{Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};

use super::command::Rejection;
use super::model::*;

/// The IANA zone called `name`.
pub fn zone(name: &str) -> Result<Tz, Rejection> {
    name.parse::<Tz>().map_err(|_| Rejection::UnknownTimeZone(name.into()))
}

/// A wall-clock time in `tz` as a UTC time. A time that does not exist (the
/// hour skipped when clocks go forward) is read with the offset in force
/// before the gap, so 02:30 becomes 03:30 (RFC 5545 §3.3.5); a time that
/// happens twice (clocks go back) is the first of the two.
pub fn to_utc(tz: Tz, local: NaiveDateTime) -> NaiveDateTime {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.naive_utc(),
        LocalResult::Ambiguous(a, b) => a.naive_utc().min(b.naive_utc()),
        LocalResult::None => {
            let before = tz.offset_from_utc_datetime(&(local - Duration::days(1))).fix();
            local - Duration::seconds(before.local_minus_utc() as i64)
        }
    }
}

/// A UTC time as a wall-clock time in `tz`.
pub fn from_utc(tz: Tz, utc: NaiveDateTime) -> NaiveDateTime {
    tz.from_utc_datetime(&utc).naive_local()
}

fn midnight(date: NaiveDate) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN)
}

/// The UTC interval a timing covers in zone `tz` (all-day events run from
/// midnight to midnight there).
pub fn interval(tz: Tz, timing: &Timing) -> (NaiveDateTime, NaiveDateTime) {
    match *timing {
        Timing::Zoned { start, end } => (to_utc(tz, start), to_utc(tz, end)),
        Timing::AllDay { start, end } => (to_utc(tz, midnight(start)), to_utc(tz, midnight(end))),
    }
}

/// Parse and check a rule against the event it repeats, returning it in the
/// form that is stored: upper case, no `RRULE:` prefix, UNTIL in UTC.
pub fn normalize_rule(rule: &str, details: &Details) -> Result<String, Rejection> {
    if rule.chars().count() > MAX_RULE_CHARS {
        return Err(Rejection::TooLong {
            field: "repeat rule".into(),
            max: MAX_RULE_CHARS,
        });
    }
    let tz = zone(&details.tz)?;
    let upper = rule.trim().to_ascii_uppercase();
    let text = upper.strip_prefix("RRULE:").unwrap_or(&upper);
    if text.contains([':', '\n', '\r']) {
        return Err(Rejection::InvalidRule("give one RRULE value, without DTSTART".into()));
    }
    let mut parts = Vec::new();
    for part in text.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| Rejection::InvalidRule(format!("{part:?} is not KEY=VALUE")))?;
        match key {
            "BYHOUR" | "BYMINUTE" | "BYSECOND" => {
                return Err(Rejection::InvalidRule(format!(
                    "{key} is not supported: the time of day comes from the event's start"
                )))
            }
            "UNTIL" => parts.push(format!("UNTIL={}", until_utc(value, tz, &details.timing)?)),
            _ => parts.push(part.to_owned()),
        }
    }
    let normalized = parts.join(";");
    if rule_set(&normalized, details)?.limit().into_iter().next().is_none() {
        return Err(Rejection::InvalidRule("it gives no dates at all".into()));
    }
    Ok(normalized)
}

/// UNTIL as a UTC date-time. A date means "through that day" in the event's
/// zone; a time without `Z` is a wall-clock time there. (The rrule crate
/// would read both in the machine's own zone, which differs between nodes.)
fn until_utc(value: &str, tz: Tz, timing: &Timing) -> Result<String, Rejection> {
    let bad = || Rejection::InvalidRule(format!("UNTIL={value} is not a date or date-time"));
    let utc = if let Some(z) = value.strip_suffix('Z') {
        NaiveDateTime::parse_from_str(z, "%Y%m%dT%H%M%S").map_err(|_| bad())?
    } else if value.len() == 8 {
        let day = NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| bad())?;
        let last = day.and_hms_opt(23, 59, 59).expect("valid time");
        if timing.is_all_day() {
            last
        } else {
            to_utc(tz, last)
        }
    } else {
        let local = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        if timing.is_all_day() {
            local
        } else {
            to_utc(tz, local)
        }
    };
    Ok(utc.format("%Y%m%dT%H%M%SZ").to_string())
}

/// The checks on a rule that need only the event it repeats.
pub fn check_rule(rule: &str, details: &Details) -> Result<(), Rejection> {
    normalize_rule(rule, details).map(|_| ())
}

/// The rule as the rrule crate's iterator, anchored at the event's start.
/// All-day series run in UTC on dates; zoned series in their zone, so a
/// 09:00 meeting stays at 09:00 across daylight-saving changes.
fn rule_set(rule: &str, details: &Details) -> Result<RRuleSet, Rejection> {
    let parsed: RRule<Unvalidated> = rule
        .parse()
        .map_err(|e: rrule::RRuleError| Rejection::InvalidRule(e.to_string()))?;
    if !matches!(
        parsed.get_freq(),
        Frequency::Daily | Frequency::Weekly | Frequency::Monthly | Frequency::Yearly
    ) {
        return Err(Rejection::InvalidRule(format!(
            "FREQ={} is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY",
            parsed.get_freq()
        )));
    }
    let dt_start = match details.timing {
        Timing::Zoned { start, .. } => {
            let tz = rrule::Tz::Tz(zone(&details.tz)?);
            tz.from_utc_datetime(&to_utc(zone(&details.tz)?, start))
        }
        Timing::AllDay { start, .. } => rrule::Tz::UTC.from_utc_datetime(&midnight(start)),
    };
    parsed
        .build(dt_start)
        .map_err(|e| Rejection::InvalidRule(e.to_string()))
}

/// One occurrence of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence<'a> {
    pub event: &'a Event,
    /// The original start of this occurrence; `None` for a single event.
    pub key: Option<NaiveDateTime>,
    /// Changed on its own (RECURRENCE-ID); its details replace the series'.
    pub changed: Option<&'a Override>,
    /// As it happens, in the event's zone.
    pub timing: Timing,
    /// UTC interval, end exclusive.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Occurrence<'_> {
    pub fn title(&self) -> &str {
        self.changed.map_or(&self.event.details.title, |o| &o.title)
    }
    pub fn description(&self) -> &str {
        self.changed.map_or(&self.event.details.description, |o| &o.description)
    }
    pub fn location(&self) -> &str {
        self.changed.map_or(&self.event.details.location, |o| &o.location)
    }
}

/// The original starts (wall-clock, event zone) of a series' occurrences,
/// in order, before exceptions. Stops at `until` (UTC, exclusive) and
/// fails after `MAX_STEPS` dates.
pub fn keys(event: &Event, until: NaiveDateTime) -> Result<Vec<NaiveDateTime>, Rejection> {
    let Some(recurrence) = &event.recurrence else {
        return Ok(vec![event.details.timing.start_key()]);
    };
    let tz = zone(&event.details.tz)?;
    let set = rule_set(&recurrence.rule, &event.details)?;
    let all_day = event.details.timing.is_all_day();
    let mut out = Vec::new();
    // `limit()` turns on the crate's guard against a rule that never
    // matches again (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 would otherwise walk
    // day by day to the end of chrono's calendar).
    for dt in set.limit().into_iter().take(MAX_STEPS + 1) {
        if out.len() == MAX_STEPS {
            return Err(Rejection::TooManyOccurrences);
        }
        let key = if all_day {
            midnight(dt.date_naive())
        } else {
            dt.with_timezone(&tz).naive_local()
        };
        let start = if all_day { to_utc(tz, key) } else { dt.naive_utc() };
        if start >= until {
            break;
        }
        out.push(key);
    }
    Ok(out)
}

/// Is `key` one of the series' original occurrence starts?
pub fn is_occurrence(event: &Event, key: NaiveDateTime) -> Result<bool, Rejection> {
    let tz = zone(&event.details.tz)?;
    let after = to_utc(tz, key) + Duration::days(2);
    Ok(keys(event, after)?.binary_search(&key).is_ok())
}

/// Every occurrence that overlaps the UTC interval `[from, to)`, cancelled
/// ones left out and changed ones as changed, ordered by start. Fails if
/// there are more than `MAX_OCCURRENCES`.
pub fn occurrences(event: &Event, from: NaiveDateTime, to: NaiveDateTime) -> Result<Vec<Occurrence<'_>>, Rejection> {
    let tz = zone(&event.details.tz)?;
    let base = event.details.timing;
    let overlaps = |s: NaiveDateTime, e: NaiveDateTime| s < to && (e > from || (s == e && s >= from));
    let mut out = Vec::new();
    let mut push = |occ| push_bounded(&mut out, occ);
    match &event.recurrence {
        None => {
            let (start, end) = interval(tz, &base);
            if overlaps(start, end) {
                push(Occurrence {
                    event,
                    key: None,
                    changed: None,
                    timing: base,
                    start,
                    end,
                })?;
            }
        }
        Some(recurrence) => {
            for key in keys(event, to)? {
                if recurrence.exdates.contains(&key) || recurrence.overrides.contains_key(&key) {
                    continue;
                }
                let timing = base.moved_to(key);
                let (start, end) = interval(tz, &timing);
                if overlaps(start, end) {
                    push(Occurrence {
                        event,
                        key: Some(key),
                        changed: None,
                        timing,
                        start,
                        end,
                    })?;
                }
            }
            for (key, changed) in &recurrence.overrides {
                let (start, end) = interval(tz, &changed.timing);
                if overlaps(start, end) {
                    push(Occurrence {
                        event,
                        key: Some(*key),
                        changed: Some(changed),
                        timing: changed.timing,
                        start,
                        end,
                    })?;
                }
            }
        }
    }
    out.sort_by_key(|o| (o.start, o.key));
    Ok(out)
}

fn push_bounded<'a>(out: &mut Vec<Occurrence<'a>>, occ: Occurrence<'a>) -> Result<(), Rejection> {
    out.push(occ);
    if out.len() > MAX_OCCURRENCES {
        return Err(Rejection::TooManyOccurrences);
    }
    Ok(())
}
