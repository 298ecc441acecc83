//! iCalendar (RFC 5545) in and out, with the `icalendar` crate's parser and
//! printer. Import turns a file into [`NewEvent`]s plus a report line per
//! item (imported, imported with notes, or skipped and why); the events then
//! travel as [`Command::Import`] batches, so an import replicates like any
//! other edit. Export prints what the store holds.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use icalendar::parser::{read_calendar, unfold, Component as Parsed, Property as ParsedProperty};
use icalendar::{Component, EventLike};

use super::command::{check_details, check_new_event, NewEvent, Stamp};
use super::model::*;
use super::recur::{self, from_utc, to_utc, zone};
use super::{Command, Store};

/// Our own property: the zone of an all-day event (whose dates have none).
const TZ_PROPERTY: &str = "X-RAFTCAL-TZ";
/// Largest .ics file read.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Most bytes of events in one import command, well under a relay frame.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error("the file is larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("not an iCalendar file: {0}")]
    Syntax(String),
}

/// What became of one item of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemStatus {
    /// Will be created as this event id; the notes say what was dropped.
    Imported {
        id: String,
        notes: Vec<String>,
    },
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemReport {
    /// UID (or component name when there is none) and summary, to name it.
    pub uid: String,
    pub summary: String,
    pub status: ItemStatus,
}

/// The outcome of reading a file: events to create and a line per item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportPlan {
    pub events: Vec<NewEvent>,
    pub report: Vec<ItemReport>,
}

/// Read `text` as events of `calendar`. Never panics; an item that cannot
/// be represented is skipped and reported, the others are kept.
pub fn parse(text: &str, calendar: &str) -> Result<ImportPlan, IcsError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(IcsError::TooLarge);
    }
    // CRLF everywhere, as RFC 5545 writes it: the parser is linear with CRLF
    // and quadratic with bare LF (2 000 events: 6 ms against 0.5 s).
    let unfolded = unfold(&text.replace("\r\n", "\n").replace('\n', "\r\n"));
    let parsed = read_calendar(&unfolded).map_err(|e| IcsError::Syntax(first_line(&e)))?;
    let zones = Zones::new(&parsed.components, &parsed.properties);
    let mut plan = ImportPlan::default();
    // Masters first, then their changed occurrences, grouped by UID.
    let mut masters: Vec<(String, &Parsed)> = Vec::new();
    let mut changed: BTreeMap<String, Vec<&Parsed>> = BTreeMap::new();
    for c in &parsed.components {
        match c.name.as_str() {
            "VEVENT" => {
                let uid = value(c, "UID").unwrap_or_default();
                if c.find_prop("RECURRENCE-ID").is_some() {
                    changed.entry(uid).or_default().push(c);
                } else {
                    masters.push((uid, c));
                }
            }
            "VTIMEZONE" => {}
            other => plan.report.push(ItemReport {
                uid: other.into(),
                summary: value(c, "SUMMARY").unwrap_or_default(),
                status: ItemStatus::Skipped(format!("{other} components are not calendar events")),
            }),
        }
    }
    let mut used = std::collections::BTreeSet::new();
    for (uid, master) in masters {
        let summary = value(master, "SUMMARY").unwrap_or_default();
        let overrides = changed.remove(&uid).unwrap_or_default();
        let status = match convert(&uid, master, &overrides, calendar, &zones, &mut used) {
            Ok((event, notes)) => {
                let id = event.id.clone();
                plan.events.push(event);
                ItemStatus::Imported { id, notes }
            }
            Err(why) => ItemStatus::Skipped(why),
        };
        plan.report.push(ItemReport { uid, summary, status });
    }
    for (uid, orphans) in changed {
        for c in orphans {
            plan.report.push(ItemReport {
                uid: uid.clone(),
                summary: value(c, "SUMMARY").unwrap_or_default(),
                status: ItemStatus::Skipped("a changed occurrence of a series that is not in the file".into()),
            });
        }
    }
    Ok(plan)
}

