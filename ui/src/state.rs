//! The UI's state as a pure reducer (no browser APIs), so it is tested
//! natively. Effects — booting the node, submitting — live in `app`.

use std::rc::Rc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use node_wasm::calendar::query::{Shown, When};
use node_wasm::calendar::recur::to_utc;
use node_wasm::calendar::{
    check_details, Command, Details, Edit, NewEvent, Recurrence, Rejection, RuleChange, Scope, Stamp, Store, Timing,
};
use node_wasm::raft::Role;
use node_wasm::view::View;

/// Nodes per room, slots `1..=CLUSTER_SIZE`.
pub const CLUSTER_SIZE: u16 = 3;

/// What the page's URL asks for: `?room=<name>&node=<n>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub room: String,
    pub node: Option<u16>,
    /// The relay's access token, passed through as written (still URL-encoded).
    pub token: Option<String>,
}

/// Parse `location.search` (with or without the leading `?`).
pub fn parse_query(search: &str) -> Result<PageQuery, String> {
    let mut query = PageQuery {
        room: "default".into(),
        node: None,
        token: None,
    };
    for pair in search.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "room" => {
                let ok = (1..=64).contains(&value.len())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(format!(
                        "\"{value}\" is not a room name: use 1 to 64 letters, digits, '-' or '_'"
                    ));
                }
                query.room = value.into();
            }
            "node" => match value.parse::<u16>() {
                Ok(n) if (1..=CLUSTER_SIZE).contains(&n) => query.node = Some(n),
                _ => return Err(format!("node must be 1 to {CLUSTER_SIZE}, not \"{value}\"")),
            },
            "token" if !value.is_empty() => query.token = Some(value.into()),
            _ => {} // other parameters are not ours
        }
    }
    Ok(query)
}

/// Parse an `<input type="datetime-local">` value.
pub fn parse_local(value: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

pub fn format_local(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

/// The event form's fields, as typed. Times are wall-clock times in `tz`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormData {
    pub title: String,
    pub all_day: bool,
    /// `datetime-local` values, or `date` values for all-day events.
    pub start: String,
    pub end: String,
    pub tz: String,
    pub calendar: String,
    /// "" (does not repeat), DAILY, WEEKLY, MONTHLY, YEARLY, or an RRULE.
    pub repeat: String,
    pub resource: String,
    pub location: String,
    pub description: String,
}

/// Which part of a series an edit or delete is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    This,
    Following,
    All,
}

/// The event (and occurrence) the form is editing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editing {
    pub id: String,
    /// The version the user is looking at: the cluster refuses the edit if
    /// someone else changed the event since.
    pub version: u64,
    /// The occurrence clicked, for a series.
    pub occurrence: Option<NaiveDateTime>,
    /// The series' rule, to tell whether the form changed it.
    pub rule: Option<String>,
    /// The series' first timing and the clicked occurrence's, to move the
    /// whole series by what the user moved this one.
    pub series_timing: Timing,
    pub occurrence_timing: Timing,
}

pub fn parse_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

fn shorthand(rule: &str) -> Option<&'static str> {
    ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
        .into_iter()
        .find(|f| rule == format!("FREQ={f}"))
}

/// The RRULE the form's repeat field stands for.
pub fn rule_from_form(repeat: &str) -> Option<String> {
    let repeat = repeat.trim();
    match repeat {
        "" => None,
        "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY" => Some(format!("FREQ={repeat}")),
        custom => Some(custom.to_owned()),
    }
}

/// The form's repeat field for a stored rule.
pub fn repeat_field(rule: Option<&str>) -> String {
    match rule {
        None => String::new(),
        Some(r) => shorthand(r).map_or_else(|| r.to_owned(), str::to_owned),
    }
}

fn timing_from_form(form: &FormData) -> Result<Timing, String> {
    if form.all_day {
        let start = parse_date(&form.start).ok_or("Pick a start date.")?;
        let last = parse_date(&form.end).ok_or("Pick an end date.")?;
        // The form shows the last day; stored ends are exclusive.
        return Ok(Timing::AllDay {
            start,
            end: last + chrono::Duration::days(1),
        });
    }
    let start = parse_local(&form.start).ok_or("Pick a start date and time.")?;
    let end = parse_local(&form.end).ok_or("Pick an end date and time.")?;
    Ok(Timing::Zoned { start, end })
}

