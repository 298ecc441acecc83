#![cfg(not(target_arch = "wasm32"))]

//! Scenario tests of the Raft core on a deterministic in-memory cluster.

mod support;

use node_wasm::raft::{
    AppendResult, Body, Config, Entry, HardState, MembershipError, Message, Payload, Persisted, RawNode, Role,
    StepError,
};
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
        assert_eq!(c.nodes[&leader].raw.status().term, term, "seed {seed}: term moved");
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
        c.run_until(200, "a new leader", |c| c.leader().is_some_and(|l| l != old));
        let new = c.leader().unwrap();
        assert!(c.propose(new, b"after"));
        c.run(20);
        c.restart(old);
        c.run_until(200, "old leader caught up", |c| c.applied_commands(old).len() == 2);
        assert_eq!(c.applied_commands(old), [b"before".to_vec(), b"after".to_vec()]);
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
        assert_ne!(c.nodes[&leader].raw.status().role, Role::Leader, "seed {seed}");
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
    let mut n = RawNode::new(Config::new(1, vec![1, 2, 3]), Persisted::default(), 1).unwrap();
    let stranger = Message {
        from: 9,
        to: 1,
        term: 5,
        body: Body::Heartbeat { commit: 0, read_seq: 0 },
    };
    assert_eq!(n.step(stranger), Err(StepError::UnknownSender(9)));
    let misaddressed = Message {
        from: 2,
        to: 3,
        term: 5,
        body: Body::HeartbeatResponse { read_seq: 0 },
    };
    assert!(matches!(n.step(misaddressed), Err(StepError::WrongRecipient { .. })));
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
    let persisted = Persisted {
        hard_state: hs,
        ..Default::default()
    };
    assert!(RawNode::new(Config::new(1, vec![1, 2, 3]), persisted, 1).is_err());
}

/// An old leader cut off with an uncommitted entry rejoins: the entry is
/// overwritten by the new leader's log, and everyone agrees.
#[test]
fn partitioned_old_leader_loses_its_uncommitted_entries() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let old = c.leader().unwrap();
        c.isolate(old);
        assert!(c.propose(old, b"never committed"));
        c.run_until(300, "a new leader", |c| c.leader().is_some_and(|l| l != old));
        let new = c.leader().unwrap();
        assert!(c.propose(new, b"committed"));
        c.run(30);
        c.heal();
        c.run_until(300, "everyone applied the new entry", |c| {
            (1..=3).all(|id| c.applied_commands(id) == [b"committed".to_vec()])
        });
        let log = c.nodes[&old].raw.log();
        assert!(
            log.entries()
                .iter()
                .all(|e| e.payload != Payload::Command(b"never committed".to_vec())),
            "seed {seed}: the stale entry survived on the old leader"
        );
    }
}

/// Raft Figure 8 / §5.4.2: a leader never commits an entry of an earlier
/// term by counting replicas — only through an entry of its own term.
#[test]
fn figure_8_old_term_entries_commit_only_through_the_current_term() {
    let voters = vec![1, 2, 3, 4, 5];
    let old = |index, term| Entry {
        term,
        index,
        payload: Payload::Command(vec![index as u8]),
    };
    // S1 holds index 2 from term 2 (never committed) and is at term 3.
    let persisted = Persisted {
        hard_state: HardState {
            term: 3,
            vote: None,
            commit: 1,
        },
        snapshot: None,
        entries: vec![old(1, 1), old(2, 2)],
    };
    let cfg = Config {
        pre_vote: false,
        ..Config::new(1, voters)
    };
    let mut s1 = RawNode::new(cfg, persisted, 3).unwrap();
    let deliver = |n: &mut RawNode, from: u64, term: u64, body: Body| {
        n.step(Message {
            from,
            to: 1,
            term,
            body,
        })
        .unwrap();
        let rd = n.ready();
        n.advance(rd);
    };
    while s1.status().role != Role::Candidate {
        s1.tick();
    }
    let rd = s1.ready();
    s1.advance(rd);
    let vote = || Body::VoteResponse {
        pre_vote: false,
        granted: true,
        leader_hint: None,
    };
    deliver(&mut s1, 2, 4, vote());
    deliver(&mut s1, 3, 4, vote());
    assert_eq!(s1.status().role, Role::Leader);
    assert_eq!(s1.status().term, 4);
    assert_eq!(s1.status().last_index, 3, "the new leader appended its no-op at 3");
    // S2 and S3 now hold index 2 (term 2): a majority with S1, yet it must
    // not commit — a later leader with a term-3 entry at 2 could overwrite it.
    let acked = |m| Body::AppendResponse(AppendResult::Accepted { match_index: m });
    deliver(&mut s1, 2, 4, acked(2));
    deliver(&mut s1, 3, 4, acked(2));
    assert_eq!(
        s1.status().commit,
        1,
        "committed an old-term entry by counting replicas"
    );
    // Once the term-4 no-op reaches the same majority, both commit.
    deliver(&mut s1, 2, 4, acked(3));
    deliver(&mut s1, 3, 4, acked(3));
    assert_eq!(s1.status().commit, 3);
}

