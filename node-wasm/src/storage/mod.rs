//! Durable state of one node: hard state and log entries.
//!
//! The core never waits on storage: it hands out what to write in a `Ready`
//! and learns it is durable at `advance`. This module has the in-memory store
//! (native tests, simulator); the IndexedDB store is in `crate::browser::idb`.

use crate::raft::{Entry, HardState};

/// What a node finds in storage when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistedState {
    pub hard_state: HardState,
    pub entries: Vec<Entry>,
}

/// An in-memory store with the exact write semantics of the IndexedDB one:
/// an entry whose index exists replaces it and drops everything after it.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    state: PersistedState,
}

impl MemStorage {
    pub fn save(&mut self, hard_state: Option<&HardState>, entries: &[Entry]) {
        if let Some(hs) = hard_state {
            self.state.hard_state = *hs;
        }
        if let Some(first) = entries.first() {
            self.state.entries.retain(|e| e.index < first.index);
            self.state.entries.extend_from_slice(entries);
        }
    }

    pub fn load(&self) -> PersistedState {
        self.state.clone()
    }
}
