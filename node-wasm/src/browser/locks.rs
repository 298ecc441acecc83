//! Claiming a node slot with the Web Locks API, so two tabs can never run
//! the same node (two writers of one Raft log would break every guarantee).
//! A slot's lock is held for the page's whole life and released by the
//! browser when the tab closes or reloads.

use futures::channel::oneshot;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    #[error("this browser has no Web Locks API (navigator.locks); RaftCal needs it to give each tab its own node")]
    Unsupported,
    #[error("node {slot} of room \"{room}\" is already open in another tab")]
    SlotTaken { room: String, slot: u16 },
    #[error("all {slots} nodes of room \"{room}\" are already open in other tabs")]
    AllTaken { room: String, slots: u16 },
}

pub fn lock_name(room: &str, slot: u16) -> String {
    format!("raftcal/{room}/node/{slot}")
}

/// Try to take `name` without waiting. On success the lock is held until the
/// page goes away.
async fn try_lock(name: &str) -> Result<bool, LockError> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).map_err(|_| LockError::Unsupported)?;
    let locks = Reflect::get(&navigator, &"locks".into()).map_err(|_| LockError::Unsupported)?;
    if locks.is_undefined() {
        return Err(LockError::Unsupported);
    }
    let request: Function = Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(LockError::Unsupported)?;
    let (tx, rx) = oneshot::channel::<bool>();
    let callback = Closure::once_into_js(move |lock: JsValue| -> Promise {
        let granted = !lock.is_null();
        let _ = tx.send(granted);
        if granted {
            // Never settles: the lock is ours for the life of the page.
            Promise::new(&mut |_, _| {})
        } else {
            Promise::resolve(&JsValue::UNDEFINED)
        }
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    request
        .call3(&locks, &name.into(), &options, &callback)
        .map_err(|_| LockError::Unsupported)?;
    Ok(rx.await.unwrap_or(false))
}

/// Claim a slot in `1..=slots`. `wanted` (from `?node=N`) must be free;
/// `remembered` (this tab's slot before a reload) is waited for briefly, since
/// the old page may still be releasing it; otherwise the first free slot wins.
pub async fn claim_slot(
    room: &str,
    slots: u16,
    wanted: Option<u16>,
    remembered: Option<u16>,
) -> Result<u16, LockError> {
    if let Some(slot) = wanted {
        return match try_lock(&lock_name(room, slot)).await? {
            true => Ok(slot),
            false => Err(LockError::SlotTaken {
                room: room.into(),
                slot,
            }),
        };
    }
    if let Some(slot) = remembered.filter(|s| (1..=slots).contains(s)) {
        for _ in 0..20 {
            if try_lock(&lock_name(room, slot)).await? {
                return Ok(slot);
            }
            gloo_timers::future::TimeoutFuture::new(100).await;
        }
    }
    for slot in 1..=slots {
        if try_lock(&lock_name(room, slot)).await? {
            return Ok(slot);
        }
    }
    Err(LockError::AllTaken {
        room: room.into(),
        slots,
    })
}
