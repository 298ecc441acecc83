//! IndexedDB figures in headless Chromium, run by `cargo xtask bench` (not by
//! `cargo xtask test`): latency of one strict write transaction side by side
//! with a relaxed one, and entries per second with one entry per transaction
//! versus the batches the driver makes under load.

#![cfg(target_arch = "wasm32")]

use node_wasm::browser::idb::{Durability, IdbStorage};
use node_wasm::raft::{Entry, HardState, Payload};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `performance.now()`: sub-millisecond (Chrome clamps it to 100 µs).
fn now_ms() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now: js_sys::Function = js_sys::Reflect::get(&perf, &"now".into()).unwrap().into();
    now.call0(&perf).unwrap().as_f64().unwrap()
}

fn entry(index: u64) -> Entry {
    Entry {
        term: 1,
        index,
        payload: Payload::Command(vec![7; 200]),
    }
}

/// Per-transaction latencies (ms) of `n` writes of `batch` entries each.
async fn run(durability: Durability, n: u64, batch: u64) -> Vec<f64> {
    let name = format!("raftcal-bench/{durability:?}/{batch}/{}", js_sys::Math::random());
    let store = IdbStorage::open(&name).await.unwrap().with_durability(durability);
    let mut times = Vec::with_capacity(n as usize);
    for i in 0..n {
        let entries: Vec<Entry> = (1..=batch).map(|k| entry(i * batch + k)).collect();
        let hs = HardState {
            term: 1,
            vote: Some(1),
            commit: i * batch,
        };
        let t = now_ms();
        store.save(None, Some(&hs), &entries).await.unwrap();
        times.push(now_ms() - t);
    }
    store.close();
    times.sort_by(|a, b| a.total_cmp(b));
    times
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[wasm_bindgen_test]
async fn indexeddb_figures() {
    let strict = run(Durability::Strict, 200, 1).await;
    let relaxed = run(Durability::Relaxed, 200, 1).await;
    console_log!(
        "{}",
        format!(
            "BENCH strict write (1 entry + hard state): p50 {:.2} ms p99 {:.2} ms; relaxed p50 {:.2} ms p99 {:.2} ms; strict/relaxed p50 {:.2}x",
            pct(&strict, 50),
            pct(&strict, 99),
            pct(&relaxed, 50),
            pct(&relaxed, 99),
            pct(&strict, 50) / pct(&relaxed, 50).max(0.001)
        )
    );
    for batch in [1u64, 16, 64] {
        let times = run(Durability::Strict, 50, batch).await;
        let total: f64 = times.iter().sum();
        console_log!(
            "{}",
            format!(
                "BENCH strict, {batch} entries per transaction: {:.0} entries/s (p50 {:.2} ms per transaction)",
                (50 * batch) as f64 / (total / 1000.0),
                pct(&times, 50)
            )
        );
    }
}