/// A follower that was down while the others compacted their logs is
/// brought back by a chunked snapshot, then by ordinary appends.
#[test]
fn lagging_follower_catches_up_through_a_snapshot() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        let lagging = (1..=3).find(|&i| i != leader).unwrap();
        c.crash(lagging);
        for i in 0..40u8 {
            assert!(c.propose(leader, &[i; 100]));
            c.step_round();
        }
        c.run(10);
        for id in (1..=3).filter(|&i| i != lagging) {
            c.compact(id);
        }
        assert!(c.nodes[&leader].raw.status().snapshot_index > 0);
        c.restart(lagging);
        assert!(c.propose(leader, b"after the snapshot"));
        c.run_until(300, "the lagging node caught up", |c| {
            c.applied_commands(lagging).len() == 41
        });
        assert_eq!(c.applied_commands(lagging), c.applied_commands(leader), "seed {seed}");
        assert_eq!(
            c.nodes[&lagging].installs, 1,
            "seed {seed}: caught up without the snapshot?"
        );
    }
}

/// A node restarts from its own snapshot plus the log after it, with the
/// same state it had, and keeps going.
#[test]
fn restart_from_a_snapshot_keeps_the_state() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        for i in 0..10u8 {
            assert!(c.propose(leader, &[i]));
            c.step_round();
        }
        c.run_until(100, "all applied", |c| {
            (1..=3).all(|id| c.applied_commands(id).len() == 10)
        });
        let follower = (1..=3).find(|&i| i != leader).unwrap();
        c.compact(follower);
        assert!(c.propose(leader, b"eleventh"));
        c.run_until(100, "applied", |c| c.applied_commands(follower).len() == 11);
        let before = c.applied_commands(follower);
        c.crash(follower);
        c.restart(follower);
        assert_eq!(c.applied_commands(follower), before, "seed {seed}: state after restart");
        assert_eq!(c.nodes[&follower].installs, 0);
    }
}

/// Full and partial restarts: everything committed survives.
#[test]
fn committed_entries_survive_full_and_partial_restarts() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        assert!(c.propose(c.leader().unwrap(), b"one"));
        c.run_until(100, "committed", |c| {
            (1..=3).all(|id| c.applied_commands(id).len() == 1)
        });
        for id in 1..=3 {
            c.crash(id);
        }
        for id in 1..=3 {
            c.restart(id);
        }
        c.run_until(300, "a leader after the full restart", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        assert!(c.propose(leader, b"two"));
        // A follower restarts while "two" replicates.
        let follower = (1..=3).find(|&i| i != leader).unwrap();
        c.crash(follower);
        c.run(50);
        c.restart(follower);
        c.run_until(300, "all applied", |c| {
            (1..=3).all(|id| c.applied_commands(id) == [b"one".to_vec(), b"two".to_vec()])
        });
    }
}

