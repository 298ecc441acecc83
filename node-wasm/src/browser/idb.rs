//! IndexedDB storage for one node.
//!
//! Layout (schema version 2): object store `meta` (keys `"hard_state"`,
//! `"client"`, `"next_seq"`), `log` (key = entry index as a number),
//! `snapshot` (key `"snapshot"`), `outbox` (key = sequence number: this
//! tab's edits not yet applied). Values are postcard bytes in a `Uint8Array`.
//!
//! Every `save` is ONE read-write transaction opened with
//! `durability: "strict"`: Chrome's default since 121 is "relaxed", which may
//! report success before the data reaches the disk, and Raft promises peers
//! that what it acknowledged survives a crash. The future resolves only on
//! the transaction's `complete` event.

use futures::channel::oneshot;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbFactory, IdbKeyRange, IdbOpenDbRequest, IdbRequest, IdbTransaction};

use crate::raft::{Entry, HardState, Snapshot, SnapshotUpdate};
use crate::storage::PersistedState;

/// 1: meta, log, snapshot. 2: + outbox (edits waiting for the cluster).
const SCHEMA_VERSION: u32 = 2;
const META: &str = "meta";
const LOG: &str = "log";
const SNAPSHOT: &str = "snapshot";
const OUTBOX: &str = "outbox";
const HARD_STATE_KEY: &str = "hard_state";
const SNAPSHOT_KEY: &str = "snapshot";
const CLIENT_KEY: &str = "client";
const NEXT_SEQ_KEY: &str = "next_seq";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdbError {
    #[error("IndexedDB is not available in this browser context")]
    Unavailable,
    #[error("could not open the database: {0}")]
    Open(String),
    #[error("another tab holds an older version of this database open; close it and reload")]
    Blocked,
    #[error("the browser's storage quota is exhausted; free some space — nothing was acknowledged")]
    QuotaExceeded,
    #[error("a storage transaction failed: {0}")]
    Transaction(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

#[wasm_bindgen]
extern "C" {
    // `IDBDatabase.transaction(stores, mode, { durability })`: web-sys keeps
    // the options dictionary behind its unstable-API flag, so bind it here.
    #[wasm_bindgen(extends = IdbDatabase)]
    type DatabaseWithOptions;

    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &DatabaseWithOptions,
        stores: &Array,
        mode: &str,
        options: &Object,
    ) -> Result<IdbTransaction, JsValue>;
}

fn describe(err: &JsValue) -> String {
    if let Some(ex) = err.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", ex.name(), ex.message());
    }
    err.as_string().unwrap_or_else(|| format!("{err:?}"))
}

fn classify(err: Option<web_sys::DomException>) -> IdbError {
    match err {
        Some(ex) if ex.name() == "QuotaExceededError" => IdbError::QuotaExceeded,
        Some(ex) => IdbError::Transaction(format!("{}: {}", ex.name(), ex.message())),
        None => IdbError::Transaction("aborted".into()),
    }
}

/// Wait for one request's `success` (or `error`).
async fn wait_request(req: &IdbRequest) -> Result<JsValue, IdbError> {
    let (tx, rx) = oneshot::channel::<Result<(), ()>>();
    let tx = std::rc::Rc::new(std::cell::RefCell::new(Some(tx)));
    let (ok_tx, err_tx) = (tx.clone(), tx);
    let on_ok = Closure::<dyn FnMut()>::new(move || {
        if let Some(tx) = ok_tx.borrow_mut().take() {
            let _ = tx.send(Ok(()));
        }
    });
    let on_err = Closure::<dyn FnMut()>::new(move || {
        if let Some(tx) = err_tx.borrow_mut().take() {
            let _ = tx.send(Err(()));
        }
    });
    req.set_onsuccess(Some(on_ok.as_ref().unchecked_ref()));
    req.set_onerror(Some(on_err.as_ref().unchecked_ref()));
    let outcome = rx.await;
    req.set_onsuccess(None);
    req.set_onerror(None);
    match outcome {
        Ok(Ok(())) => req.result().map_err(|e| IdbError::Transaction(describe(&e))),
        _ => Err(classify(req.error().ok().flatten())),
    }
}