/// Split `events` into import commands of at most [`MAX_IMPORT_BATCH`]
/// events and [`MAX_BATCH_BYTES`] bytes each.
pub fn batches(events: Vec<NewEvent>, calendar: &str, stamp: &Stamp) -> Vec<Command> {
    let mut out = Vec::new();
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut bytes = 0;
    for event in events {
        let size = postcard::to_allocvec(&event).map_or(0, |b| b.len());
        if !batch.is_empty() && (batch.len() == MAX_IMPORT_BATCH || bytes + size > MAX_BATCH_BYTES) {
            out.push(import(std::mem::take(&mut batch), calendar, stamp));
            bytes = 0;
        }
        bytes += size;
        batch.push(event);
    }
    if !batch.is_empty() {
        out.push(import(batch, calendar, stamp));
    }
    out
}

fn import(events: Vec<NewEvent>, calendar: &str, stamp: &Stamp) -> Command {
    Command::Import {
        calendar: calendar.into(),
        events,
        stamp: stamp.clone(),
    }
}

/// Print one calendar (or all, with `None`) as an .ics file. Times keep
/// their IANA zone as TZID, which the common calendar programs resolve.
pub fn export(store: &Store, calendar: Option<&str>) -> String {
    let mut out = icalendar::Calendar::new();
    if let Some(c) = calendar.and_then(|id| store.calendar(id)) {
        out.append_property(icalendar::Property::new("X-WR-CALNAME", escape(&c.name)));
    }
    for event in store.events() {
        if calendar.is_some_and(|c| c != event.calendar) {
            continue;
        }
        let stamp = DateTime::from_timestamp_millis(event.modified_ms).unwrap_or_default();
        let mut master = base_event(event, stamp);
        set_text(
            &mut master,
            event.title(),
            &event.details.description,
            &event.details.location,
        );
        set_timing(&mut master, &event.details.timing, &event.details.tz);
        if let Some(resource) = &event.details.resource {
            master.append_property(icalendar::Property::new("RESOURCES", escape(resource)));
        }
        if let Some(r) = &event.recurrence {
            master.add_property("RRULE", &r.rule);
            for key in &r.exdates {
                master.append_multi_property(time_property("EXDATE", key, &event.details));
            }
        }
        out.push(master.done());
        for (key, changed) in event.recurrence.iter().flat_map(|r| &r.overrides) {
            let mut e = base_event(event, stamp);
            e.append_property(time_property("RECURRENCE-ID", key, &event.details));
            set_text(&mut e, &changed.title, &changed.description, &changed.location);
            set_timing(&mut e, &changed.timing, &event.details.tz);
            out.push(e.done());
        }
    }
    out.done().to_string()
}

fn base_event(event: &Event, stamp: DateTime<chrono::Utc>) -> icalendar::Event {
    let mut e = icalendar::Event::new();
    e.uid(&event.id)
        .timestamp(stamp)
        .last_modified(stamp)
        .add_property("SEQUENCE", (event.version - 1).to_string());
    e
}

fn set_text(e: &mut icalendar::Event, title: &str, description: &str, location: &str) {
    e.summary(title);
    if !description.is_empty() {
        e.description(description);
    }
    if !location.is_empty() {
        e.location(location);
    }
}

fn set_timing(e: &mut icalendar::Event, timing: &Timing, tz: &str) {
    match *timing {
        Timing::AllDay { start, end } => {
            e.append_property(date_property("DTSTART", start));
            e.append_property(date_property("DTEND", end));
            // Dates have no zone in iCalendar; keep the one bookings use.
            e.add_property(TZ_PROPERTY, tz);
        }
        Timing::Zoned { start, end } => {
            e.append_property(zoned_property("DTSTART", start, tz));
            e.append_property(zoned_property("DTEND", end, tz));
        }
    }
}

fn date_property(key: &str, date: NaiveDate) -> icalendar::Property {
    let mut p = icalendar::Property::new(key, date.format("%Y%m%d").to_string());
    p.add_parameter("VALUE", "DATE");
    p
}

fn zoned_property(key: &str, at: NaiveDateTime, tz: &str) -> icalendar::Property {
    if tz == "UTC" {
        return icalendar::Property::new(key, at.format("%Y%m%dT%H%M%SZ").to_string());
    }
    let mut p = icalendar::Property::new(key, at.format("%Y%m%dT%H%M%S").to_string());
    p.add_parameter("TZID", tz);
    p
}

