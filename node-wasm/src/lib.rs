//! One RaftCal node.
//!
//! # Layout
//! - [`raft`]: the sans-IO Raft core (no I/O, clock or global RNG).
//! - [`calendar`]: the deterministic calendar state machine.
//! - [`machine`]: the calendar plus client sessions (exactly-once), and its snapshots.
//! - [`storage`]: what is durable, and the in-memory store.
//! - [`transport`]: the relay envelope and message encoding (pure).
//! - [`view`]: what a node shows its UI (pure data).
//! - `browser` (wasm32 only): the one place with I/O — IndexedDB, WebSocket,
//!   timers, Web Locks — and the driver loop that ties them to the core.

pub mod calendar;
pub mod machine;
pub mod raft;
pub mod storage;
pub mod transport;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod browser;
