//! A deterministic in-memory cluster for testing the core: one seed drives
//! election timeouts and message delivery order; storage is `MemStorage`, so a
//! "crash" rebuilds a node from exactly what it persisted.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use node_wasm::raft::rng::SplitMix64;
use node_wasm::raft::{
    Config, MembershipError, Message, NodeId, Payload, Persisted, RawNode, ReadState, Role, SnapshotUpdate, StepError,
    Term,
};
use node_wasm::storage::MemStorage;

pub struct SimNode {
    pub raw: RawNode,
    pub store: MemStorage,
    /// This node's state machine: every command applied, in order. Its
    /// snapshot is this list, postcard-encoded.
    pub applied: Vec<Vec<u8>>,
    /// Snapshots this node installed from a leader.
    pub installs: usize,
}

impl SimNode {
    /// A brand-new node with empty storage.
    fn fresh(id: NodeId, voters: Vec<NodeId>, seed: u64) -> Self {
        Self {
            raw: RawNode::new(Config::new(id, voters), Persisted::default(), seed).expect("fresh node"),
            store: MemStorage::default(),
            applied: vec![],
            installs: 0,
        }
    }
}

pub struct Cluster {
    pub nodes: BTreeMap<NodeId, SimNode>,
    ids: Vec<NodeId>,
    in_flight: Vec<Message>,
    /// Nodes that are down: messages to and from them are lost.
    pub down: BTreeSet<NodeId>,
    /// Pairs that cannot talk (both directions are listed).
    pub cut: BTreeSet<(NodeId, NodeId)>,
    rng: SplitMix64,
    /// Every (term, leader) ever observed: election safety.
    leaders: BTreeMap<Term, NodeId>,
    pub seed: u64,
    /// ReadIndex answers, by node.
    pub read_states: Vec<(NodeId, ReadState)>,
    /// Messages sent so far.
    pub messages: u64,
}

impl Cluster {
    pub fn new(n: u64, seed: u64) -> Self {
        let ids: Vec<NodeId> = (1..=n).collect();
        let mut rng = SplitMix64::new(seed);
        let nodes = ids
            .iter()
            .map(|&id| (id, SimNode::fresh(id, ids.clone(), rng.next_u64())))
            .collect();
        Self {
            nodes,
            ids,
            in_flight: vec![],
            down: BTreeSet::new(),
            cut: BTreeSet::new(),
            rng,
            leaders: BTreeMap::new(),
            seed,
            read_states: vec![],
            messages: 0,
        }
    }

    /// Persist, send, apply, advance: the driver's loop, synchronously.
    fn drain_ready(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        while node.raw.has_ready() {
            let rd = node.raw.ready();
            node.store
                .save(rd.snapshot.as_ref(), rd.hard_state.as_ref(), &rd.entries);
            self.messages += rd.messages.len() as u64;
            self.in_flight.extend(rd.messages.iter().cloned());
            if let Some(SnapshotUpdate::Installed { snapshot, .. }) = &rd.snapshot {
                node.applied = postcard::from_bytes(&snapshot.data).expect("snapshot decodes");
                node.installs += 1;
            }
            node.applied
                .extend(rd.committed_entries.iter().filter_map(|e| match &e.payload {
                    Payload::Command(c) => Some(c.clone()),
                    Payload::Noop | Payload::Config { .. } => None,
                }));
            self.read_states.extend(rd.read_states.iter().map(|r| (id, *r)));
            node.raw.advance(rd);
        }
    }

    fn can_talk(&self, a: NodeId, b: NodeId) -> bool {
        !self.down.contains(&a) && !self.down.contains(&b) && !self.cut.contains(&(a, b))
    }

    /// One round: tick every live node, then deliver every message in flight
    /// (in a seed-determined order), repeatedly until the network is quiet.
    pub fn step_round(&mut self) {
        for id in self.ids.clone() {
            if !self.down.contains(&id) {
                self.nodes.get_mut(&id).unwrap().raw.tick();
                self.drain_ready(id);
            }
        }
        self.deliver_all();
        self.check();
    }

    pub fn deliver_all(&mut self) {
        let mut guard = 0;
        while !self.in_flight.is_empty() {
            guard += 1;
            assert!(guard < 10_000, "seed {}: message storm", self.seed);
            let mut batch = std::mem::take(&mut self.in_flight);
            // Shuffle: a deterministic permutation drawn from the seed.
            for i in (1..batch.len()).rev() {
                let j = self.rng.range(0, i as u64 + 1) as usize;
                batch.swap(i, j);
            }
            for m in batch {
                if self.can_talk(m.from, m.to) {
                    let to = m.to;
                    match self.nodes.get_mut(&to).unwrap().raw.step(m) {
                        // A node removed from the configuration is no longer
                        // heard; the driver logs and drops the same way.
                        Ok(()) | Err(StepError::UnknownSender(_)) => {}
                        Err(e) => panic!("seed {}: node {to} refused a message: {e}", self.seed),
                    }
                    self.drain_ready(to);
                }
            }
        }
    }