/// The form's fields as event details, or what is wrong with them.
pub fn details_from_form(form: &FormData) -> Result<Details, String> {
    let resource = form.resource.trim();
    let details = Details {
        title: form.title.trim().into(),
        description: form.description.trim_end().into(),
        location: form.location.trim().into(),
        timing: timing_from_form(form)?,
        tz: form.tz.trim().into(),
        resource: (!resource.is_empty()).then(|| resource.to_owned()),
    };
    check_details(&details).map_err(|r| rejection_message(&r))?;
    Ok(details)
}

/// A new event from the form.
pub fn create_command(id: String, form: &FormData, stamp: Stamp) -> Result<Command, String> {
    let event = NewEvent {
        id,
        calendar: form.calendar.clone(),
        details: details_from_form(form)?,
        recurrence: rule_from_form(&form.repeat).map(Recurrence::new),
    };
    let command = Command::CreateEvent { event, stamp };
    command.validate().map_err(|r| rejection_message(&r))?;
    Ok(command)
}

/// An edit of `editing` from the form, for the part of a series `which`
/// names (`new_id` names the new series a "this and following" edit starts).
pub fn update_command(
    editing: &Editing,
    which: Which,
    form: &FormData,
    stamp: Stamp,
    new_id: String,
) -> Result<Command, String> {
    let mut details = details_from_form(form)?;
    let rule = rule_from_form(&form.repeat);
    let rule_change = |old: &Option<String>| match (&rule, old) {
        (None, _) => RuleChange::Clear,
        (Some(new), Some(old)) if new == old => RuleChange::Keep,
        (Some(new), _) => RuleChange::Set(new.clone()),
    };
    let edit = match (editing.occurrence, which) {
        (None, _) | (Some(_), Which::All) => {
            if editing.occurrence.is_some() {
                // The form shows one occurrence: move the series by as much.
                details.timing = shift(&editing.series_timing, &editing.occurrence_timing, &details.timing);
            }
            Edit::All {
                rule: rule_change(&editing.rule),
            }
        }
        (Some(occurrence), Which::This) => Edit::This { occurrence },
        (Some(occurrence), Which::Following) => Edit::ThisAndFollowing {
            occurrence,
            new_id,
            rule: rule_change(&editing.rule),
        },
    };
    let command = Command::UpdateEvent {
        id: editing.id.clone(),
        version: editing.version,
        edit,
        details,
        stamp,
    };
    command.validate().map_err(|r| rejection_message(&r))?;
    Ok(command)
}

/// `series` moved by how far `edited` is from `shown`, with `edited`'s length.
fn shift(series: &Timing, shown: &Timing, edited: &Timing) -> Timing {
    match (series, shown, edited) {
        (Timing::Zoned { start: s0, .. }, Timing::Zoned { start: o0, .. }, Timing::Zoned { start, end }) => {
            let moved = *s0 + (*start - *o0);
            Timing::Zoned {
                start: moved,
                end: moved + (*end - *start),
            }
        }
        (Timing::AllDay { start: s0, .. }, Timing::AllDay { start: o0, .. }, Timing::AllDay { start, end }) => {
            let moved = *s0 + (*start - *o0);
            Timing::AllDay {
                start: moved,
                end: moved + (*end - *start),
            }
        }
        // Switching between all-day and timed: the series starts as edited.
        _ => *edited,
    }
}

pub fn delete_command(editing: &Editing, which: Which, stamp: Stamp) -> Command {
    let scope = match (editing.occurrence, which) {
        (Some(k), Which::This) => Scope::This(k),
        (Some(k), Which::Following) => Scope::ThisAndFollowing(k),
        _ => Scope::All,
    };
    Command::DeleteEvent {
        id: editing.id.clone(),
        version: editing.version,
        scope,
        stamp,
    }
}

