//! The node's clock runs in a worker and ticks at its interval (headless
//! Chromium via wasm-bindgen-test).

#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use node_wasm::browser::ticker::Ticker;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn the_worker_clock_ticks_and_stops_when_dropped() {
    let ticks = Rc::new(Cell::new(0u32));
    let counter = ticks.clone();
    let ticker = Ticker::start(50, move || counter.set(counter.get() + 1));
    assert!(ticker.in_worker(), "the clock should run in a worker");
    gloo_timers::future::TimeoutFuture::new(1_000).await;
    let seen = ticks.get();
    assert!((5..=40).contains(&seen), "{seen} ticks of 50 ms in one second");
    drop(ticker);
    gloo_timers::future::TimeoutFuture::new(100).await;
    let stopped_at = ticks.get();
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(ticks.get(), stopped_at, "ticks after the clock was dropped");
}
