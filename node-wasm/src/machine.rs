//! The replicated state machine as the log sees it: the calendar plus client
//! sessions, so that a retried proposal is applied exactly once.
//!
//! Every log entry's command is a [`Proposal`]: (client id, sequence number,
//! command). A client has at most one proposal outstanding and numbers them
//! 1, 2, 3…; it retries a proposal with the same number until it learns the
//! result. `apply` remembers each client's last number and result, so a
//! retry that was committed twice is applied once and answered with the
//! original result (Raft thesis §6.3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calendar::{Command, Outcome, Rejection, Store};

/// How many client sessions are remembered. The least recently active one
/// is forgotten first (by log position, so every node forgets the same one).
pub const MAX_SESSIONS: usize = 4096;

/// First byte of every snapshot: bump on incompatible layout changes, and
/// teach `restore` to read the old one. Format 1 was the walking skeleton's
/// (title and time only), retired before any release.
pub const SNAPSHOT_FORMAT: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub client: u64,
    pub seq: u64,
    pub command: Command,
}

impl Proposal {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("proposals always serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Rejection> {
        postcard::from_bytes(bytes).map_err(|_| Rejection::Malformed)
    }
}

pub type CommandResult = Result<Outcome, Rejection>;

/// What applying one entry produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `None` for an undecodable entry.
    pub client: Option<(u64, u64)>,
    pub result: CommandResult,
    /// This was a retry of an already-applied proposal: nothing changed.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    last_seq: u64,
    last_result: CommandResult,
    /// Log index of the last proposal applied for this client.
    touched: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    store: Store,
    sessions: BTreeMap<u64, Session>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot format {0} is not one this version reads")]
    Format(u8),
    #[error("snapshot is corrupt: {0}")]
    Corrupt(String),
}

impl Machine {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Apply the entry at `index` carrying `bytes`.
    pub fn apply(&mut self, index: u64, bytes: &[u8]) -> Applied {
        let proposal = match Proposal::decode(bytes) {
            Ok(p) => p,
            Err(rejection) => {
                return Applied {
                    client: None,
                    result: Err(rejection),
                    duplicate: false,
                }
            }
        };
        let id = Some((proposal.client, proposal.seq));
        if let Some(session) = self.sessions.get(&proposal.client) {
            if proposal.seq <= session.last_seq {
                // A retry: answer with what the first copy did. (An older
                // number than the last is a stale duplicate nobody waits for.)
                let result = if proposal.seq == session.last_seq {
                    session.last_result.clone()
                } else {
                    Err(Rejection::StaleRequest)
                };
                return Applied {
                    client: id,
                    result,
                    duplicate: true,
                };
            }
        }
        let result = self.store.apply(proposal.command);
        self.sessions.insert(
            proposal.client,
            Session {
                last_seq: proposal.seq,
                last_result: result.clone(),
                touched: index,
            },
        );
        if self.sessions.len() > MAX_SESSIONS {
            if let Some((&oldest, _)) = self.sessions.iter().min_by_key(|(_, s)| s.touched) {
                self.sessions.remove(&oldest);
            }
        }
        Applied {
            client: id,
            result,
            duplicate: false,
        }
    }

    /// The whole state, compact and deterministic: byte-identical on every
    /// node that applied the same entries.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = vec![SNAPSHOT_FORMAT];
        out.extend(postcard::to_allocvec(self).expect("state always serializes"));
        out
    }

    pub fn restore(bytes: &[u8]) -> Result<Self, SnapshotError> {
        match bytes.split_first() {
            Some((&SNAPSHOT_FORMAT, body)) => {
                postcard::from_bytes(body).map_err(|e| SnapshotError::Corrupt(e.to_string()))
            }
            Some((&v, _)) => Err(SnapshotError::Format(v)),
            None => Err(SnapshotError::Corrupt("empty".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn create(id: &str) -> Command {
        let at = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        Command::create_timed(id, "t", at("2026-12-04T09:00"), at("2026-12-04T10:00"))
    }

    fn proposal(client: u64, seq: u64, command: Command) -> Vec<u8> {
        Proposal { client, seq, command }.encode()
    }

    #[test]
    fn a_retried_proposal_applies_once_and_returns_the_first_result() {
        let mut m = Machine::default();
        let first = m.apply(1, &proposal(7, 1, create("a")));
        assert_eq!(first.result, Ok(Outcome::Created { id: "a".into() }));
        assert!(!first.duplicate);
        // The same proposal committed again (the client retried through
        // another node): same answer, no DuplicateId rejection.
        let again = m.apply(2, &proposal(7, 1, create("a")));
        assert_eq!(again.result, first.result);
        assert!(again.duplicate);
        // Another client creating the same id is a real conflict.
        let other = m.apply(3, &proposal(8, 1, create("a")));
        assert_eq!(other.result, Err(Rejection::DuplicateId("a".into())));
    }

    #[test]
    fn snapshot_restores_state_and_sessions() {
        let mut m = Machine::default();
        m.apply(1, &proposal(7, 1, create("a")));
        let restored = Machine::restore(&m.snapshot()).unwrap();
        assert_eq!(restored, m);
        let mut r = restored;
        assert!(r.apply(2, &proposal(7, 1, create("a"))).duplicate);
        assert_eq!(Machine::restore(&[9]), Err(SnapshotError::Format(9)));
        assert_eq!(Machine::restore(&[1, 0]), Err(SnapshotError::Format(1)));
        assert!(matches!(
            Machine::restore(&[SNAPSHOT_FORMAT, 0xff]),
            Err(SnapshotError::Corrupt(_))
        ));
    }

    #[test]
    fn sessions_are_bounded_and_evicted_deterministically() {
        let mut m = Machine::default();
        for c in 0..(MAX_SESSIONS as u64 + 10) {
            m.apply(c + 1, &proposal(c, 1, create(&format!("e{c}"))));
        }
        assert_eq!(m.sessions.len(), MAX_SESSIONS);
        assert!(!m.sessions.contains_key(&0), "the least recently active goes first");
    }

    #[test]
    fn garbage_entries_are_rejected_not_fatal() {
        let mut m = Machine::default();
        assert_eq!(m.apply(1, &[0xff; 3]).result, Err(Rejection::Malformed));
    }
}
