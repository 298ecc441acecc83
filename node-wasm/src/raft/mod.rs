//! The sans-IO Raft core. No clocks, sockets, storage or global randomness:
//! inputs are method calls, outputs are a [`Ready`] value (see its docs for
//! the persist → send → apply → advance order the driver must keep).
//!
//! # Layout
//! - `message`: entries, hard state and the messages nodes exchange.
//! - `log`: the in-memory log with its stable / committed / applied indexes.
//! - `progress`: the leader's per-follower replication state and flow control.
//! - `raft`: the protocol (roles, elections with pre-vote and check-quorum,
//!   replication with fast back-off and flow control, commit by current-term
//!   majority, chunked snapshots, ReadIndex, leadership transfer).
//! - `raw_node`: `Ready` / `advance`, the contract with the driver.
//! - `rng`: the seeded generator for election timeouts.
//! - `errors`: typed errors.

pub mod errors;
pub mod log;
pub mod message;
pub mod progress;
#[allow(clippy::module_inception)] // raft::raft, as in raft-rs
pub mod raft;
pub mod raw_node;
pub mod rng;

pub use errors::{CompactError, ConfigError, MembershipError, ProposeError, RestoreError, StepError, TransferError};
pub use message::{
    AppendResult, Body, Entry, HardState, Index, Message, NodeId, Payload, Persisted, Snapshot, SnapshotMeta, Term,
};
pub use raft::{Config, ReadState, Role};
pub use raw_node::{RawNode, Ready, SnapshotUpdate, Status};
