//! The UI's state as a pure reducer (no browser APIs), so it is tested
//! natively. Effects — booting the node, submitting — live in `app`.

use std::rc::Rc;

use chrono::NaiveDateTime;
use node_wasm::calendar::Command;
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

/// Turn the form's fields into a command, or say what is wrong with them.
pub fn command_from_form(id: String, title: &str, start: &str, end: &str) -> Result<Command, String> {
    let start = parse_local(start).ok_or("Pick a start date and time.")?;
    let end = parse_local(end).ok_or("Pick an end date and time.")?;
    let command = Command::CreateEvent {
        id,
        title: title.trim().into(),
        start,
        end,
    };
    command.validate().map_err(|r| capitalise(&r.to_string()))?;
    Ok(command)
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    pub view: Option<Rc<View>>,
    pub boot_error: Option<String>,
    pub form_error: Option<String>,
}

pub enum Action {
    NodeChanged(Rc<View>),
    BootFailed(String),
    Submitted,
    SubmitFailed(String),
}

impl AppState {
    pub fn reduce(mut self, action: Action) -> Self {
        match action {
            Action::NodeChanged(view) => self.view = Some(view),
            Action::BootFailed(message) => self.boot_error = Some(message),
            Action::Submitted => self.form_error = None,
            Action::SubmitFailed(message) => self.form_error = Some(message),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_wasm::calendar::Event;
    use node_wasm::raft::Status;

    fn at(s: &str) -> NaiveDateTime {
        parse_local(s).unwrap()
    }

    fn view_with(events: Vec<Event>) -> Rc<View> {
        Rc::new(View {
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
            events,
            connected: true,
            online: vec![1, 2, 3],
            fault: None,
            pending: vec![],
            notice: None,
            observer: false,
        })
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
        let ok = command_from_form("id1".into(), "  Standup ", "2026-12-04T09:00", "2026-12-04T09:15").unwrap();
        assert_eq!(
            ok,
            Command::CreateEvent {
                id: "id1".into(),
                title: "Standup".into(),
                start: at("2026-12-04T09:00"),
                end: at("2026-12-04T09:15"),
            }
        );
        assert_eq!(
            command_from_form("i".into(), "", "2026-12-04T09:00", "2026-12-04T09:15"),
            Err("The title is empty.".into())
        );
        assert_eq!(
            command_from_form("i".into(), "x", "2026-12-04T10:00", "2026-12-04T09:15"),
            Err("The event ends before it starts.".into())
        );
        assert!(command_from_form("i".into(), "x", "", "2026-12-04T09:15").is_err());
    }

    #[test]
    fn read_only_says_which_nodes_are_missing() {
        let mut v = (*view_with(vec![])).clone();
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
}