/// An occurrence key (EXDATE, RECURRENCE-ID) in the series' own terms.
fn time_property(key: &str, at: &NaiveDateTime, details: &Details) -> icalendar::Property {
    if details.timing.is_all_day() {
        date_property(key, at.date())
    } else {
        zoned_property(key, *at, &details.tz)
    }
}

/// Escape a TEXT value the printer leaves alone (X- properties, lists).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

fn first_line(error: &str) -> String {
    error
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

/// A property's value; TEXT values arrive unescaped from the parser.
fn value(c: &Parsed, name: &str) -> Option<String> {
    c.find_prop(name).map(|p| p.val.as_str().to_owned())
}

fn param<'a>(p: &'a ParsedProperty, name: &str) -> Option<&'a str> {
    p.params
        .iter()
        .find(|q| q.key.as_str().eq_ignore_ascii_case(name))
        .and_then(|q| q.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

/// How the file names time zones, resolved to IANA zones.
struct Zones {
    /// TZID → X-LIC-LOCATION of its VTIMEZONE.
    locations: BTreeMap<String, String>,
    /// TZID → the zone with its VTIMEZONE's offsets (see [`match_offsets`]).
    by_offsets: BTreeMap<String, Tz>,
    /// The calendar's X-WR-TIMEZONE, for floating times.
    default: Option<Tz>,
}

impl Zones {
    fn new(components: &[Parsed], properties: &[ParsedProperty]) -> Self {
        let mut locations = BTreeMap::new();
        let mut by_offsets = BTreeMap::new();
        for c in components.iter().filter(|c| c.name == "VTIMEZONE") {
            let Some(id) = value(c, "TZID") else { continue };
            if let Some(loc) = value(c, "X-LIC-LOCATION") {
                locations.insert(id.clone(), loc);
            }
            // The newest STANDARD and DAYLIGHT observances say today's rules.
            let newest = |kind: &str| {
                c.components
                    .iter()
                    .filter(|o| o.name == kind)
                    .filter_map(|o| {
                        Some((
                            value(o, "DTSTART").unwrap_or_default(),
                            parse_offset(&value(o, "TZOFFSETTO")?)?,
                        ))
                    })
                    .max()
                    .map(|(_, offset)| offset)
            };
            if let Some(tz) = newest("STANDARD").and_then(|standard| match_offsets(standard, newest("DAYLIGHT"))) {
                by_offsets.insert(id, tz);
            }
        }
        let default = properties
            .iter()
            .find(|p| p.name == "X-WR-TIMEZONE")
            .and_then(|p| zone(p.val.as_str()).ok());
        Zones {
            locations,
            by_offsets,
            default,
        }
    }

    /// The IANA zone for a TZID: a name, else a zone with its VTIMEZONE's
    /// offsets (see [`match_offsets`]).
    fn resolve(&self, tzid: &str) -> Result<Tz, String> {
        self.named(tzid)
            .or_else(|| self.by_offsets(tzid.trim()))
            .ok_or_else(|| format!("unknown time zone {:?}", tzid.trim()))
    }

    /// The zone a TZID names: itself, its VTIMEZONE's X-LIC-LOCATION, a
    /// prefixed name (`/mozilla.org/…/Europe/Berlin`), or a Windows name.
    fn named(&self, tzid: &str) -> Option<Tz> {
        let tzid = tzid.trim();
        if let Ok(tz) = zone(tzid) {
            return Some(tz);
        }
        if let Some(tz) = self.locations.get(tzid).and_then(|l| zone(l).ok()) {
            return Some(tz);
        }
        let segments: Vec<&str> = tzid.split('/').filter(|s| !s.is_empty()).collect();
        for n in [3, 2] {
            if segments.len() >= n {
                if let Ok(tz) = zone(&segments[segments.len() - n..].join("/")) {
                    return Some(tz);
                }
            }
        }
        windows_zone(tzid)
    }

    /// The zone a TZID was matched to by offsets alone, if that is how.
    fn guessed(&self, tzid: &str) -> Option<Tz> {
        match self.named(tzid) {
            Some(_) => None,
            None => self.by_offsets(tzid.trim()),
        }
    }

    fn by_offsets(&self, tzid: &str) -> Option<Tz> {
        self.by_offsets.get(tzid).copied()
    }
}

/// A zone known only by its VTIMEZONE (Outlook's "Customized Time Zone"):
/// the first IANA zone whose offsets in January and July 2026 are the
/// VTIMEZONE's standard and daylight offsets, common zones first. Right for
/// today's rules in that region; the import notes the guess.
fn match_offsets(standard: i32, daylight: Option<i32>) -> Option<Tz> {
    let mut want = [standard, daylight.unwrap_or(standard)];
    want.sort();
    let offset_at = |tz: Tz, month| {
        let at = NaiveDate::from_ymd_opt(2026, month, 15)?.and_hms_opt(12, 0, 0)?;
        Some(tz.offset_from_utc_datetime(&at).fix().local_minus_utc())
    };
    let common = WINDOWS_ZONES.iter().filter_map(|(_, iana)| iana.parse::<Tz>().ok());
    common.chain(chrono_tz::TZ_VARIANTS.iter().copied()).find(|&tz| {
        let mut got = [offset_at(tz, 1), offset_at(tz, 7)];
        got.sort();
        got == want.map(Some)
    })
}

/// A UTC offset such as `+0100`, `-0500` or `+053000`, in seconds.
fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).map_or(0, |d| d.parse::<i32>().unwrap_or(0));
    Some(sign * (n(0..2) * 3600 + n(2..4) * 60 + n(4..6)))
}

