//! Durable state of one node: hard state, snapshot and log entries.
//!
//! The core never waits on storage: it hands out what to write in a `Ready`
//! and learns it is durable at `advance`. This module has the in-memory store
//! (native tests, simulator); the IndexedDB store is in `crate::browser::idb`.
//! Both follow the same write rules, stated on [`MemStorage::save`].

use crate::raft::{Entry, HardState, SnapshotUpdate};

pub use crate::raft::Persisted as PersistedState;

/// An in-memory store with the exact write semantics of the IndexedDB one.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    state: PersistedState,
}

impl MemStorage {
    /// Write one `Ready`'s durable parts, atomically:
    /// 1. a snapshot replaces the stored one and drops entries up to its
    ///    index (an installed snapshot with `discard_log` drops all entries);
    /// 2. the hard state replaces the stored one;
    /// 3. an entry whose index exists replaces it and drops everything after.
    pub fn save(&mut self, snapshot: Option<&SnapshotUpdate>, hard_state: Option<&HardState>, entries: &[Entry]) {
        if let Some(update) = snapshot {
            let snap = update.snapshot();
            self.state.entries.retain(|e| e.index > snap.meta.index);
            if let SnapshotUpdate::Installed { discard_log: true, .. } = update {
                self.state.entries.clear();
            }
            self.state.snapshot = Some(snap.clone());
        }
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
