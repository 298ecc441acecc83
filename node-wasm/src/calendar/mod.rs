//! The calendar state machine: what the replicated log means.
//!
//! Deterministic and pure: `apply` reads nothing but its command (ids and
//! times travel inside it), so every node that applies the same log holds
//! byte-identical state.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Event ids are client-generated; bound them so nobody stores a novel in one.
pub const MAX_ID_CHARS: usize = 64;

/// A calendar event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub title: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    /// Bumped on every change; edits name the version they were based on.
    pub version: u64,
}

/// What a user asks the cluster to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    CreateEvent {
        id: String,
        title: String,
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    DeleteEvent {
        id: String,
        /// The version the user saw; a newer one means someone else changed it.
        version: u64,
    },
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Created { id: String },
    Deleted { id: String },
}

/// Why a command was refused. Refusals are deterministic too: every node
/// refuses the same command the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("the title is empty")]
    EmptyTitle,
    #[error("the title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
    #[error("the event id is empty or longer than {MAX_ID_CHARS} characters")]
    BadId,
    #[error("the event ends before it starts")]
    EndBeforeStart,
    #[error("an event with id {0} already exists")]
    DuplicateId(String),
    #[error("no event with id {0}")]
    UnknownEvent(String),
    #[error("changed by someone else (now at version {current})")]
    StaleVersion { current: u64 },
    #[error("the command could not be decoded")]
    Malformed,
    #[error("an older request from this client, already superseded")]
    StaleRequest,
    #[error("this tab is an observer; edit in a tab that runs a node")]
    ReadOnlyObserver,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    events: BTreeMap<String, Event>,
}

impl Command {
    /// The checks that need no state, shared by the UI (to answer at once)
    /// and by `apply` (which must not trust the UI).
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::CreateEvent { id, title, start, end } => {
                check_id(id)?;
                let title = title.trim();
                if title.is_empty() {
                    return Err(Rejection::EmptyTitle);
                }
                if title.chars().count() > MAX_TITLE_CHARS {
                    return Err(Rejection::TitleTooLong);
                }
                if end < start {
                    return Err(Rejection::EndBeforeStart);
                }
                Ok(())
            }
            Command::DeleteEvent { id, .. } => check_id(id),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("commands always serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Rejection> {
        postcard::from_bytes(bytes).map_err(|_| Rejection::Malformed)
    }
}

fn check_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(Rejection::BadId);
    }
    Ok(())
}

impl Calendar {
    pub fn apply(&mut self, command: Command) -> Result<Outcome, Rejection> {
        command.validate()?;
        match command {
            Command::CreateEvent { id, title, start, end } => {
                if self.events.contains_key(&id) {
                    return Err(Rejection::DuplicateId(id));
                }
                let event = Event {
                    id: id.clone(),
                    title: title.trim().to_owned(),
                    start,
                    end,
                    version: 1,
                };
                self.events.insert(id.clone(), event);
                Ok(Outcome::Created { id })
            }
            Command::DeleteEvent { id, version } => {
                let current = match self.events.get(&id) {
                    Some(e) => e.version,
                    None => return Err(Rejection::UnknownEvent(id)),
                };
                if current != version {
                    return Err(Rejection::StaleVersion { current });
                }
                self.events.remove(&id);
                Ok(Outcome::Deleted { id })
            }
        }
    }

    /// Apply a log entry's bytes; undecodable bytes are a rejection, not a crash.
    pub fn apply_bytes(&mut self, bytes: &[u8]) -> Result<Outcome, Rejection> {
        self.apply(Command::decode(bytes)?)
    }

    /// Events ordered by start time, then id.
    pub fn events(&self) -> Vec<&Event> {
        let mut out: Vec<&Event> = self.events.values().collect();
        out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        out
    }

    pub fn get(&self, id: &str) -> Option<&Event> {
        self.events.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn create(id: &str, title: &str, start: &str, end: &str) -> Command {
        Command::CreateEvent {
            id: id.into(),
            title: title.into(),
            start: at(start),
            end: at(end),
        }
    }

    #[test]
    fn create_then_list_in_start_order() {
        let mut cal = Calendar::default();
        cal.apply(create("b", "Lunch", "2026-12-04T12:00", "2026-12-04T13:00"))
            .unwrap();
        cal.apply(create("a", "Standup", "2026-12-04T09:00", "2026-12-04T09:15"))
            .unwrap();
        let titles: Vec<_> = cal.events().iter().map(|e| e.title.clone()).collect();
        assert_eq!(titles, ["Standup", "Lunch"]);
    }

    #[test]
    fn invalid_creates_are_rejected_with_a_reason() {
        let mut cal = Calendar::default();
        let bad_order = create("x", "Oops", "2026-12-04T10:00", "2026-12-04T09:00");
        assert_eq!(cal.apply(bad_order), Err(Rejection::EndBeforeStart));
        assert_eq!(
            cal.apply(create("x", "   ", "2026-12-04T09:00", "2026-12-04T10:00")),
            Err(Rejection::EmptyTitle)
        );
        let long = "x".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(
            cal.apply(create("x", &long, "2026-12-04T09:00", "2026-12-04T10:00")),
            Err(Rejection::TitleTooLong)
        );
        cal.apply(create("x", "Ok", "2026-12-04T09:00", "2026-12-04T10:00"))
            .unwrap();
        assert_eq!(
            cal.apply(create("x", "Again", "2026-12-04T09:00", "2026-12-04T10:00")),
            Err(Rejection::DuplicateId("x".into()))
        );
        assert_eq!(cal.apply_bytes(&[0xff, 0xff, 0xff]), Err(Rejection::Malformed));
    }

    #[test]
    fn delete_with_a_stale_version_is_refused() {
        let mut cal = Calendar::default();
        cal.apply(create("x", "Ok", "2026-12-04T09:00", "2026-12-04T10:00"))
            .unwrap();
        assert_eq!(
            cal.apply(Command::DeleteEvent {
                id: "x".into(),
                version: 7
            }),
            Err(Rejection::StaleVersion { current: 1 })
        );
        assert!(cal
            .apply(Command::DeleteEvent {
                id: "x".into(),
                version: 1
            })
            .is_ok());
        assert!(cal.get("x").is_none());
    }

    #[test]
    fn commands_round_trip_through_bytes() {
        let cmd = create("id-1", "Review", "2026-12-04T09:00", "2026-12-04T10:00");
        assert_eq!(Command::decode(&cmd.encode()), Ok(cmd));
    }
}
