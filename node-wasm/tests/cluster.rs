#![cfg(not(target_arch = "wasm32"))]

//! Scenario tests of the Raft core on a deterministic in-memory cluster.

mod support;

use node_wasm::raft::{Body, Config, HardState, Message, RawNode, Role, StepError};
use support::Cluster;

const SEEDS: std::ops::Range<u64> = 0..40;

/// Raft §5.2: without faults, three nodes elect exactly one leader and keep it.
#[test]
fn three_nodes_elect_exactly_one_leader_and_keep_it() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        let term = c.nodes[&leader].raw.status().term;
        c.run(300);
        assert_eq!(
            c.leaders(),
            vec![leader],
            "seed {seed}: leadership changed without faults"
        );
        assert_eq!(
            c.nodes[&leader].raw.status().term,
            term,
            "seed {seed}: term moved"
        );
        for n in c.nodes.values() {
            assert_eq!(n.raw.status().leader, Some(leader), "seed {seed}");
        }
    }
}

/// Proposals made at any node (followers forward) reach every state machine,
/// in one order.
#[test]
fn proposals_from_any_node_replicate_to_all() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let mut expected = vec![];
        for i in 0..30u8 {
            let via = 1 + u64::from(i % 3);
            assert!(
                c.propose(via, &[i]),
                "seed {seed}: proposal refused with a known leader"
            );
            expected.push(vec![i]);
            c.step_round();
        }
        c.run_until(100, "all applied", |c| {
            (1..=3).all(|id| c.applied_commands(id).len() == 30)
        });
        for id in 1..=3 {
            let mut got = c.applied_commands(id);
            got.sort();
            assert_eq!(got, expected, "seed {seed}: node {id}");
        }
    }
}

/// A leader that crashes is replaced; the new term's leader keeps every
/// committed entry, and the old one catches up when it returns.
#[test]
fn leader_crash_reelects_and_restart_catches_up() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let old = c.leader().unwrap();
        assert!(c.propose(old, b"before"));
        c.run_until(50, "committed everywhere", |c| {
            (1..=3).all(|id| c.applied_commands(id) == [b"before".to_vec()])
        });
        c.crash(old);
        c.run_until(200, "a new leader", |c| {
            c.leader().is_some_and(|l| l != old)
        });
        let new = c.leader().unwrap();
        assert!(c.propose(new, b"after"));
        c.run(20);
        c.restart(old);
        c.run_until(200, "old leader caught up", |c| {
            c.applied_commands(old).len() == 2
        });
        assert_eq!(
            c.applied_commands(old),
            [b"before".to_vec(), b"after".to_vec()]
        );
    }
}

/// No leader and no commit without a majority: an isolated node never
/// becomes leader, and with two of three nodes down nothing commits.
#[test]
fn no_progress_without_a_majority() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        let others: Vec<_> = (1..=3).filter(|&i| i != leader).collect();
        for &o in &others {
            c.crash(o);
        }
        c.propose(leader, b"lonely");
        c.run(300);
        assert!(
            c.applied_commands(leader).is_empty(),
            "seed {seed}: committed without a majority"
        );
        // check-quorum: the lone leader stepped down.
        assert_ne!(
            c.nodes[&leader].raw.status().role,
            Role::Leader,
            "seed {seed}"
        );
        assert!(c.leaders().is_empty(), "seed {seed}");
    }
}

/// Pre-vote + check-quorum: a node cut off for a long time comes back without
/// deposing the healthy leader.
#[test]
fn returning_partitioned_node_does_not_disrupt_the_leader() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        let term = c.nodes[&leader].raw.status().term;
        let follower = (1..=3).find(|&i| i != leader).unwrap();
        c.isolate(follower);
        c.run(500);
        assert_eq!(
            c.nodes[&follower].raw.status().term,
            term,
            "seed {seed}: pre-vote let the term grow"
        );
        c.heal();
        c.run(100);
        assert_eq!(c.leader(), Some(leader), "seed {seed}");
        assert_eq!(c.nodes[&leader].raw.status().term, term, "seed {seed}");
    }
}

/// A single-node cluster commits on its own once its write is durable.
#[test]
fn single_node_commits_alone() {
    let mut c = Cluster::new(1, 9);
    c.run_until(100, "a leader", |c| c.leader() == Some(1));
    assert!(c.propose(1, b"solo"));
    c.run(1);
    assert_eq!(c.applied_commands(1), [b"solo".to_vec()]);
}

/// Bad input is refused with a typed error and changes nothing.
#[test]
fn bad_messages_are_refused_without_panic() {
    let mut n = RawNode::new(
        Config::new(1, vec![1, 2, 3]),
        HardState::default(),
        vec![],
        1,
    )
    .unwrap();
    let stranger = Message {
        from: 9,
        to: 1,
        term: 5,
        body: Body::Heartbeat { commit: 0 },
    };
    assert_eq!(n.step(stranger), Err(StepError::UnknownSender(9)));
    let misaddressed = Message {
        from: 2,
        to: 3,
        term: 5,
        body: Body::HeartbeatResponse,
    };
    assert!(matches!(
        n.step(misaddressed),
        Err(StepError::WrongRecipient { .. })
    ));
    assert_eq!(n.status().term, 0);
    // An append far beyond our log is rejected with a hint, not applied.
    let beyond = Message {
        from: 2,
        to: 1,
        term: 1,
        body: Body::Append {
            prev_index: 1_000_000,
            prev_term: 1,
            entries: vec![],
            commit: 1_000_000,
        },
    };
    n.step(beyond).unwrap();
    let rd = n.ready();
    assert_eq!(rd.messages.len(), 1);
    assert!(matches!(
        rd.messages[0].body,
        Body::AppendResponse(node_wasm::raft::AppendResult::Rejected { hint_index: 0, .. })
    ));
    assert_eq!(n.status().commit, 0);
    n.advance(rd);
}

/// Persisted state that contradicts itself is refused at start-up.
#[test]
fn inconsistent_persisted_state_is_refused() {
    let hs = HardState {
        term: 1,
        vote: None,
        commit: 3,
    };
    assert!(RawNode::new(Config::new(1, vec![1, 2, 3]), hs, vec![], 1).is_err());
}
