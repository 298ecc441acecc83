//! The Raft wire and storage types: log entries, hard state and messages.
//!
//! Everything here is plain data with serde derives; `transport::codec` turns
//! a [`Message`] into bytes with postcard, the storage layer does the same for
//! [`Entry`] and [`HardState`].

use serde::{Deserialize, Serialize};

/// A node's identity inside one cluster (the tab's slot, 1-based).
pub type NodeId = u64;
/// A Raft term. Terms only grow.
pub type Term = u64;
/// A position in the replicated log. The first entry has index 1; 0 means "none".
pub type Index = u64;

/// One replicated log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: Index,
    pub payload: Payload,
}

/// What an entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader so that entries of earlier terms commit
    /// (Raft §5.4.2: a leader only counts replicas for entries of its own term).
    Noop,
    /// An opaque application command (the calendar's, postcard-encoded).
    Command(Vec<u8>),
    /// A new voter set. Membership is data in the log: a node always uses
    /// the latest configuration its log holds, committed or not (Raft thesis
    /// §4.1, single-server changes). A joint-consensus change would add a
    /// variant here.
    Config { voters: Vec<NodeId> },
}

impl Entry {
    /// Rough size on the wire, used to bound message batches.
    pub fn approx_size(&self) -> usize {
        24 + match &self.payload {
            Payload::Noop => 0,
            Payload::Command(bytes) => bytes.len(),
            Payload::Config { voters } => 8 * voters.len(),
        }
    }
}

/// The state that must be durable before a node answers anyone (Raft Figure 2:
/// "persistent state on all servers"), plus the commit index so that a restarted
/// node can rebuild its state machine without waiting for a leader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub commit: Index,
}

/// What a snapshot stands for: the state after applying every entry up to
/// `index` (whose term is `term`), in a cluster of `voters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub index: Index,
    pub term: Term,
    pub voters: Vec<NodeId>,
}

/// A state-machine snapshot: metadata plus the application's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

/// Everything a node keeps durably; what it resumes from after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// The log after the snapshot (or from index 1 without one).
    pub entries: Vec<Entry>,
}

/// A message between two nodes. `term` is the sender's current term, except
/// for pre-vote traffic, where it is the term the pre-candidate would campaign
/// in (see [`Body::RequestVote`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Ask for a vote. With `pre_vote` the receiver only says whether it *would*
    /// vote; nobody's term or vote changes (Raft thesis §9.6). `transfer` marks
    /// an election the leader asked for (TimeoutNow), which voters honour even
    /// while they still hear that leader.
    RequestVote {
        pre_vote: bool,
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    /// The answer to [`Body::RequestVote`]. A rejection carries the leader the
    /// voter follows, if any, so the candidate learns where to go.
    VoteResponse {
        pre_vote: bool,
        granted: bool,
        leader_hint: Option<NodeId>,
    },
    /// Replicate `entries` after (`prev_index`, `prev_term`).
    Append {
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// The answer to [`Body::Append`].
    AppendResponse(AppendResult),
    /// Leader liveness plus the commit index the receiver is known to be able
    /// to use (never beyond what it has matched). `read_seq` is the newest
    /// ReadIndex round this heartbeat confirms leadership for.
    Heartbeat {
        commit: Index,
        read_seq: u64,
    },
    HeartbeatResponse {
        read_seq: u64,
    },
    /// One chunk of the leader's snapshot, at byte `offset`; `done` on the last.
    InstallSnapshot {
        meta: SnapshotMeta,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    },
    /// The follower holds `next_offset` bytes of the snapshot at `index`, or
    /// has installed it (`done`).
    SnapshotResponse {
        index: Index,
        next_offset: u64,
        done: bool,
    },
    /// A follower forwarding client commands to the leader it knows.
    Propose {
        commands: Vec<Vec<u8>>,
    },
    /// A follower asking the leader for a linearizable read point.
    ReadIndex {
        ctx: u64,
    },
    /// The leader's answer: reads for `ctx` may be served once `index` is applied.
    ReadIndexResponse {
        ctx: u64,
        index: Index,
    },
    /// The leader hands over: campaign now (leadership transfer, thesis §3.10).
    TimeoutNow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppendResult {
    /// The follower's log matches the leader's up to `match_index`.
    Accepted { match_index: Index },
    /// The follower has no entry matching (`rejected_index`, its prev term).
    /// `hint_index`/`hint_term` name the last entry that *might* match, so the
    /// leader can skip a whole term of conflicting entries per round trip
    /// instead of one entry (Raft thesis §5.3, etcd's findConflictByTerm).
    Rejected {
        rejected_index: Index,
        hint_index: Index,
        hint_term: Term,
        leader_hint: Option<NodeId>,
    },
}