/// The form filled in for an occurrence the user clicked.
pub fn form_for(store: &Store, shown: &Shown) -> Option<(FormData, Editing)> {
    let event = store.get(&shown.event)?;
    let rule = event.recurrence.as_ref().map(|r| r.rule.clone());
    let (start, end, all_day) = match shown.timing {
        Timing::Zoned { start, end } => (format_local(start), format_local(end), false),
        Timing::AllDay { start, end } => (
            start.format("%Y-%m-%d").to_string(),
            (end - chrono::Duration::days(1)).format("%Y-%m-%d").to_string(),
            true,
        ),
    };
    let form = FormData {
        title: shown.title.clone(),
        all_day,
        start,
        end,
        tz: event.details.tz.clone(),
        calendar: event.calendar.clone(),
        repeat: repeat_field(rule.as_deref()),
        resource: event.details.resource.clone().unwrap_or_default(),
        location: shown.location.clone(),
        description: shown.description.clone(),
    };
    let editing = Editing {
        id: event.id.clone(),
        version: event.version,
        occurrence: shown.occurrence,
        rule,
        series_timing: event.details.timing,
        occurrence_timing: shown.timing,
    };
    Some((form, editing))
}

/// What to tell a person about a refusal.
pub fn rejection_message(r: &Rejection) -> String {
    match r {
        Rejection::StaleVersion { .. } => {
            "Changed by someone else while you were editing: your change was not saved. The calendar now shows theirs; open it again to edit.".into()
        }
        other => capitalise(&other.to_string()),
    }
}

