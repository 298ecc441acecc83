//! RaftCal's calendar UI (Yew). Each tab runs one Raft node of the room;
//! this crate renders its applied state and proposes the user's edits.
//!
//! # Layout
//! - [`state`]: the pure reducer (query parsing, form checks, pending edits).
//! - `app` (wasm32 only): components and effects — boot the node, submit.

pub mod state;

#[cfg(target_arch = "wasm32")]
pub mod app;
