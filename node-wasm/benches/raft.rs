//! Figures of the Raft core on an in-memory 3-node cluster (`cargo xtask
//! bench`): message cost per commit and per idle second, and commit
//! throughput of one-at-a-time versus batched proposals, side by side.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use support::Cluster;

/// The product's tick is 50 ms: 20 ticks a second.
const TICKS_PER_SECOND: u64 = 20;

fn elected(seed: u64) -> Cluster {
    let mut c = Cluster::new(3, seed);
    c.run_until(400, "a leader", |c| c.leader().is_some());
    c.run(20);
    c
}

fn main() {
    // Idle: heartbeats only.
    let mut c = elected(1);
    let before = c.messages;
    let seconds = 60;
    c.run((seconds * TICKS_PER_SECOND) as usize);
    let idle = (c.messages - before) as f64 / seconds as f64;
    println!("idle 3-node cluster: {idle:.1} messages per second (heartbeat every 150 ms)");

    // One proposal at a time, each waiting for its commit.
    let n = 2_000u32;
    let mut c = elected(2);
    let leader = c.leader().unwrap();
    let before = c.messages;
    let start = Instant::now();
    for i in 0..n {
        let want = c.applied_commands(leader).len() + 1;
        c.propose(leader, &i.to_le_bytes());
        c.deliver_all();
        assert_eq!(c.applied_commands(leader).len(), want);
    }
    let sequential = start.elapsed();
    let per_commit = (c.messages - before) as f64 / f64::from(n);
    println!("one proposal at a time: {per_commit:.2} messages per commit");

    // The same number of proposals, all at once: batched into few appends.
    let mut c = elected(3);
    let leader = c.leader().unwrap();
    let before = c.messages;
    let start = Instant::now();
    for i in 0..n {
        c.propose(leader, &i.to_le_bytes());
    }
    c.deliver_all();
    let batched = start.elapsed();
    assert_eq!(c.applied_commands(leader).len(), n as usize);
    let per_commit_batched = (c.messages - before) as f64 / f64::from(n);
    println!("{n} proposals at once: {per_commit_batched:.3} messages per commit");
    println!(
        "commit throughput, core only: {:.0}/s one at a time vs {:.0}/s batched (ratio {:.1}x)",
        f64::from(n) / sequential.as_secs_f64(),
        f64::from(n) / batched.as_secs_f64(),
        sequential.as_secs_f64() / batched.as_secs_f64()
    );
}