/// Occurrences from `first` for `days` days in zone `tz`, by day.
pub fn agenda(store: &Store, first: NaiveDate, days: i64, tz: Tz) -> Vec<(NaiveDate, Vec<Shown>)> {
    let from = to_utc(tz, first.and_time(NaiveTime::MIN));
    let to = to_utc(tz, (first + chrono::Duration::days(days)).and_time(NaiveTime::MIN));
    let mut out: Vec<(NaiveDate, Vec<Shown>)> = Vec::new();
    for shown in store.occurrences_between(from, to, tz) {
        let day = match shown.when {
            When::AllDay { start, .. } => start.max(first),
            When::Timed { start, .. } => start.date().max(first),
        };
        match out.last_mut() {
            Some((d, list)) if *d == day => list.push(shown),
            _ => out.push((day, vec![shown])),
        }
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

/// How a command waiting in the outbox is shown: its title, and whether it
/// creates something (shown like an event) or changes something.
pub fn pending_label(command: &Command) -> (String, bool) {
    match command {
        Command::CreateEvent { event, .. } => (event.details.title.clone(), true),
        Command::UpdateEvent { details, .. } => (format!("change to “{}”", details.title), false),
        Command::DeleteEvent { id, .. } => (format!("deletion of {id}"), false),
        Command::Import { events, .. } => (format!("import of {} events", events.len()), false),
        Command::CreateCalendar { name, .. } => (format!("new calendar “{name}”"), false),
        Command::UpdateCalendar { name, .. } => (format!("change to calendar “{name}”"), false),
        Command::DeleteCalendar { id, .. } => (format!("deletion of calendar {id}"), false),
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Leader => "Leader",
        Role::Follower => "Follower",
        Role::Candidate => "Candidate",
        Role::PreCandidate => "Pre-candidate",
    }
}

/// Why this tab cannot commit right now, if it cannot: no leader is known,
/// and the nodes it would need are not all online. `None` while a leader leads.
pub fn read_only_reason(view: &View) -> Option<String> {
    if view.status.leader.is_some() || view.observer {
        return None;
    }
    let missing: Vec<String> = (1..=CLUSTER_SIZE)
        .filter(|n| !view.online.contains(n))
        .map(|n| n.to_string())
        .collect();
    Some(match (view.connected, missing.as_slice()) {
        (false, _) => "the relay is unreachable".into(),
        (true, []) => "the nodes are electing a leader".into(),
        (true, [one]) => format!("node {one} is offline"),
        (true, many) => format!("nodes {} are offline", many.join(" and ")),
    })
}

/// Progress of an .ics import: batches go through the cluster one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub total: usize,
    pub created: usize,
    /// One line per item not imported: skipped when read, or refused.
    pub problems: Vec<String>,
    pub done: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    pub view: Option<Rc<View>>,
    pub boot_error: Option<String>,
    pub form_error: Option<String>,
    /// What the form is editing, with the fields it opened with.
    pub editing: Option<(Editing, FormData)>,
    /// A new event the cluster refused, given back to the form to fix.
    pub draft: Option<FormData>,
    /// Bumped whenever the form must reset to new contents.
    pub form_generation: u32,
    pub import: Option<ImportProgress>,
    pub search: String,
}

pub enum Action {
    NodeChanged(Rc<View>),
    BootFailed(String),
    Submitted,
    SubmitFailed(String),
    /// The cluster refused what the form sent: say why and give the form
    /// back (unless it was stale, when only fresh data can help).
    Refused {
        message: String,
        restore: Option<Box<(FormData, Option<Editing>)>>,
    },
    Edit(Box<(Editing, FormData)>),
    /// The edit was saved or abandoned: back to a new-event form.
    StopEditing,
    ImportStarted {
        total: usize,
        skipped: Vec<String>,
    },
    ImportBatch {
        created: usize,
        refused: Vec<String>,
    },
    ImportFinished,
    Search(String),
}

impl AppState {
    pub fn reduce(mut self, action: Action) -> Self {
        match action {
            Action::NodeChanged(view) => self.view = Some(view),
            Action::BootFailed(message) => self.boot_error = Some(message),
            Action::Submitted => self.form_error = None,
            Action::SubmitFailed(message) => self.form_error = Some(message),
            Action::Edit(editing) => {
                self.editing = Some(*editing);
                self.form_error = None;
                self.form_generation += 1;
            }
            Action::StopEditing => {
                self.editing = None;
                self.draft = None;
                self.form_generation += 1;
            }
            Action::Refused { message, restore } => {
                self.form_error = Some(message);
                // Only into an idle form: never over another edit begun since.
                if let (Some(restore), None, None) = (restore, &self.editing, &self.draft) {
                    let (form, editing) = *restore;
                    match editing {
                        Some(e) => self.editing = Some((e, form)),
                        None => self.draft = Some(form),
                    }
                    self.form_generation += 1;
                }
            }
            Action::ImportStarted { total, skipped } => {
                self.import = Some(ImportProgress {
                    total,
                    created: 0,
                    problems: skipped,
                    done: false,
                })
            }
            Action::ImportBatch { created, refused } => {
                if let Some(p) = self.import.as_mut() {
                    p.created += created;
                    p.problems.extend(refused);
                }
            }
            Action::ImportFinished => {
                if let Some(p) = self.import.as_mut() {
                    p.done = true;
                }
            }
            Action::Search(text) => self.search = text,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_wasm::calendar::{Outcome, DEFAULT_CALENDAR};
    use node_wasm::raft::Status;

    fn at(s: &str) -> NaiveDateTime {
        parse_local(s).unwrap()
    }

    fn stamp() -> Stamp {
        Stamp {
            author: "tab 1".into(),
            at_ms: 0,
        }
    }

    fn view() -> View {
        View {
            room: "default".into(),
            slot: 1,
            status: Status {
                id: 1,
                role: Role::Follower,
                term: 1,
                leader: Some(2),
                commit: 1,
                applied: 1,
                last_index: 1,
                snapshot_index: 0,
            },
            store: Default::default(),
            connected: true,
            online: vec![1, 2, 3],
            fault: None,
            pending: vec![],
            notice: None,
            observer: false,
        }
    }

    fn form(title: &str, start: &str, end: &str) -> FormData {
        FormData {
            title: title.into(),
            start: start.into(),
            end: end.into(),
            tz: "Europe/Berlin".into(),
            calendar: DEFAULT_CALENDAR.into(),
            ..FormData::default()
        }
    }

    #[test]
    fn query_defaults_and_checks() {
        assert_eq!(
            parse_query(""),
            Ok(PageQuery {
                room: "default".into(),
                node: None,
                token: None
            })
        );
        assert_eq!(
            parse_query("?room=team-a&node=2&utm=x&token=s%26cret"),
            Ok(PageQuery {
                room: "team-a".into(),
                node: Some(2),
                token: Some("s%26cret".into())
            })
        );
        assert!(parse_query("?room=").is_err());
        assert!(parse_query("?room=a%20b").is_err());
        assert!(parse_query("?node=4").unwrap_err().contains("1 to 3"));
        assert!(parse_query("?node=x").is_err());
    }

    #[test]
    fn form_fields_become_a_command_or_a_clear_message() {
        let ok = create_command(
            "id1".into(),
            &form("  Standup ", "2026-12-04T09:00", "2026-12-04T09:15"),
            stamp(),
        )
        .unwrap();
        let Command::CreateEvent { event, .. } = &ok else {
            panic!("{ok:?}")
        };
        assert_eq!(event.details.title, "Standup");
        assert_eq!(
            event.details.timing,
            Timing::Zoned {
                start: at("2026-12-04T09:00"),
                end: at("2026-12-04T09:15")
            }
        );
        assert_eq!(
            create_command("i".into(), &form("", "2026-12-04T09:00", "2026-12-04T09:15"), stamp()),
            Err("The title is empty.".into())
        );
        assert_eq!(
            create_command("i".into(), &form("x", "2026-12-04T10:00", "2026-12-04T09:15"), stamp()),
            Err("The event ends before it starts.".into())
        );
        assert!(create_command("i".into(), &form("x", "", "2026-12-04T09:15"), stamp()).is_err());
        let mut zone = form("x", "2026-12-04T09:00", "2026-12-04T09:15");
        zone.tz = "Berlin".into();
        assert!(create_command("i".into(), &zone, stamp()).unwrap_err().contains("IANA"));
        // All-day: the form's end is the last day, stored exclusive.
        let mut day = form("Trip", "2026-12-24", "2026-12-26");
        day.all_day = true;
        day.repeat = "YEARLY".into();
        let Ok(Command::CreateEvent { event, .. }) = create_command("t".into(), &day, stamp()) else {
            panic!()
        };
        assert_eq!(
            event.details.timing,
            Timing::AllDay {
                start: parse_date("2026-12-24").unwrap(),
                end: parse_date("2026-12-27").unwrap()
            }
        );
        assert_eq!(event.recurrence.unwrap().rule, "FREQ=YEARLY");
    }

    #[test]
    fn editing_an_occurrence_turns_into_the_right_series_command() {
        let mut store = Store::default();
        let mut weekly = form("Sync", "2026-03-02T09:00", "2026-03-02T10:00");
        weekly.repeat = "FREQ=WEEKLY;COUNT=4".into();
        store
            .apply(create_command("w".into(), &weekly, stamp()).unwrap())
            .unwrap();
        let shown = store.occurrences_between(at("2026-03-08T00:00"), at("2026-03-14T00:00"), chrono_tz::UTC);
        let (mut f, editing) = form_for(&store, &shown[0]).unwrap();
        assert_eq!(
            (f.start.as_str(), f.repeat.as_str()),
            ("2026-03-09T09:00", "FREQ=WEEKLY;COUNT=4")
        );
        assert_eq!(editing.occurrence, Some(at("2026-03-09T09:00")));
        // Moving "all" from the second occurrence moves the series by as much.
        f.start = "2026-03-09T11:00".into();
        f.end = "2026-03-09T12:00".into();
        let all = update_command(&editing, Which::All, &f, stamp(), "n".into()).unwrap();
        assert_eq!(
            store.apply(all),
            Ok(Outcome::Updated {
                id: "w".into(),
                version: 2
            })
        );
        assert_eq!(
            store.get("w").unwrap().details.timing,
            Timing::Zoned {
                start: at("2026-03-02T11:00"),
                end: at("2026-03-02T12:00")
            }
        );
        // The form still holds version 1: the cluster says someone else changed it.
        let stale = update_command(&editing, Which::This, &f, stamp(), "n".into()).unwrap();
        let refused = store.apply(stale).unwrap_err();
        assert!(rejection_message(&refused).starts_with("Changed by someone else"));
        // This and following, from fresh data.
        let shown = store.occurrences_between(at("2026-03-15T00:00"), at("2026-03-20T00:00"), chrono_tz::UTC);
        let (f, editing) = form_for(&store, &shown[0]).unwrap();
        let split = update_command(&editing, Which::Following, &f, stamp(), "w2".into()).unwrap();
        assert_eq!(
            store.apply(split),
            Ok(Outcome::Split {
                id: "w".into(),
                new_id: "w2".into()
            })
        );
        let (_, editing) = form_for(
            &store,
            &store.occurrences_between(at("2026-03-01T00:00"), at("2026-03-03T00:00"), chrono_tz::UTC)[0],
        )
        .unwrap();
        assert_eq!(
            store.apply(delete_command(&editing, Which::This, stamp())),
            Ok(Outcome::Updated {
                id: "w".into(),
                version: 4
            })
        );
        let days = agenda(&store, parse_date("2026-03-01").unwrap(), 31, chrono_tz::Europe::Berlin);
        let titles: Vec<_> = days
            .iter()
            .map(|(d, l)| (d.format("%d").to_string(), l.len()))
            .collect();
        assert_eq!(
            titles,
            [("09".to_string(), 1), ("16".to_string(), 1), ("23".to_string(), 1)]
        );
    }

    #[test]
    fn read_only_says_which_nodes_are_missing() {
        let mut v = view();
        assert_eq!(read_only_reason(&v), None, "a leader is known");
        v.status.leader = None;
        v.online = vec![1];
        assert_eq!(read_only_reason(&v).as_deref(), Some("nodes 2 and 3 are offline"));
        v.online = vec![1, 3];
        assert_eq!(read_only_reason(&v).as_deref(), Some("node 2 is offline"));
        v.online = vec![1, 2, 3];
        assert_eq!(read_only_reason(&v).as_deref(), Some("the nodes are electing a leader"));
        v.connected = false;
        assert_eq!(read_only_reason(&v).as_deref(), Some("the relay is unreachable"));
    }

    #[test]
    fn a_failed_submit_is_shown_until_the_next_one() {
        let state = AppState::default().reduce(Action::SubmitFailed("Not saved.".into()));
        assert_eq!(state.form_error.as_deref(), Some("Not saved."));
        let state = state.reduce(Action::Submitted);
        assert_eq!(state.form_error, None);
    }

    #[test]
    fn a_refused_form_comes_back_to_fix_unless_it_was_stale() {
        let draft = form("Clash", "2026-12-04T09:00", "2026-12-04T10:00");
        let state = AppState::default().reduce(Action::Refused {
            message: "Room 1 is already booked".into(),
            restore: Some(Box::new((draft.clone(), None))),
        });
        assert_eq!(state.draft.as_ref(), Some(&draft));
        assert_eq!(state.form_error.as_deref(), Some("Room 1 is already booked"));
        let state = state.reduce(Action::StopEditing);
        assert_eq!(state.draft, None);
        let stale = AppState::default().reduce(Action::Refused {
            message: "Changed by someone else".into(),
            restore: None,
        });
        assert_eq!((stale.draft, stale.editing), (None, None));
    }

    #[test]
    fn import_progress_adds_up() {
        let state = AppState::default()
            .reduce(Action::ImportStarted {
                total: 120,
                skipped: vec!["x: no DTSTART".into()],
            })
            .reduce(Action::ImportBatch {
                created: 50,
                refused: vec![],
            })
            .reduce(Action::ImportBatch {
                created: 49,
                refused: vec!["y: already exists".into()],
            })
            .reduce(Action::ImportFinished);
        let p = state.import.unwrap();
        assert_eq!((p.total, p.created, p.problems.len(), p.done), (120, 99, 2, true));
    }
}
