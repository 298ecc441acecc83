//! IndexedDB storage in a real browser (headless Chromium via
//! wasm-bindgen-test): what is saved survives dropping every handle.

#![cfg(target_arch = "wasm32")]

use node_wasm::browser::idb::IdbStorage;
use node_wasm::raft::{Entry, HardState, Payload};
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
        store.save(Some(&hs), &entries).await.unwrap();
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
    store
        .save(
            None,
            &[entry(1, 1, b"a"), entry(2, 1, b"b"), entry(3, 1, b"c")],
        )
        .await
        .unwrap();
    // A new leader's entry at index 2 replaces 2 and drops 3.
    store.save(None, &[entry(2, 2, b"B")]).await.unwrap();
    store.close();
    let store = IdbStorage::open(&name).await.unwrap();
    let back = store.load().await.unwrap();
    assert_eq!(back.entries, vec![entry(1, 1, b"a"), entry(2, 2, b"B")]);
    assert_eq!(back.hard_state, HardState::default());
}