/// The commonest Windows zone names, as Outlook and Exchange write them,
/// mapped as in Unicode CLDR's windowsZones.xml (territory "001").
const WINDOWS_ZONES: [(&str, &str); 18] = [
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("India Standard Time", "Asia/Kolkata"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
];

fn windows_zone(name: &str) -> Option<Tz> {
    WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| *windows == name)
        .and_then(|(_, iana)| iana.parse().ok())
}

/// A DTSTART/DTEND/EXDATE-style value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stamped {
    Date(NaiveDate),
    /// Wall-clock time in the zone (UTC for `Z` values).
    Time(NaiveDateTime, Tz),
}

impl Stamped {
    /// This instant as a wall-clock time in `tz` (dates stay dates).
    fn key_in(&self, tz: Tz) -> NaiveDateTime {
        match *self {
            Stamped::Date(d) => d.and_hms_opt(0, 0, 0).expect("midnight"),
            Stamped::Time(t, from) => from_utc(tz, to_utc(from, t)),
        }
    }
}

fn stamped_values(p: &ParsedProperty, zones: &Zones) -> Result<Vec<Stamped>, String> {
    let tz = match param(p, "TZID") {
        Some(id) => Some(zones.resolve(id)?),
        None => None,
    };
    let is_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    p.val
        .as_str()
        .split(',')
        .map(|raw| {
            let raw = raw.trim();
            let bad = || format!("{} {raw:?} is not a date or date-time", p.name.as_str());
            if is_date || raw.len() == 8 {
                return NaiveDate::parse_from_str(raw, "%Y%m%d")
                    .map(Stamped::Date)
                    .map_err(|_| bad());
            }
            if let Some(utc) = raw.strip_suffix('Z') {
                let t = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
                return Ok(Stamped::Time(t, Tz::UTC));
            }
            let t = NaiveDateTime::parse_from_str(raw, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
            Ok(Stamped::Time(t, tz.or(zones.default).unwrap_or(Tz::UTC)))
        })
        .collect()
}

fn stamped(c: &Parsed, name: &str, zones: &Zones) -> Result<Option<Stamped>, String> {
    match c.find_prop(name) {
        None => Ok(None),
        Some(p) => Ok(stamped_values(p, zones)?.into_iter().next()),
    }
}

/// DTSTART, DTEND or DURATION of a VEVENT as a timing in zone `tz` (the
/// start's own zone when `tz` is `None`).
fn timing_of(c: &Parsed, zones: &Zones, tz: Option<Tz>) -> Result<(Timing, Tz), String> {
    let start = stamped(c, "DTSTART", zones)?.ok_or("no DTSTART")?;
    let end = stamped(c, "DTEND", zones)?;
    let duration = match c.find_prop("DURATION") {
        Some(p) => Some(
            parse_duration(p.val.as_str()).ok_or_else(|| format!("DURATION {:?} is not understood", p.val.as_str()))?,
        ),
        None => None,
    };
    match start {
        Stamped::Date(s) => {
            let e = match (end, duration) {
                (Some(Stamped::Date(e)), _) => e,
                (Some(Stamped::Time(..)), _) => return Err("an all-day start with a timed end".into()),
                (None, Some(d)) => s
                    .checked_add_signed(Duration::days(d.num_days().max(1)))
                    .ok_or("DURATION is out of range")?,
                (None, None) => s + Duration::days(1),
            };
            let own = value(c, TZ_PROPERTY).and_then(|z| zone(&z).ok());
            let tz = tz.or(own).or(zones.default).unwrap_or(Tz::UTC);
            Ok((Timing::AllDay { start: s, end: e }, tz))
        }
        Stamped::Time(_, own) => {
            let tz = tz.unwrap_or(own);
            let s = start.key_in(tz);
            let e = match (end, duration) {
                (Some(end @ Stamped::Time(..)), _) => end.key_in(tz),
                (Some(Stamped::Date(_)), _) => return Err("a timed start with an all-day end".into()),
                (None, Some(d)) => {
                    let end = to_utc(tz, s).checked_add_signed(d).ok_or("DURATION is out of range")?;
                    from_utc(tz, end)
                }
                (None, None) => s,
            };
            Ok((Timing::Zoned { start: s, end: e }, tz))
        }
    }
}

/// An RFC 5545 DURATION such as `PT1H30M`, `P1D` or `-PT15M`.
fn parse_duration(text: &str) -> Option<Duration> {
    let (sign, rest) = match text.trim().strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.trim().strip_prefix('+').unwrap_or(text.trim())),
    };
    let rest = rest.strip_prefix('P')?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    for ch in rest.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'T' if number.is_empty() => in_time = true,
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                // Checked all the way: a file may say P999999999999W.
                let part = match (ch, in_time) {
                    ('W', false) => Duration::try_weeks(n),
                    ('D', false) => Duration::try_days(n),
                    ('H', true) => Duration::try_hours(n),
                    ('M', true) => Duration::try_minutes(n),
                    ('S', true) => Duration::try_seconds(n),
                    _ => None,
                }?;
                total = total.checked_add(&part)?;
            }
            _ => return None,
        }
    }
    if !number.is_empty() {
        return None;
    }
    Some(if sign < 0 { -total } else { total })
}

