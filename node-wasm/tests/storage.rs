//! The storage conformance suite against the in-memory store.

#![cfg(not(target_arch = "wasm32"))]

mod conformance;

use conformance::Store;
use node_wasm::raft::{Entry, HardState, SnapshotUpdate};
use node_wasm::storage::{MemStorage, PersistedState};

impl Store for MemStorage {
    async fn save(&mut self, snapshot: Option<&SnapshotUpdate>, hs: Option<&HardState>, entries: &[Entry]) {
        MemStorage::save(self, snapshot, hs, entries);
    }

    async fn load(&self) -> PersistedState {
        MemStorage::load(self)
    }

    /// The memory store is its own disk: a reopen sees exactly what was saved.
    async fn reopen(self) -> Self {
        self
    }

    /// The simulator's crash: a write in flight is simply never applied.
    async fn save_torn(&mut self, _hs: Option<&HardState>, _entries: &[Entry]) {}
}

#[test]
fn memory_store_conforms() {
    futures_lite_block_on(conformance::run_all(|_| async { MemStorage::default() }));
}

/// A tiny executor: these futures never wait on anything.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
