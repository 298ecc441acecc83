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

/// Agreement under an unreliable network: a third of all messages lost,
/// more duplicated, long delays — but no crashes. Every check still holds
/// and every client is answered once the network heals.
#[test]
fn agreement_under_an_unreliable_network() {
    for seed in 0..30 {
        let mut cfg = SimConfig::faulty(seed, 5, 1_500);
        cfg.p_drop = 0.3;
        cfg.p_dup = 0.1;
        cfg.max_delay = 10;
        cfg.p_crash = 0.0;
        cfg.p_pause = 0.0;
        Sim::new(cfg).run();
    }
}

/// Churn with concurrent clients: crashes, restarts and transfers several
/// times more often than the campaign, with many clients writing the same
/// few events at once.
#[test]
fn churn_with_concurrent_clients() {
    for seed in 0..30 {
        let mut cfg = SimConfig::faulty(seed, 3, 1_500);
        cfg.p_crash = 0.02;
        cfg.p_restart = 0.08;
        cfg.p_transfer = 0.01;
        cfg.clients = 8;
        cfg.keys = 3;
        cfg.p_request = 0.5;
        let mut s = Sim::new(cfg);
        s.run();
        assert!(s.stats.crashes > 5, "seed {seed}: not much churn");
    }
}

/// Snapshots sent to lagging, crashed and unreliable followers: compaction
/// every few entries and tiny chunks, so transfers are long and often cut
/// by loss and crashes; followers still converge to identical state.
#[test]
fn snapshot_transfers_survive_crashes_and_loss() {
    let mut installed = 0;
    for seed in 0..30 {
        let mut cfg = SimConfig::faulty(seed, 3, 2_000);
        cfg.snapshot_every = 5;
        cfg.snapshot_chunk_bytes = 32;
        cfg.p_drop = 0.15;
        cfg.p_crash = 0.01;
        cfg.p_restart = 0.03;
        let mut s = Sim::new(cfg);
        s.run();
        installed += s.stats.snapshots_installed;
    }
    assert!(installed > 30, "only {installed} snapshots installed");
}