/// Leadership transfer (thesis §3.10): the target takes over at once, with
/// no failed election in between.
#[test]
fn leadership_transfer_hands_over_to_the_target() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let from = c.leader().unwrap();
        let term = c.nodes[&from].raw.status().term;
        let to = (1..=3).find(|&i| i != from).unwrap();
        c.transfer(from, to);
        c.run_until(5, "the target leads", |c| c.leader() == Some(to));
        assert_eq!(c.nodes[&to].raw.status().term, term + 1, "seed {seed}");
        assert!(
            c.propose(from, b"via the old leader"),
            "seed {seed}: followers forward to the new leader"
        );
        c.run_until(50, "applied", |c| (1..=3).all(|id| c.applied_commands(id).len() == 1));
    }
}

/// ReadIndex: a read point is at least the commit index of every write that
/// finished before the read began, asked at the leader or at a follower.
#[test]
fn read_index_covers_every_finished_write() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        assert!(c.propose(leader, b"w"));
        c.run_until(50, "applied", |c| (1..=3).all(|id| c.applied_commands(id).len() == 1));
        let commit = c.nodes[&leader].raw.status().commit;
        let follower = (1..=3).find(|&i| i != leader).unwrap();
        assert!(c.read_index(leader, 7));
        assert!(c.read_index(follower, 8));
        c.run_until(20, "both reads answered", |c| c.read_states.len() == 2);
        for (node, rs) in &c.read_states {
            assert!(
                rs.index >= commit,
                "seed {seed}: read at {} on {node} misses commit {commit}",
                rs.index
            );
        }
    }
}

/// Seven nodes, leaders crash one after another (never more than three
/// down): each time the rest elect a new one and keep committing.
#[test]
fn seven_nodes_survive_repeated_leader_crashes() {
    for seed in 0..10 {
        let mut c = Cluster::new(7, seed);
        let mut down = std::collections::VecDeque::new();
        for round in 0..8u8 {
            c.run_until(400, "a leader", |c| c.leader().is_some());
            let leader = c.leader().unwrap();
            assert!(c.propose(leader, &[round]));
            c.run(10);
            c.crash(leader);
            down.push_back(leader);
            if down.len() > 3 {
                let back = down.pop_front().unwrap();
                c.restart(back);
            }
        }
        while let Some(back) = down.pop_front() {
            c.restart(back);
        }
        c.run_until(600, "a leader", |c| c.leader().is_some());
        assert!(c.propose(c.leader().unwrap(), b"final"));
        c.run_until(600, "everyone converged", |c| {
            let reference = c.applied_commands(1);
            reference.last() == Some(&b"final".to_vec()) && (2..=7).all(|id| c.applied_commands(id) == reference)
        });
    }
}

/// Lost message bursts while entries stream: replication still converges.
#[test]
fn replication_recovers_from_lost_appends() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        for i in 0..20u8 {
            assert!(c.propose(leader, &[i]));
            if i % 3 == 0 {
                c.drop_in_flight();
            }
        }
        c.run_until(300, "everything applied", |c| {
            (1..=3).all(|id| c.applied_commands(id).len() == 20)
        });
    }
}

/// Membership is data in the log: removing two of five voters, one at a
/// time, shrinks the quorum so that the three left survive one more failure
/// — which the original five-voter configuration could not.
#[test]
fn removing_voters_one_at_a_time_shrinks_the_quorum() {
    for seed in SEEDS {
        let mut c = Cluster::new(5, seed);
        c.run_until(300, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        let mut voters: Vec<u64> = (1..=5).collect();
        let mut removed = vec![];
        for _ in 0..2 {
            let gone = *voters.iter().find(|&&v| v != leader && !removed.contains(&v)).unwrap();
            voters.retain(|&v| v != gone);
            c.propose_membership(leader, voters.clone()).unwrap();
            c.run_until(100, "the change committed", |c| {
                c.nodes[&leader].raw.status().commit == c.nodes[&leader].raw.status().last_index
            });
            removed.push(gone);
        }
        for &gone in &removed {
            c.crash(gone);
        }
        let third = *voters.iter().find(|&&v| v != leader).unwrap();
        c.crash(third);
        // Two of the three remaining voters: still a majority.
        assert!(c.propose(leader, b"still committing"));
        c.run_until(100, "committed without the removed nodes", |c| {
            c.applied_commands(leader) == [b"still committing".to_vec()]
        });
        assert_eq!(c.nodes[&leader].raw.voters(), voters.as_slice(), "seed {seed}");
    }
}

/// A new, empty node added as a voter catches up and can take over.
#[test]
fn an_added_voter_catches_up_and_counts() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let leader = c.leader().unwrap();
        assert!(c.propose(leader, b"before"));
        c.run(10);
        c.add_node(4, vec![1, 2, 3, 4]);
        c.propose_membership(leader, vec![1, 2, 3, 4]).unwrap();
        c.run_until(200, "node 4 caught up", |c| {
            c.applied_commands(4) == [b"before".to_vec()]
        });
        // With four voters the old leader's loss leaves three: a majority.
        c.crash(leader);
        c.run_until(400, "a new leader", |c| c.leader().is_some_and(|l| l != leader));
        let new = c.leader().unwrap();
        assert!(c.propose(new, b"after"));
        c.run_until(200, "node 4 applied it", |c| {
            c.applied_commands(4) == [b"before".to_vec(), b"after".to_vec()]
        });
    }
}