/// An id for a UID: itself when it fits, else a stable hash of it.
fn id_for(uid: &str, used: &mut std::collections::BTreeSet<String>) -> String {
    let base = if !uid.is_empty() && uid.chars().count() <= MAX_ID_CHARS {
        uid.to_owned()
    } else {
        // FNV-1a: stable across builds and targets.
        let hash = uid.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        format!("ics-{hash:016x}")
    };
    let mut id = base.clone();
    let mut n = 2;
    while !used.insert(id.clone()) {
        id = format!("{}-{n}", base.chars().take(MAX_ID_CHARS - 6).collect::<String>());
        n += 1;
    }
    id
}

fn convert(
    uid: &str,
    master: &Parsed,
    changed: &[&Parsed],
    calendar: &str,
    zones: &Zones,
    used: &mut std::collections::BTreeSet<String>,
) -> Result<(NewEvent, Vec<String>), String> {
    let mut notes = Vec::new();
    if value(master, "STATUS").is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED")) {
        return Err("the event is cancelled".into());
    }
    let (timing, tz) = timing_of(master, zones, None)?;
    let mut title = value(master, "SUMMARY").unwrap_or_default().trim().to_owned();
    if title.is_empty() {
        title = "(no title)".into();
        notes.push("it had no title".into());
    }
    // RESOURCES is read as one name: the parser has already unescaped it, so
    // a comma inside a name and between names look the same.
    let resource = value(master, "RESOURCES")
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let details = Details {
        title,
        description: value(master, "DESCRIPTION").unwrap_or_default(),
        location: value(master, "LOCATION").unwrap_or_default(),
        timing,
        tz: tz.name().into(),
        resource,
    };
    check_details(&details).map_err(|e| e.to_string())?;
    if let Some(tzid) = master.find_prop("DTSTART").and_then(|p| param(p, "TZID")) {
        if let Some(tz) = zones.guessed(tzid) {
            notes.push(format!("time zone {tzid:?} was read as {} (same offsets)", tz.name()));
        }
    }
    let rules: Vec<&ParsedProperty> = master.properties.iter().filter(|p| p.name == "RRULE").collect();
    if rules.len() > 1 {
        return Err("more than one RRULE".into());
    }
    for unsupported in ["RDATE", "EXRULE"] {
        if master.find_prop(unsupported).is_some() {
            notes.push(format!("{unsupported} was left out (not supported)"));
        }
    }
    let mut recurrence = None;
    if let Some(rule) = rules.first() {
        let rule = recur::normalize_rule(rule.val.as_str(), &details).map_err(|e| e.to_string())?;
        let mut r = Recurrence::new(rule);
        for p in master.properties.iter().filter(|p| p.name == "EXDATE") {
            for v in stamped_values(p, zones)? {
                r.exdates.insert(v.key_in(tz));
            }
        }
        for c in changed {
            let rid = stamped(c, "RECURRENCE-ID", zones)?.ok_or("a changed occurrence without RECURRENCE-ID")?;
            let key = rid.key_in(tz);
            if value(c, "STATUS").is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED")) {
                r.exdates.insert(key);
                continue;
            }
            let (timing, _) = timing_of(c, zones, Some(tz))?;
            let title = value(c, "SUMMARY")
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| details.title.clone());
            r.overrides.insert(
                key,
                Override {
                    title: title.trim().into(),
                    description: value(c, "DESCRIPTION").unwrap_or_default(),
                    location: value(c, "LOCATION").unwrap_or_default(),
                    timing,
                },
            );
        }
        recurrence = Some(r);
    } else if !changed.is_empty() {
        notes.push(format!(
            "{} changed occurrences of an event that does not repeat were left out",
            changed.len()
        ));
    }
    let mut event = NewEvent {
        id: id_for(uid, used),
        calendar: calendar.into(),
        details,
        recurrence,
    };
    drop_stray_exceptions(&mut event, &mut notes)?;
    check_new_event(&event).map_err(|e| e.to_string())?;
    Ok((event, notes))
}

