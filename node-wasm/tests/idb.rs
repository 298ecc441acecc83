//! IndexedDB storage in a real browser (headless Chromium via
//! wasm-bindgen-test): the storage conformance suite, and the outbox.

#![cfg(target_arch = "wasm32")]

use node_wasm::browser::idb::IdbStorage;
use node_wasm::raft::{Entry, HardState, SnapshotUpdate};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod conformance;

/// An IndexedDB store under test, remembering its name to reopen it.
struct Idb {
    name: String,
    store: IdbStorage,
}

impl conformance::Store for Idb {
    async fn save(&mut self, snapshot: Option<&SnapshotUpdate>, hs: Option<&HardState>, entries: &[Entry]) {
        self.store.save(snapshot, hs, entries).await.unwrap();
    }

    async fn load(&self) -> node_wasm::storage::PersistedState {
        self.store.load().await.unwrap()
    }

    async fn save_torn(&mut self, hs: Option<&HardState>, entries: &[Entry]) {
        self.store.save_torn(hs, entries).await.unwrap();
    }

    async fn reopen(self) -> Self {
        self.store.close();
        let store = IdbStorage::open(&self.name).await.unwrap();
        Self { name: self.name, store }
    }
}

#[wasm_bindgen_test]
async fn indexeddb_store_conforms() {
    conformance::run_all(|scenario| async move {
        let name = db_name(scenario);
        let store = IdbStorage::open(&name).await.unwrap();
        Idb { name, store }
    })
    .await;
}

/// Every test gets its own database: all tests of a binary share one page.
fn db_name(test: &str) -> String {
    format!("raftcal-test/{test}/{}", js_sys::Math::random())
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
