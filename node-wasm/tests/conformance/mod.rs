//! The storage conformance suite: the same scenarios run against the memory
//! store (natively, `tests/storage.rs`) and the IndexedDB store (in headless
//! Chromium, `tests/idb.rs`), so the simulator's storage and the browser's
//! cannot drift apart.

#![allow(dead_code)]

use node_wasm::raft::{Entry, HardState, Payload, Snapshot, SnapshotMeta, SnapshotUpdate};
use node_wasm::storage::PersistedState;

/// What the suite needs of a store.
#[allow(async_fn_in_trait)]
pub trait Store: Sized {
    async fn save(&mut self, snapshot: Option<&SnapshotUpdate>, hs: Option<&HardState>, entries: &[Entry]);
    async fn load(&self) -> PersistedState;
    /// Drop every handle and open the same store again (a tab reload).
    async fn reopen(self) -> Self;
    /// A write cut off by a crash before it completed.
    async fn save_torn(&mut self, hs: Option<&HardState>, entries: &[Entry]);
}

pub fn entry(index: u64, term: u64) -> Entry {
    Entry {
        term,
        index,
        payload: Payload::Command(format!("cmd {index}@{term}").into_bytes()),
    }
}

fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
    range.map(|i| entry(i, term)).collect()
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta {
            index,
            term,
            voters: vec![1, 2, 3],
        },
        data: format!("state at {index}").into_bytes(),
    }
}

/// Run every scenario on fresh stores made by `fresh`.
pub async fn run_all<S: Store, F: std::future::Future<Output = S>>(mut fresh: impl FnMut(&'static str) -> F) {
    append_and_reopen(fresh("append")).await;
    overwrite_suffix(fresh("overwrite")).await;
    compact(fresh("compact")).await;
    install_snapshot(fresh("install")).await;
    hard_state_alone(fresh("hard-state")).await;
    crash_between_writes(fresh("crash")).await;
}

/// A crash in the middle of a write: after reopening, the store holds
/// exactly what the last completed write left — nothing of the torn one.
async fn crash_between_writes<S: Store>(store: impl std::future::Future<Output = S>) {
    let mut s = store.await;
    let hs = HardState {
        term: 2,
        vote: Some(1),
        commit: 2,
    };
    s.save(None, Some(&hs), &entries(1..=3, 2)).await;
    let torn = HardState {
        term: 3,
        vote: Some(3),
        commit: 4,
    };
    s.save_torn(Some(&torn), &entries(4..=6, 3)).await;
    let s = s.reopen().await;
    let back = s.load().await;
    assert_eq!(back.hard_state, hs, "a torn write changed the hard state");
    assert_eq!(back.entries, entries(1..=3, 2), "a torn write changed the log");
}

/// Appends in several writes, all there after a reopen.
async fn append_and_reopen<S: Store>(store: impl std::future::Future<Output = S>) {
    let mut s = store.await;
    assert_eq!(s.load().await, PersistedState::default(), "a new store is empty");
    s.save(None, None, &entries(1..=3, 1)).await;
    s.save(None, None, &entries(4..=5, 1)).await;
    let s = s.reopen().await;
    assert_eq!(s.load().await.entries, entries(1..=5, 1));
}

/// An entry at a stored index replaces it and drops everything after it.
async fn overwrite_suffix<S: Store>(store: impl std::future::Future<Output = S>) {
    let mut s = store.await;
    s.save(None, None, &entries(1..=5, 1)).await;
    s.save(None, None, &entries(3..=3, 2)).await;
    let s = s.reopen().await;
    let mut want = entries(1..=2, 1);
    want.push(entry(3, 2));
    assert_eq!(s.load().await.entries, want);
}

/// Compaction stores the snapshot and drops exactly the entries it covers.
async fn compact<S: Store>(store: impl std::future::Future<Output = S>) {
    let mut s = store.await;
    s.save(None, None, &entries(1..=6, 1)).await;
    s.save(Some(&SnapshotUpdate::Compacted(snapshot(4, 1))), None, &[])
        .await;
    s.save(None, None, &entries(7..=7, 1)).await;
    let s = s.reopen().await;
    let back = s.load().await;
    assert_eq!(back.snapshot, Some(snapshot(4, 1)));
    assert_eq!(back.entries, entries(5..=7, 1));
}

/// A snapshot from the leader: a matching suffix stays, otherwise the whole
/// log goes — in the same write as the new hard state.
async fn install_snapshot<S: Store>(store: impl std::future::Future<Output = S>) {
    let mut s = store.await;
    s.save(None, None, &entries(1..=6, 1)).await;
    let keep = SnapshotUpdate::Installed {
        snapshot: snapshot(3, 1),
        discard_log: false,
    };
    s.save(Some(&keep), None, &[]).await;
    assert_eq!(s.load().await.entries, entries(4..=6, 1));
    let discard = SnapshotUpdate::Installed {
        snapshot: snapshot(9, 3),
        discard_log: true,
    };
    let hs = HardState {
        term: 3,
        vote: Some(2),
        commit: 9,
    };
    s.save(Some(&discard), Some(&hs), &[]).await;
    let s = s.reopen().await;
    let back = s.load().await;
    assert_eq!(back.snapshot, Some(snapshot(9, 3)));
    assert!(back.entries.is_empty());
    assert_eq!(back.hard_state, hs);
}

/// A hard-state-only write leaves the log alone; the last one wins.
async fn hard_state_alone<S: Store>(store: impl std::future::Future<Output = S>) {
    let mut s = store.await;
    s.save(None, None, &entries(1..=2, 1)).await;
    for term in 1..=3 {
        let hs = HardState {
            term,
            vote: Some(term),
            commit: 1,
        };
        s.save(None, Some(&hs), &[]).await;
    }
    let s = s.reopen().await;
    let back = s.load().await;
    assert_eq!(back.hard_state.term, 3);
    assert_eq!(back.entries, entries(1..=2, 1));
}