    pub fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.step_round();
        }
    }

    /// Run until `pred` holds; panics (naming the seed) after `max_rounds`.
    pub fn run_until(&mut self, max_rounds: usize, what: &str, mut pred: impl FnMut(&Cluster) -> bool) {
        for _ in 0..max_rounds {
            if pred(self) {
                return;
            }
            self.step_round();
        }
        assert!(
            pred(self),
            "seed {}: not reached within {max_rounds} rounds: {what}",
            self.seed
        );
    }

    pub fn leaders(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(id, n)| !self.down.contains(id) && n.raw.status().role == Role::Leader)
            .map(|(&id, _)| id)
            .collect()
    }

    /// The unique live leader with the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.leaders()
            .into_iter()
            .max_by_key(|id| self.nodes[id].raw.status().term)
    }

    pub fn propose(&mut self, via: NodeId, command: &[u8]) -> bool {
        let ok = self.nodes.get_mut(&via).unwrap().raw.propose(command.to_vec()).is_ok();
        self.drain_ready(via);
        ok
    }

    /// Lose the node's memory; keep what it persisted.
    pub fn crash(&mut self, id: NodeId) {
        self.down.insert(id);
        self.in_flight.retain(|m| m.to != id && m.from != id);
    }

    pub fn restart(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        let persisted = node.store.load();
        // The state machine restarts from the snapshot, then re-applies the log.
        node.applied = match &persisted.snapshot {
            Some(s) => postcard::from_bytes(&s.data).expect("snapshot decodes"),
            None => vec![],
        };
        node.raw = RawNode::new(Config::new(id, self.ids.clone()), persisted, self.rng.next_u64())
            .expect("restore from own storage");
        self.down.remove(&id);
        self.drain_ready(id);
    }

    pub fn isolate(&mut self, id: NodeId) {
        for &other in &self.ids {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn applied_commands(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.nodes[&id].applied.clone()
    }

    /// Snapshot node `id`'s state machine at its applied index and compact.
    pub fn compact(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        let applied = node.raw.status().applied;
        let data = postcard::to_allocvec(&node.applied).unwrap();
        node.raw.compact(applied, data).expect("compact at applied");
        self.drain_ready(id);
    }

    pub fn read_index(&mut self, via: NodeId, ctx: u64) -> bool {
        let ok = self.nodes.get_mut(&via).unwrap().raw.read_index(ctx).is_ok();
        self.drain_ready(via);
        ok
    }

    pub fn transfer(&mut self, from: NodeId, to: NodeId) {
        self.nodes
            .get_mut(&from)
            .unwrap()
            .raw
            .transfer_leader(to)
            .expect("transfer starts");
        self.drain_ready(from);
    }

    /// A brand-new, empty node that expects to join with `voters`.
    pub fn add_node(&mut self, id: NodeId, voters: Vec<NodeId>) {
        let node = SimNode::fresh(id, voters, self.rng.next_u64());
        self.nodes.insert(id, node);
        self.ids.push(id);
    }

    pub fn propose_membership(&mut self, via: NodeId, voters: Vec<NodeId>) -> Result<(), MembershipError> {
        let result = self.nodes.get_mut(&via).unwrap().raw.propose_membership(voters);
        self.drain_ready(via);
        result
    }

    /// Tell `at` that `gone`'s connection closed (the relay's presence).
    pub fn peer_gone(&mut self, at: NodeId, gone: NodeId) {
        self.nodes.get_mut(&at).unwrap().raw.peer_gone(gone);
        self.drain_ready(at);
    }

    /// Drop every message in flight (a burst of loss).
    pub fn drop_in_flight(&mut self) {
        self.in_flight.clear();
    }

    /// Safety checks after every round.
    fn check(&mut self) {
        for (&id, node) in &self.nodes {
            let st = node.raw.status();
            if st.role == Role::Leader {
                let prior = *self.leaders.entry(st.term).or_insert(id);
                assert_eq!(prior, id, "seed {}: two leaders in term {}", self.seed, st.term);
            }
        }
        // State machine safety: applied sequences are prefixes of each other.
        let seqs: Vec<&Vec<Vec<u8>>> = self.nodes.values().map(|n| &n.applied).collect();
        for a in &seqs {
            for b in &seqs {
                let n = a.len().min(b.len());
                assert_eq!(a[..n], b[..n], "seed {}: nodes applied different entries", self.seed);
            }
        }
    }
}
