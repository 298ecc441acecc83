//! The simulation campaign: many seeds, every fault, all checks.
//!
//! `cargo xtask test` runs a CI-sized campaign; `cargo xtask sim --seeds N
//! --ticks M` a longer one. A failure names its seed; replay it with
//! `RAFTCAL_SIM_SEED=<seed> RAFTCAL_SIM_NODES=<n> cargo test -p node-wasm
//! --release --test simulation -- replay --nocapture`.

#![cfg(not(target_arch = "wasm32"))]

mod sim;

use sim::{Sim, SimConfig};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Seeds × cluster sizes 3, 5, 7, with every fault enabled.
#[test]
fn campaign() {
    let seeds = env("RAFTCAL_SIM_SEEDS", 300);
    let ticks = env("RAFTCAL_SIM_TICKS", 1_500);
    let first = env("RAFTCAL_SIM_FIRST_SEED", 0);
    let started = std::time::Instant::now();
    let mut total = sim::Stats::default();
    let mut acked = 0;
    let mut ops = 0;
    for seed in first..first + seeds {
        let nodes = [3, 5, 7][(seed % 3) as usize];
        let mut s = Sim::new(SimConfig::faulty(seed, nodes, ticks));
        s.run();
        acked += s.acked;
        ops += s.history.len();
        total.messages += s.stats.messages;
        total.commits += s.stats.commits;
        total.elections += s.stats.elections;
        total.crashes += s.stats.crashes;
        total.snapshots_installed += s.stats.snapshots_installed;
        total.transfers += s.stats.transfers;
        total.reads += s.stats.reads;
    }
    eprintln!(
        "simulation: {seeds} seeds x {ticks} ticks, 0 violations in {:.1?}: {ops} client ops ({acked} acknowledged writes, {} linearizable reads), {} entries committed, {} elections, {} crashes, {} snapshots installed, {} leadership transfers, {} messages",
        started.elapsed(),
        total.reads,
        total.commits,
        total.elections,
        total.crashes,
        total.snapshots_installed,
        total.transfers,
        total.messages
    );
    assert!(
        total.commits > 0 && acked > 0 && total.snapshots_installed > 0,
        "the campaign exercised nothing"
    );
}

/// Replays one seed (set RAFTCAL_SIM_SEED); does nothing otherwise.
#[test]
fn replay() {
    let Ok(seed) = std::env::var("RAFTCAL_SIM_SEED") else {
        return;
    };
    let seed: u64 = seed.parse().expect("RAFTCAL_SIM_SEED is a number");
    let nodes = env("RAFTCAL_SIM_NODES", [3, 5, 7][(seed % 3) as usize]);
    let mut s = Sim::new(SimConfig::faulty(seed, nodes, env("RAFTCAL_SIM_TICKS", 1_500)));
    s.run();
    eprintln!("seed {seed}: ok, {:?}", s.stats);
}

/// Without faults, a healthy cluster serves every client and stays in term.
#[test]
fn calm_cluster_serves_everyone() {
    for seed in 0..10 {
        let mut s = Sim::new(SimConfig::calm(seed, 3, 1_000));
        s.run();
        assert!(s.acked > 50, "seed {seed}: only {} writes acknowledged", s.acked);
    }
}