/// Wait for a transaction's `complete` (durable, for a strict one) or its failure.
async fn wait_transaction(txn: &IdbTransaction) -> Result<(), IdbError> {
    let (tx, rx) = oneshot::channel::<bool>();
    let tx = std::rc::Rc::new(std::cell::RefCell::new(Some(tx)));
    let make = |ok: bool| {
        let tx = tx.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(ok);
            }
        })
    };
    let (on_complete, on_error, on_abort) = (make(true), make(false), make(false));
    txn.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
    txn.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    txn.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    let ok = rx.await.unwrap_or(false);
    txn.set_oncomplete(None);
    txn.set_onerror(None);
    txn.set_onabort(None);
    if ok {
        Ok(())
    } else {
        Err(classify(txn.error()))
    }
}

fn factory() -> Result<IdbFactory, IdbError> {
    let global = js_sys::global();
    let value = Reflect::get(&global, &JsValue::from_str("indexedDB")).map_err(|_| IdbError::Unavailable)?;
    value.dyn_into::<IdbFactory>().map_err(|_| IdbError::Unavailable)
}

fn encode<T: serde::Serialize>(value: &T) -> Uint8Array {
    Uint8Array::from(postcard::to_allocvec(value).expect("plain data serializes").as_slice())
}

fn decode<T: serde::de::DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, IdbError> {
    let bytes = value
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| IdbError::Corrupt(format!("{what} is not a byte array")))?;
    postcard::from_bytes(&bytes).map_err(|e| IdbError::Corrupt(format!("{what}: {e}")))
}

/// Issue a `Ready`'s writes on `txn` (see `IdbStorage::save` for the rules).
fn write_ready(
    txn: &IdbTransaction,
    snapshot: Option<&SnapshotUpdate>,
    hard_state: Option<&HardState>,
    entries: &[Entry],
) -> Result<(), IdbError> {
    let fail = |e: JsValue| IdbError::Transaction(describe(&e));
    let log = txn.object_store(LOG).map_err(fail)?;
    if let Some(update) = snapshot {
        let snap = update.snapshot();
        let covered = IdbKeyRange::upper_bound(&JsValue::from_f64(snap.meta.index as f64)).map_err(fail)?;
        log.delete(&covered).map_err(fail)?;
        if let SnapshotUpdate::Installed { discard_log: true, .. } = update {
            log.clear().map_err(fail)?;
        }
        let store = txn.object_store(SNAPSHOT).map_err(fail)?;
        store
            .put_with_key(&encode(snap), &JsValue::from_str(SNAPSHOT_KEY))
            .map_err(fail)?;
    }
    if let Some(first) = entries.first() {
        let suffix = IdbKeyRange::lower_bound(&JsValue::from_f64(first.index as f64)).map_err(fail)?;
        log.delete(&suffix).map_err(fail)?;
        for e in entries {
            log.put_with_key(&encode(e), &JsValue::from_f64(e.index as f64))
                .map_err(fail)?;
        }
    }
    if let Some(hs) = hard_state {
        let meta = txn.object_store(META).map_err(fail)?;
        meta.put_with_key(&encode(hs), &JsValue::from_str(HARD_STATE_KEY))
            .map_err(fail)?;
    }
    Ok(())
}

/// What `load_outbox` finds: the session (if one was ever saved), the next
/// sequence number to use, and the waiting edits as (seq, proposal bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredOutbox {
    pub client: Option<u64>,
    pub next_seq: u64,
    pub items: Vec<(u64, Vec<u8>)>,
}

/// An open node database, owned by the driver.
pub struct IdbStorage {
    db: IdbDatabase,
    durability: Durability,
}

/// How a write transaction asks to be committed. RaftCal nodes always use
/// `Strict`; `Relaxed` exists so the benchmark can show what strictness costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Strict,
    Relaxed,
}