/// EXDATEs and RECURRENCE-IDs that name no occurrence are legal in a file
/// but mean nothing: drop them, and say so.
fn drop_stray_exceptions(event: &mut NewEvent, notes: &mut Vec<String>) -> Result<(), String> {
    let Some(r) = &event.recurrence else {
        return Ok(());
    };
    let Some(last) = r.exdates.iter().chain(r.overrides.keys()).max().copied() else {
        return Ok(());
    };
    let probe = Event {
        id: event.id.clone(),
        calendar: event.calendar.clone(),
        details: event.details.clone(),
        recurrence: Some(Recurrence::new(r.rule.clone())),
        author: String::new(),
        modified_ms: 0,
        version: 1,
    };
    let tz = zone(&event.details.tz).map_err(|e| e.to_string())?;
    let keys = recur::keys(&probe, to_utc(tz, last) + Duration::days(2)).map_err(|e| e.to_string())?;
    let r = event.recurrence.as_mut().expect("checked");
    let before = r.exdates.len() + r.overrides.len();
    r.exdates.retain(|k| keys.binary_search(k).is_ok());
    r.overrides.retain(|k, _| keys.binary_search(k).is_ok());
    let dropped = before - r.exdates.len() - r.overrides.len();
    if dropped > 0 {
        notes.push(format!("{dropped} exceptions that match no occurrence were left out"));
    }
    Ok(())
}
