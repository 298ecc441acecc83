//! Typed errors of the Raft core.

use super::message::NodeId;

/// Why `step` refused a message. Refused messages change nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("message from node {0}, which is not a member of this cluster")]
    UnknownSender(NodeId),
    #[error("message addressed to node {to}, but this is node {this}")]
    WrongRecipient { to: NodeId, this: NodeId },
    #[error("message from node {0} claims to come from this node")]
    FromSelf(NodeId),
}

/// Why a proposal was not accepted for replication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("no leader is known yet; try again once one is elected")]
    NoLeader,
    #[error("leadership is being handed over; try again in a moment")]
    TransferInProgress,
}

/// Why a leadership transfer was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("only the leader can hand leadership over")]
    NotLeader,
    #[error("node {0} is not another voter of this cluster")]
    BadTarget(u64),
}

/// Why a snapshot could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("index {index} is not applied yet (applied {applied})")]
    NotApplied { index: u64, applied: u64 },
    #[error("index {index} is already covered by the snapshot at {snapshot}")]
    AlreadyCompacted { index: u64, snapshot: u64 },
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("node {0} is not in the voter list")]
    NotAVoter(NodeId),
    #[error("node id 0 is reserved")]
    ZeroId,
    #[error(
        "election timeout range {min}..{max} ticks must be non-empty and above the heartbeat interval {heartbeat}"
    )]
    BadTimeouts { min: u32, max: u32, heartbeat: u32 },
    #[error("max_inflight, max_inflight_bytes, max_batch_bytes and snapshot_chunk_bytes must be at least 1")]
    BadFlowControl,
}

/// Persisted state that contradicts itself: refusing it is safer than guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("persisted log is not contiguous at index {0}")]
    Gap(u64),
    #[error("persisted commit index {commit} is beyond the last persisted entry {last}")]
    CommitBeyondLog { commit: u64, last: u64 },
    #[error("persisted entry {index} has term {entry_term}, above the persisted term {term}")]
    TermBeyondHardState { index: u64, entry_term: u64, term: u64 },
    #[error("persisted log starts at {first}, not right after the snapshot at {snapshot}")]
    NotAfterSnapshot { first: u64, snapshot: u64 },
}

/// Why a membership change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("only the leader can change the membership")]
    NotLeader,
    #[error("a membership change is still in progress (or this leader has not committed in its term yet)")]
    ChangeInProgress,
    #[error("a change may add or remove one voter at a time")]
    TooManyChanges,
    #[error("a cluster needs at least one voter, and node ids start at 1")]
    BadVoters,
}