impl IdbStorage {
    /// Open (creating or upgrading) the database called `name`.
    pub async fn open(name: &str) -> Result<Self, IdbError> {
        let req: IdbOpenDbRequest = factory()?
            .open_with_u32(name, SCHEMA_VERSION)
            .map_err(|e| IdbError::Open(describe(&e)))?;
        let on_upgrade =
            Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(move |ev: web_sys::IdbVersionChangeEvent| {
                let Some(target) = ev.target() else { return };
                let Ok(req) = target.dyn_into::<IdbOpenDbRequest>() else {
                    return;
                };
                let Ok(db) = req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) else {
                    return;
                };
                // Every version only adds stores: create whichever are missing
                // (0 → 2 creates all four, 1 → 2 adds the outbox).
                let names = db.object_store_names();
                for store in [META, LOG, SNAPSHOT, OUTBOX] {
                    if !names.contains(store) {
                        if let Err(e) = db.create_object_store(store) {
                            super::console_log("error", &format!("creating store {store}: {}", describe(&e)));
                        }
                    }
                }
            });
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let blocked = std::rc::Rc::new(std::cell::Cell::new(false));
        let blocked_flag = blocked.clone();
        let on_blocked = Closure::<dyn FnMut()>::new(move || blocked_flag.set(true));
        req.set_onblocked(Some(on_blocked.as_ref().unchecked_ref()));
        let result = wait_request(&req).await;
        req.set_onupgradeneeded(None);
        req.set_onblocked(None);
        let db = match result {
            Ok(v) => v
                .dyn_into::<IdbDatabase>()
                .map_err(|_| IdbError::Open("not a database".into()))?,
            Err(_) if blocked.get() => return Err(IdbError::Blocked),
            Err(e) => return Err(e),
        };
        // A newer tab wants to upgrade: close so it is not blocked forever.
        let db_for_close = db.clone();
        let on_version_change = Closure::<dyn FnMut()>::new(move || db_for_close.close());
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        on_version_change.forget();
        Ok(Self {
            db,
            durability: Durability::Strict,
        })
    }

    /// The same store with another durability (benchmarks only).
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    fn transaction(&self, mode: &str) -> Result<IdbTransaction, IdbError> {
        let stores: Array = [META, LOG, SNAPSHOT, OUTBOX]
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect();
        let options = Object::new();
        let durability = match self.durability {
            Durability::Strict => "strict",
            Durability::Relaxed => "relaxed",
        };
        Reflect::set(&options, &"durability".into(), &durability.into())
            .map_err(|e| IdbError::Transaction(describe(&e)))?;
        self.db
            .unchecked_ref::<DatabaseWithOptions>()
            .transaction_with_options(&stores, mode, &options)
            .map_err(|e| IdbError::Transaction(describe(&e)))
    }

    /// Read everything a restarting node needs.
    pub async fn load(&self) -> Result<PersistedState, IdbError> {
        let txn = self.transaction("readonly")?;
        let fail = |e: JsValue| IdbError::Transaction(describe(&e));
        let hs_req = txn
            .object_store(META)
            .and_then(|s| s.get(&JsValue::from_str(HARD_STATE_KEY)))
            .map_err(fail)?;
        let snap_req = txn
            .object_store(SNAPSHOT)
            .and_then(|s| s.get(&JsValue::from_str(SNAPSHOT_KEY)))
            .map_err(fail)?;
        let entries_req = txn.object_store(LOG).and_then(|s| s.get_all()).map_err(fail)?;
        let hs_value = wait_request(&hs_req).await?;
        let snap_value = wait_request(&snap_req).await?;
        let entries_value = wait_request(&entries_req).await?;
        let hard_state = match hs_value.is_undefined() {
            true => HardState::default(),
            false => decode(&hs_value, "hard state")?,
        };
        let snapshot = match snap_value.is_undefined() {
            true => None,
            false => Some(decode::<Snapshot>(&snap_value, "snapshot")?),
        };
        let entries = Array::from(&entries_value)
            .iter()
            .map(|v| decode::<Entry>(&v, "log entry"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PersistedState {
            hard_state,
            snapshot,
            entries,
        })
    }

    /// Durably write a `Ready`'s snapshot, hard state and entries in ONE
    /// transaction, with the rules of `MemStorage::save`: a snapshot drops the
    /// entries it covers (all of them with `discard_log`); an entry whose
    /// index is stored already replaces it and all after it.
    pub async fn save(
        &self,
        snapshot: Option<&SnapshotUpdate>,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), IdbError> {
        if snapshot.is_none() && hard_state.is_none() && entries.is_empty() {
            return Ok(());
        }
        let txn = self.transaction("readwrite")?;
        write_ready(&txn, snapshot, hard_state, entries)?;
        wait_transaction(&txn).await
    }

    /// A write that never finishes, as when the tab dies mid-transaction: the
    /// same requests as `save` (the same code), then the transaction is aborted. Used by the
    /// conformance suite to show a torn write leaves nothing behind.
    pub async fn save_torn(&self, hard_state: Option<&HardState>, entries: &[Entry]) -> Result<(), IdbError> {
        let txn = self.transaction("readwrite")?;
        write_ready(&txn, None, hard_state, entries)?;
        let fail = |e: JsValue| IdbError::Transaction(describe(&e));
        txn.abort().map_err(fail)?;
        match wait_transaction(&txn).await {
            Err(_) => Ok(()), // aborted, as intended
            Ok(()) => Err(IdbError::Transaction("an aborted transaction committed".into())),
        }
    }

    /// This node's client session and the edits still waiting for the cluster.
    pub async fn load_outbox(&self) -> Result<StoredOutbox, IdbError> {
        let txn = self.transaction("readonly")?;
        let fail = |e: JsValue| IdbError::Transaction(describe(&e));
        let meta = txn.object_store(META).map_err(fail)?;
        let client_req = meta.get(&JsValue::from_str(CLIENT_KEY)).map_err(fail)?;
        let seq_req = meta.get(&JsValue::from_str(NEXT_SEQ_KEY)).map_err(fail)?;
        let items_req = txn.object_store(OUTBOX).and_then(|s| s.get_all()).map_err(fail)?;
        let client = wait_request(&client_req).await?;
        let next_seq = wait_request(&seq_req).await?;
        let items = wait_request(&items_req).await?;
        Ok(StoredOutbox {
            client: (!client.is_undefined())
                .then(|| decode(&client, "client id"))
                .transpose()?,
            next_seq: match next_seq.is_undefined() {
                true => 1,
                false => decode(&next_seq, "next sequence number")?,
            },
            items: Array::from(&items)
                .iter()
                .map(|v| decode::<(u64, Vec<u8>)>(&v, "outbox item"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Durably record the session, new outbox items and settled ones, in one
    /// strict transaction: an edit the UI shows as pending survives a crash.
    pub async fn save_outbox(
        &self,
        client: u64,
        next_seq: u64,
        add: &[(u64, Vec<u8>)],
        remove: &[u64],
    ) -> Result<(), IdbError> {
        let txn = self.transaction("readwrite")?;
        let fail = |e: JsValue| IdbError::Transaction(describe(&e));
        let meta = txn.object_store(META).map_err(fail)?;
        meta.put_with_key(&encode(&client), &JsValue::from_str(CLIENT_KEY))
            .map_err(fail)?;
        meta.put_with_key(&encode(&next_seq), &JsValue::from_str(NEXT_SEQ_KEY))
            .map_err(fail)?;
        let outbox = txn.object_store(OUTBOX).map_err(fail)?;
        for item in add {
            outbox
                .put_with_key(&encode(item), &JsValue::from_f64(item.0 as f64))
                .map_err(fail)?;
        }
        for seq in remove {
            outbox.delete(&JsValue::from_f64(*seq as f64)).map_err(fail)?;
        }
        wait_transaction(&txn).await
    }

    pub fn close(&self) {
        self.db.close();
    }
}