/// A leader that removes itself steps down once the change commits and the
/// others carry on without it; it never leads again.
#[test]
fn a_leader_removing_itself_steps_down() {
    for seed in SEEDS {
        let mut c = Cluster::new(3, seed);
        c.run_until(200, "a leader", |c| c.leader().is_some());
        let old = c.leader().unwrap();
        let rest: Vec<u64> = (1..=3).filter(|&i| i != old).collect();
        c.propose_membership(old, rest.clone()).unwrap();
        c.run_until(400, "a leader among the rest", |c| {
            c.leader().is_some_and(|l| rest.contains(&l))
        });
        let new = c.leader().unwrap();
        assert!(c.propose(new, b"without the old leader"));
        c.run(300);
        assert!(
            c.leaders().iter().all(|l| rest.contains(l)),
            "seed {seed}: the removed node led again"
        );
        for &id in &rest {
            assert_eq!(
                c.applied_commands(id),
                [b"without the old leader".to_vec()],
                "seed {seed}"
            );
        }
    }
}

/// One change at a time, one voter per change.
#[test]
fn membership_changes_are_refused_when_unsafe() {
    let mut c = Cluster::new(3, 1);
    c.run_until(200, "a leader", |c| c.leader().is_some());
    let leader = c.leader().unwrap();
    c.run(5);
    let follower = (1..=3).find(|&i| i != leader).unwrap();
    assert_eq!(
        c.propose_membership(follower, vec![1, 2]),
        Err(MembershipError::NotLeader)
    );
    assert_eq!(
        c.propose_membership(leader, vec![leader]),
        Err(MembershipError::TooManyChanges)
    );
    assert_eq!(c.propose_membership(leader, vec![]), Err(MembershipError::BadVoters));
    c.add_node(4, vec![1, 2, 3, 4]);
    assert_eq!(c.propose_membership(leader, vec![1, 2, 3, 4]), Ok(()));
    assert_eq!(
        c.propose_membership(leader, vec![1, 2, 3, 4, 5]),
        Err(MembershipError::ChangeInProgress),
        "a second change before the first commits"
    );
}

/// When the transport reports the leader's tab gone, the followers elect a
/// new leader within a few ticks instead of a full election timeout.
#[test]
fn presence_of_a_closed_leader_speeds_up_failover() {
    let mut slow = 0;
    let mut fast = 0;
    for seed in SEEDS {
        for hint in [false, true] {
            let mut c = Cluster::new(3, seed);
            c.run_until(200, "a leader", |c| c.leader().is_some());
            let old = c.leader().unwrap();
            c.run(5);
            c.crash(old);
            if hint {
                for id in (1..=3).filter(|&i| i != old) {
                    c.peer_gone(id, old);
                }
            }
            let mut rounds = 0;
            while c.leader().is_none_or(|l| l == old) {
                c.step_round();
                rounds += 1;
                assert!(rounds < 400, "seed {seed}: no new leader");
            }
            if hint {
                assert!(rounds <= 8, "seed {seed}: {rounds} ticks despite the hint");
                fast += rounds;
            } else {
                slow += rounds;
            }
        }
    }
    assert!(fast * 3 < slow, "hinted failover {fast} ticks vs {slow} without");
}
