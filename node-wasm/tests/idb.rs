//! IndexedDB storage in a real browser (headless Chromium via
//! wasm-bindgen-test): what is saved survives dropping every handle.

#![cfg(target_arch = "wasm32")]

use node_wasm::browser::idb::IdbStorage;
use node_wasm::raft::{Entry, HardState, Payload, Snapshot, SnapshotMeta, SnapshotUpdate};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn entry(index: u64, term: u64, cmd: &[u8]) -> Entry {
    Entry {
        term,
        index,
        payload: Payload::Command(cmd.to_vec()),
    }
}

/// Every test gets its own database: all tests of a binary share one page.
fn db_name(test: &str) -> String {
    format!("raftcal-test/{test}/{}", js_sys::Math::random())
}

#[wasm_bindgen_test]
async fn hard_state_and_entries_survive_reopening() {
    let name = db_name("reopen");
    let hs = HardState {
        term: 3,
        vote: Some(2),
        commit: 2,
    };
    let entries = vec![
        entry(1, 1, b"a"),
        Entry {
            term: 2,
            index: 2,
            payload: Payload::Noop,
        },
        entry(3, 3, b"c"),
    ];
    {
        let store = IdbStorage::open(&name).await.unwrap();
        assert_eq!(
            store.load().await.unwrap(),
            Default::default(),
            "a new database is empty"
        );
        store.save(None, Some(&hs), &entries).await.unwrap();
        store.close();
    }
    let store = IdbStorage::open(&name).await.unwrap();
    let back = store.load().await.unwrap();
    assert_eq!(back.hard_state, hs);
    assert_eq!(back.entries, entries);
}

#[wasm_bindgen_test]
async fn a_conflicting_write_replaces_the_suffix() {
    let name = db_name("truncate");
    let store = IdbStorage::open(&name).await.unwrap();
    let first = [entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")];
    store.save(None, None, &first).await.unwrap();
    // A new leader's entry at index 2 replaces 2 and drops 3.
    store.save(None, None, &[entry(2, 2, b"B")]).await.unwrap();
    store.close();
    let store = IdbStorage::open(&name).await.unwrap();
    let back = store.load().await.unwrap();
    assert_eq!(back.entries, vec![entry(1, 1, b"a"), entry(2, 2, b"B")]);
    assert_eq!(back.hard_state, HardState::default());
}

fn snapshot(index: u64, term: u64, data: &[u8]) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta {
            index,
            term,
            voters: vec![1, 2, 3],
        },
        data: data.to_vec(),
    }
}

#[wasm_bindgen_test]
async fn snapshots_drop_the_entries_they_cover() {
    let name = db_name("snapshot");
    let store = IdbStorage::open(&name).await.unwrap();
    let log: Vec<Entry> = (1..=5).map(|i| entry(i, 1, b"x")).collect();
    store.save(None, None, &log).await.unwrap();
    // Compaction at 3: entries 1..=3 go, 4..=5 stay.
    let compacted = SnapshotUpdate::Compacted(snapshot(3, 1, b"state@3"));
    store.save(Some(&compacted), None, &[]).await.unwrap();
    store.close();
    let store = IdbStorage::open(&name).await.unwrap();
    let back = store.load().await.unwrap();
    assert_eq!(back.snapshot, Some(snapshot(3, 1, b"state@3")));
    assert_eq!(back.entries, log[3..].to_vec());
    // An installed snapshot from a leader with a different history discards
    // the whole log, in the same transaction as the new hard state.
    let installed = SnapshotUpdate::Installed {
        snapshot: snapshot(9, 4, b"state@9"),
        discard_log: true,
    };
    let hs = HardState {
        term: 4,
        vote: None,
        commit: 9,
    };
    store.save(Some(&installed), Some(&hs), &[]).await.unwrap();
    store.close();
    let store = IdbStorage::open(&name).await.unwrap();
    let back = store.load().await.unwrap();
    assert_eq!(back.snapshot, Some(snapshot(9, 4, b"state@9")));
    assert!(back.entries.is_empty());
    assert_eq!(back.hard_state, hs);
}

#[wasm_bindgen_test]
async fn the_outbox_and_its_session_survive_reopening() {
    let name = db_name("outbox");
    let store = IdbStorage::open(&name).await.unwrap();
    let fresh = store.load_outbox().await.unwrap();
    assert_eq!((fresh.client, fresh.next_seq, fresh.items.len()), (None, 1, 0));
    store
        .save_outbox(42, 3, &[(1, b"one".to_vec()), (2, b"two".to_vec())], &[])
        .await
        .unwrap();
    store.save_outbox(42, 3, &[], &[1]).await.unwrap();
    store.close();
    let store = IdbStorage::open(&name).await.unwrap();
    let back = store.load_outbox().await.unwrap();
    assert_eq!(back.client, Some(42));
    assert_eq!(back.next_seq, 3, "sequence numbers never go back");
    assert_eq!(back.items, vec![(2, b"two".to_vec())]);
}
