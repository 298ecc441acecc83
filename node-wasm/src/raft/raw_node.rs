//! The application-facing wrapper: inputs in, [`Ready`] out, `advance` back.

use super::errors::{ProposeError, RestoreError, StepError};
use super::message::{Entry, HardState, Index, Message, NodeId, Term};
use super::raft::{Config, Raft, Role};

/// Everything the application must do for the core, in this order:
///
/// 1. persist `hard_state` (if any) and `entries` (if any) — an entry whose
///    index is already stored REPLACES it and every later stored entry;
/// 2. ONLY THEN send `messages`: a vote or an acknowledgement promises that
///    what it depends on survives a crash, so it must not leave before the
///    write is durable (Raft Figure 2: "respond after updating stable storage");
/// 3. apply `committed_entries` to the state machine, in order (they are
///    durable already: only persisted entries are handed out for applying);
/// 4. call [`RawNode::advance`] with this `Ready`.
///
/// Between `ready` and `advance` the node must not be stepped, ticked or
/// proposed to: the driver holds further input until the write completes,
/// which is how an asynchronous store (IndexedDB) fits this synchronous core.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "a Ready must be persisted, sent, applied and then advanced"]
pub struct Ready {
    pub hard_state: Option<HardState>,
    pub entries: Vec<Entry>,
    pub messages: Vec<Message>,
    pub committed_entries: Vec<Entry>,
}

/// A snapshot of the node for display and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    pub commit: Index,
    pub applied: Index,
    pub last_index: Index,
}

pub struct RawNode {
    raft: Raft,
    /// The hard state storage holds (or will hold once the outstanding
    /// `Ready` is advanced).
    persisted_hard_state: HardState,
    /// A `Ready` is out and not yet advanced.
    awaiting_advance: bool,
}

impl RawNode {
    /// Resume from what storage holds (`HardState::default()` and no entries
    /// for a brand-new node). `seed` drives the election timeouts.
    pub fn new(
        cfg: Config,
        hard_state: HardState,
        entries: Vec<Entry>,
        seed: u64,
    ) -> Result<Self, RestoreError> {
        Ok(Self {
            raft: Raft::new(cfg, hard_state, entries, seed)?,
            persisted_hard_state: hard_state,
            awaiting_advance: false,
        })
    }

    pub fn tick(&mut self) {
        debug_assert!(!self.awaiting_advance, "tick between ready and advance");
        self.raft.tick();
    }

    pub fn step(&mut self, m: Message) -> Result<(), StepError> {
        debug_assert!(!self.awaiting_advance, "step between ready and advance");
        self.raft.step(m)
    }

    pub fn propose(&mut self, command: Vec<u8>) -> Result<(), ProposeError> {
        debug_assert!(!self.awaiting_advance, "propose between ready and advance");
        self.raft.propose(command)
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.raft.id(),
            role: self.raft.role,
            term: self.raft.term,
            leader: self.raft.leader,
            commit: self.raft.log.committed(),
            applied: self.raft.log.applied(),
            last_index: self.raft.log.last_index(),
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.raft.msgs.is_empty()
            || !self.raft.log.unstable_entries().is_empty()
            || self.raft.hard_state() != self.persisted_hard_state
            || self.raft.log.has_next_committed_entries()
    }

    pub fn ready(&mut self) -> Ready {
        debug_assert!(!self.awaiting_advance, "two Readys outstanding");
        self.awaiting_advance = true;
        let hs = self.raft.hard_state();
        Ready {
            hard_state: (hs != self.persisted_hard_state).then_some(hs),
            entries: self.raft.log.unstable_entries().to_vec(),
            messages: std::mem::take(&mut self.raft.msgs),
            committed_entries: self.raft.log.next_committed_entries(),
        }
    }

    /// Everything in `rd` was persisted, sent and applied.
    pub fn advance(&mut self, rd: Ready) {
        self.awaiting_advance = false;
        if let Some(hs) = rd.hard_state {
            self.persisted_hard_state = hs;
        }
        if let Some(last) = rd.committed_entries.last() {
            self.raft.log.applied_to(last.index);
        }
        if let Some(last) = rd.entries.last() {
            self.raft.on_persisted(last.index, last.term);
        }
    }
}
