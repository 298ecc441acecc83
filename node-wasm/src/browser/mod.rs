//! The browser side of a node: the only code here that touches I/O.
//!
//! # Layout
//! - `idb`: IndexedDB storage (strict-durability transactions).
//! - `socket`: the WebSocket to the relay.
//! - `ticker`: the node's clock, from a worker so hidden tabs keep time.
//! - `locks`: claiming a node slot with the Web Locks API.
//! - `observer`: a tab with no free slot follows the others' committed state.
//! - `driver`: the one event loop — timers, socket and proposals in; persist,
//!   send, apply, notify out — and the handle the UI holds.

pub mod driver;
pub mod idb;
pub mod locks;
mod observer;
pub(crate) mod socket;
pub mod ticker;

pub use driver::{start, BootError, BootOptions, NodeHandle, SubmitError};

/// Log to the browser console (this crate's `tracing`, in the browser).
pub(crate) fn console_log(level: &str, msg: &str) {
    let text = wasm_bindgen::JsValue::from_str(&format!("[raftcal] {msg}"));
    match level {
        "error" => web_sys::console::error_1(&text),
        "warn" => web_sys::console::warn_1(&text),
        "debug" => web_sys::console::debug_1(&text),
        _ => web_sys::console::info_1(&text),
    }
}
