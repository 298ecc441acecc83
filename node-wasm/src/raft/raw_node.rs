//! The application-facing wrapper: inputs in, [`Ready`] out, `advance` back.

use super::errors::{CompactError, MembershipError, ProposeError, RestoreError, StepError, TransferError};
use super::log::RaftLog;
use super::message::{Entry, HardState, Index, Message, NodeId, Persisted, Snapshot, Term};
use super::raft::{Config, Raft, ReadState, Role, SnapshotChange};

/// A snapshot the application must persist (and maybe restore from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotUpdate {
    /// This node compacted its log: persist the snapshot and drop stored
    /// entries up to its index. The state machine already has this state.
    Compacted(Snapshot),
    /// The leader sent this snapshot: persist it, drop stored entries up to
    /// its index — and every stored entry after it too when `discard_log` —
    /// and replace the state machine with it before applying anything else.
    Installed { snapshot: Snapshot, discard_log: bool },
}

impl SnapshotUpdate {
    pub fn snapshot(&self) -> &Snapshot {
        match self {
            SnapshotUpdate::Compacted(s) | SnapshotUpdate::Installed { snapshot: s, .. } => s,
        }
    }
}

/// Everything the application must do for the core, in this order:
///
/// 1. persist `snapshot` (if any), then `hard_state` and `entries` (if any) —
///    an entry whose index is already stored REPLACES it and every later
///    stored entry — in one atomic write;
/// 2. ONLY THEN send `messages`: a vote or an acknowledgement promises that
///    what it depends on survives a crash, so it must not leave before the
///    write is durable (Raft Figure 2: "respond after updating stable storage");
/// 3. restore the state machine from an installed snapshot, then apply
///    `committed_entries` in order (they are durable already: only persisted
///    entries are handed out for applying), and serve `read_states` whose
///    index is applied;
/// 4. call [`RawNode::advance`] with this `Ready`.
///
/// Between `ready` and `advance` the node must not be stepped, ticked or
/// proposed to: the driver holds further input until the write completes,
/// which is how an asynchronous store (IndexedDB) fits this synchronous core.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "a Ready must be persisted, sent, applied and then advanced"]
pub struct Ready {
    pub snapshot: Option<SnapshotUpdate>,
    pub hard_state: Option<HardState>,
    pub entries: Vec<Entry>,
    pub messages: Vec<Message>,
    pub committed_entries: Vec<Entry>,
    pub read_states: Vec<ReadState>,
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
    /// Entries up to here live only in the snapshot.
    pub snapshot_index: Index,
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
    /// Resume from what storage holds (`Persisted::default()` for a brand-new
    /// node). `seed` drives the election timeouts. The application restores
    /// its state machine from `persisted.snapshot` itself; the first `Ready`
    /// then hands out the committed entries after it.
    pub fn new(cfg: Config, persisted: Persisted, seed: u64) -> Result<Self, RestoreError> {
        let hard_state = persisted.hard_state;
        Ok(Self {
            raft: Raft::new(cfg, persisted, seed)?,
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

    /// See [`Raft::read_index`](super::raft::Raft::read_index).
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        debug_assert!(!self.awaiting_advance, "read_index between ready and advance");
        self.raft.read_index(ctx)
    }

    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), TransferError> {
        debug_assert!(!self.awaiting_advance, "transfer between ready and advance");
        self.raft.transfer_leader(to)
    }

    /// Add or remove one voter; see [`Raft::propose_membership`](super::raft::Raft::propose_membership).
    pub fn propose_membership(&mut self, voters: Vec<NodeId>) -> Result<(), MembershipError> {
        debug_assert!(!self.awaiting_advance, "membership change between ready and advance");
        self.raft.propose_membership(voters)
    }

    /// See [`Raft::peer_gone`](super::raft::Raft::peer_gone).
    pub fn peer_gone(&mut self, id: NodeId) {
        debug_assert!(!self.awaiting_advance, "peer_gone between ready and advance");
        self.raft.peer_gone(id);
    }

    /// As leader: the most up-to-date other voter, to hand leadership to.
    pub fn best_transferee(&self) -> Option<NodeId> {
        self.raft.best_transferee()
    }

    /// The application snapshotted its state at `index` (≤ applied).
    pub fn compact(&mut self, index: Index, data: Vec<u8>) -> Result<(), CompactError> {
        debug_assert!(!self.awaiting_advance, "compact between ready and advance");
        self.raft.compact(index, data)
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
            snapshot_index: self.raft.log.offset(),
        }
    }

    /// The leader's view of each follower, for diagnostics.
    pub fn debug_progress(&self) -> String {
        self.raft.debug_progress()
    }

    /// The in-memory log, for tests and diagnostics.
    pub fn log(&self) -> &RaftLog {
        &self.raft.log
    }

    pub fn voters(&self) -> &[NodeId] {
        self.raft.voters()
    }

    pub fn has_ready(&self) -> bool {
        !self.raft.msgs.is_empty()
            || !self.raft.log.unstable_entries().is_empty()
            || self.raft.hard_state() != self.persisted_hard_state
            || self.raft.log.has_next_committed_entries()
            || self.raft.snapshot_change.is_some()
            || !self.raft.read_states.is_empty()
    }

    pub fn ready(&mut self) -> Ready {
        debug_assert!(!self.awaiting_advance, "two Readys outstanding");
        self.awaiting_advance = true;
        let hs = self.raft.hard_state();
        let snapshot = match (self.raft.snapshot_change.take(), &self.raft.snapshot) {
            (Some(SnapshotChange::Compacted), Some(s)) => Some(SnapshotUpdate::Compacted(s.clone())),
            (Some(SnapshotChange::Installed { discard_log }), Some(s)) => Some(SnapshotUpdate::Installed {
                snapshot: s.clone(),
                discard_log,
            }),
            _ => None,
        };
        Ready {
            snapshot,
            hard_state: (hs != self.persisted_hard_state).then_some(hs),
            entries: self.raft.log.unstable_entries().to_vec(),
            messages: std::mem::take(&mut self.raft.msgs),
            committed_entries: self.raft.log.next_committed_entries(),
            read_states: std::mem::take(&mut self.raft.read_states),
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
