//! A deterministic simulator of a RaftCal cluster, in the spirit of
//! TigerBeetle's VOPR: one seed drives everything — message delay, loss,
//! duplication and reordering, partitions (symmetric, one-way, isolate the
//! leader), crashes that lose whatever was not yet durable, restarts from
//! exactly what was persisted, frozen (paused) tabs, leadership transfers,
//! slow storage writes, and client traffic. After every tick it checks
//! Raft's safety properties; after the faults stop it checks that the
//! cluster recovers, converges, and that the clients' history is
//! linearizable.
//!
//! A failure panics with the seed and the command that replays it.

#![allow(dead_code)]

pub mod linearizability;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::NaiveDateTime;
use node_wasm::calendar::{Command, Outcome, Rejection, Scope, Stamp};
use node_wasm::machine::{Machine, Proposal};
use node_wasm::raft::rng::SplitMix64;
use node_wasm::raft::{Config, Entry, Message, NodeId, Payload, Persisted, RawNode, Ready, Role, SnapshotUpdate};
use node_wasm::storage::MemStorage;

use linearizability::{Op, OpKind, OpResult};

/// The knobs of one run. Probabilities are per tick.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub nodes: u64,
    pub seed: u64,
    /// Ticks with faults, then a liveness phase without.
    pub ticks: u64,
    pub liveness_ticks: u64,
    pub max_delay: u64,
    pub p_drop: f64,
    pub p_dup: f64,
    pub p_partition: f64,
    pub p_heal: f64,
    pub p_crash: f64,
    pub p_restart: f64,
    pub p_pause: f64,
    pub p_resume: f64,
    pub p_transfer: f64,
    /// Longest a storage write takes, in ticks (0: instant).
    pub max_write_ticks: u64,
    pub clients: usize,
    pub p_request: f64,
    /// Ticks a client waits for an answer before retrying elsewhere.
    pub client_timeout: u64,
    pub keys: u32,
    /// Compact when this many entries are applied past the snapshot.
    pub snapshot_every: u64,
    pub snapshot_chunk_bytes: usize,
}

impl SimConfig {
    /// A run with every fault enabled at a rate that still lets work happen.
    pub fn faulty(seed: u64, nodes: u64, ticks: u64) -> Self {
        Self {
            nodes,
            seed,
            ticks,
            liveness_ticks: 3_000,
            max_delay: 4,
            p_drop: 0.05,
            p_dup: 0.02,
            p_partition: 0.004,
            p_heal: 0.01,
            p_crash: 0.003,
            p_restart: 0.02,
            p_pause: 0.002,
            p_resume: 0.02,
            p_transfer: 0.002,
            max_write_ticks: 2,
            clients: 4,
            p_request: 0.2,
            client_timeout: 60,
            keys: 6,
            snapshot_every: 40,
            snapshot_chunk_bytes: 200,
        }
    }

    /// No faults at all: a healthy cluster with traffic.
    pub fn calm(seed: u64, nodes: u64, ticks: u64) -> Self {
        Self {
            p_drop: 0.0,
            p_dup: 0.0,
            p_partition: 0.0,
            p_crash: 0.0,
            p_pause: 0.0,
            p_transfer: 0.0,
            max_write_ticks: 0,
            ..Self::faulty(seed, nodes, ticks)
        }
    }
}

/// A message in the simulated network.
struct Flight {
    at: u64,
    msg: Message,
}

enum NodeInput {
    Msg(Message),
    /// The relay's presence: this peer's connection closed.
    PeerGone(NodeId),
}

struct Node {
    raw: RawNode,
    store: MemStorage,
    machine: Machine,
    up: bool,
    paused: bool,
    inbox: VecDeque<NodeInput>,
    /// A storage write in progress and when it completes.
    writing: Option<(u64, Ready)>,
    /// Reads confirmed by ReadIndex, waiting for `applied >= index`.
    reads: Vec<(u64, u64)>,
    // Monotonicity within one incarnation.
    last_commit: u64,
    last_applied: u64,
    last_term: u64,
}

/// One client's op in flight.
struct Outstanding {
    op: usize,
    seq: u64,
    /// The node this client is talking to (its "tab").
    node: NodeId,
    since: u64,
    read_ctx: u64,
}

struct Client {
    id: u64,
    next_seq: u64,
    outstanding: Option<Outstanding>,
}

pub struct Sim {
    cfg: SimConfig,
    rng: SplitMix64,
    now: u64,
    nodes: BTreeMap<NodeId, Node>,
    ids: Vec<NodeId>,
    net: Vec<Flight>,
    /// Directed links that drop everything.
    cut: BTreeSet<(NodeId, NodeId)>,
    clients: Vec<Client>,
    pub history: Vec<Op>,
    stamp: u64,
    next_ctx: u64,
    // Checker state.
    leaders: BTreeMap<u64, NodeId>,
    /// Every entry anyone applied: index → (term, payload). State machine
    /// safety says nobody may apply anything else at that index.
    applied_log: BTreeMap<u64, (u64, Payload)>,
    /// For each committed index, the term of the first leader seen to commit
    /// it. Leader completeness binds leaders of later terms only.
    commit_terms: BTreeMap<u64, u64>,
    /// Snapshot bytes seen at an index (deterministic apply ⇒ identical).
    snapshots: BTreeMap<u64, Vec<u8>>,
    /// Write ops acknowledged as done: (key, kind).
    pub acked: usize,
    pub stats: Stats,
    faults: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub messages: u64,
    pub commits: u64,
    pub elections: u64,
    pub crashes: u64,
    pub snapshots_installed: u64,
    pub transfers: u64,
    pub reads: u64,
}

fn at(minutes: u32) -> NaiveDateTime {
    NaiveDateTime::parse_from_str("2026-01-01T00:00", "%Y-%m-%dT%H:%M").unwrap()
        + chrono::TimeDelta::minutes(minutes.into())
}

fn key_id(key: u32) -> String {
    format!("k{key}")
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = SplitMix64::new(cfg.seed);
        let ids: Vec<NodeId> = (1..=cfg.nodes).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let raw = RawNode::new(node_config(&cfg, id, &ids), Persisted::default(), rng.next_u64()).unwrap();
                (id, fresh_node(raw, MemStorage::default(), Machine::default()))
            })
            .collect();
        let clients = (0..cfg.clients)
            .map(|i| Client {
                id: 1000 + i as u64,
                next_seq: 1,
                outstanding: None,
            })
            .collect();
        Self {
            rng,
            now: 0,
            nodes,
            ids,
            net: Vec::new(),
            cut: BTreeSet::new(),
            clients,
            history: Vec::new(),
            stamp: 0,
            next_ctx: 1,
            leaders: BTreeMap::new(),
            applied_log: BTreeMap::new(),
            commit_terms: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            acked: 0,
            stats: Stats::default(),
            faults: true,
            cfg,
        }
    }

    fn fail(&self, what: &str) -> ! {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|(id, n)| {
                format!(
                    "  node {id}: up {} paused {} writing {} {:?}\n    progress {}",
                    n.up,
                    n.paused,
                    n.writing.is_some(),
                    n.raw.status(),
                    n.raw.debug_progress()
                )
            })
            .collect();
        panic!(
            "seed {} ({} nodes) failed at tick {}: {what}\n{}\nreplay: RAFTCAL_SIM_SEED={} RAFTCAL_SIM_NODES={} RAFTCAL_SIM_TICKS={} cargo test -p node-wasm --release --test simulation -- replay --nocapture",
            self.cfg.seed,
            self.cfg.nodes,
            self.now,
            nodes.join("\n"),
            self.cfg.seed,
            self.cfg.nodes,
            self.cfg.ticks
        )
    }

    fn next_stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// The whole run: faults, then recovery, then the final checks.
    pub fn run(&mut self) {
        for _ in 0..self.cfg.ticks {
            self.tick();
        }
        self.heal_everything();
        self.liveness();
        self.final_checks();
    }

    pub fn tick(&mut self) {
        self.now += 1;
        if self.faults {
            self.inject_faults();
        }
        self.deliver();
        for id in self.ids.clone() {
            self.run_node(id);
        }
        self.drive_clients();
        self.check_safety();
    }

    // ----- faults ---------------------------------------------------------

    fn up_ids(&self) -> Vec<NodeId> {
        self.ids.iter().copied().filter(|id| self.nodes[id].up).collect()
    }

    fn pick(&mut self, from: &[NodeId]) -> Option<NodeId> {
        (!from.is_empty()).then(|| from[self.rng.range(0, from.len() as u64) as usize])
    }

    fn current_leader(&self) -> Option<NodeId> {
        self.ids
            .iter()
            .copied()
            .filter(|id| self.nodes[id].up && self.nodes[id].raw.status().role == Role::Leader)
            .max_by_key(|id| self.nodes[id].raw.status().term)
    }

    fn inject_faults(&mut self) {
        let c = self.cfg.clone();
        if self.rng.chance(c.p_partition) {
            match self.rng.range(0, 3) {
                0 => {
                    if let Some(l) = self.current_leader() {
                        self.isolate(l);
                    }
                }
                1 => {
                    // A random two-sided split.
                    let side: BTreeSet<NodeId> = self.ids.iter().copied().filter(|_| self.rng.chance(0.5)).collect();
                    for &a in &self.ids {
                        for &b in &self.ids {
                            if side.contains(&a) != side.contains(&b) {
                                self.cut.insert((a, b));
                            }
                        }
                    }
                }
                _ => {
                    // One-way: a hears nothing from b, b still hears a.
                    let (a, b) = (self.pick(&self.ids.clone()), self.pick(&self.ids.clone()));
                    if let (Some(a), Some(b)) = (a, b) {
                        if a != b {
                            self.cut.insert((b, a));
                        }
                    }
                }
            }
        }
        if self.rng.chance(c.p_heal) {
            self.cut.clear();
        }
        if self.rng.chance(c.p_crash) {
            if let Some(id) = self.pick(&self.up_ids()) {
                self.crash(id);
            }
        }
        if self.rng.chance(c.p_restart) {
            let down: Vec<_> = self.ids.iter().copied().filter(|id| !self.nodes[id].up).collect();
            if let Some(id) = self.pick(&down) {
                self.restart(id);
            }
        }
        if self.rng.chance(c.p_pause) {
            if let Some(id) = self.pick(&self.up_ids()) {
                self.nodes.get_mut(&id).unwrap().paused = true;
            }
        }
        if self.rng.chance(c.p_resume) {
            let paused: Vec<_> = self.ids.iter().copied().filter(|id| self.nodes[id].paused).collect();
            if let Some(id) = self.pick(&paused) {
                self.nodes.get_mut(&id).unwrap().paused = false;
            }
        }
        if self.rng.chance(c.p_transfer) {
            if let Some(l) = self.current_leader() {
                let others: Vec<_> = self.ids.iter().copied().filter(|&i| i != l).collect();
                if let Some(to) = self.pick(&others) {
                    let n = self.nodes.get_mut(&l).unwrap();
                    if n.writing.is_none() && !n.paused && n.raw.transfer_leader(to).is_ok() {
                        self.stats.transfers += 1;
                    }
                }
            }
        }
    }

    pub fn isolate(&mut self, id: NodeId) {
        for &o in &self.ids {
            if o != id {
                self.cut.insert((id, o));
                self.cut.insert((o, id));
            }
        }
    }

    /// Lose everything not yet durable: memory, the write in progress, inbox.
    pub fn crash(&mut self, id: NodeId) {
        let n = self.nodes.get_mut(&id).unwrap();
        n.up = false;
        n.paused = false;
        n.writing = None;
        n.inbox.clear();
        n.reads.clear();
        self.stats.crashes += 1;
        // The relay tells the others the connection closed.
        for other in self.ids.clone() {
            if other != id && self.nodes[&other].up {
                self.nodes
                    .get_mut(&other)
                    .unwrap()
                    .inbox
                    .push_back(NodeInput::PeerGone(id));
            }
        }
    }

    /// Come back from exactly what storage holds.
    pub fn restart(&mut self, id: NodeId) {
        let seed = self.rng.next_u64();
        let cfg = node_config(&self.cfg, id, &self.ids);
        let n = self.nodes.get_mut(&id).unwrap();
        let persisted = n.store.load();
        let machine = match &persisted.snapshot {
            Some(s) => Machine::restore(&s.data).expect("own snapshot decodes"),
            None => Machine::default(),
        };
        let raw = RawNode::new(cfg, persisted, seed).unwrap_or_else(|e| panic!("restart of {id} failed: {e}"));
        let store = std::mem::take(&mut n.store);
        // Monotonicity is checked per incarnation: a term seen only in memory
        // may be lost in a crash (nothing was sent in it before it was durable).
        *n = fresh_node(raw, store, machine);
    }

    fn heal_everything(&mut self) {
        self.faults = false;
        self.cut.clear();
        for id in self.ids.clone() {
            if !self.nodes[&id].up {
                self.restart(id);
            }
            self.nodes.get_mut(&id).unwrap().paused = false;
        }
    }

    // ----- network ----------------------------------------------------------

    fn send(&mut self, msgs: Vec<Message>) {
        for msg in msgs {
            self.stats.messages += 1;
            if self.faults && self.rng.chance(self.cfg.p_drop) {
                continue;
            }
            let copies = if self.faults && self.rng.chance(self.cfg.p_dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let at = self.now + self.rng.range(1, self.cfg.max_delay + 1);
                self.net.push(Flight { at, msg: msg.clone() });
            }
        }
    }

    fn deliver(&mut self) {
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net).into_iter().partition(|f| f.at <= now);
        self.net = later;
        for f in due {
            let (from, to) = (f.msg.from, f.msg.to);
            if self.cut.contains(&(from, to)) || !self.nodes[&to].up {
                continue;
            }
            // A paused tab's socket still buffers; it handles them on waking.
            self.nodes.get_mut(&to).unwrap().inbox.push_back(NodeInput::Msg(f.msg));
        }
    }

    // ----- nodes ------------------------------------------------------------

    fn run_node(&mut self, id: NodeId) {
        {
            let n = &self.nodes[&id];
            if !n.up || n.paused {
                return;
            }
        }
        // Finish a write whose time has come.
        if self.nodes[&id]
            .writing
            .as_ref()
            .is_some_and(|(done, _)| *done <= self.now)
        {
            let (_, rd) = self.nodes.get_mut(&id).unwrap().writing.take().unwrap();
            self.complete_ready(id, rd);
        }
        if self.nodes[&id].writing.is_some() {
            return; // the driver holds input while a write is in flight
        }
        let n = self.nodes.get_mut(&id).unwrap();
        while let Some(input) = n.inbox.pop_front() {
            match input {
                NodeInput::Msg(m) => {
                    let from = m.from;
                    if let Err(e) = n.raw.step(m) {
                        panic!("node {id} refused a message from {from}: {e}");
                    }
                }
                NodeInput::PeerGone(gone) => n.raw.peer_gone(gone),
            }
        }
        n.raw.tick();
        self.start_ready(id);
    }

    /// Take the next Ready and begin "writing" it.
    fn start_ready(&mut self, id: NodeId) {
        let delay = if self.cfg.max_write_ticks == 0 || !self.faults {
            0
        } else {
            self.rng.range(0, self.cfg.max_write_ticks + 1)
        };
        let n = self.nodes.get_mut(&id).unwrap();
        if !n.raw.has_ready() {
            return;
        }
        let rd = n.raw.ready();
        if delay == 0 {
            self.complete_ready(id, rd);
        } else {
            n.writing = Some((self.now + delay, rd));
        }
    }

    /// The write is durable: persist, send, apply, advance (and maybe compact).
    fn complete_ready(&mut self, id: NodeId, rd: Ready) {
        let mut outcomes = Vec::new();
        {
            let n = self.nodes.get_mut(&id).unwrap();
            n.store.save(rd.snapshot.as_ref(), rd.hard_state.as_ref(), &rd.entries);
        }
        self.send(rd.messages.clone());
        if let Some(SnapshotUpdate::Installed { snapshot, .. }) = &rd.snapshot {
            self.stats.snapshots_installed += 1;
            if let Some(expected) = self.snapshots.get(&snapshot.meta.index) {
                if *expected != snapshot.data {
                    self.fail(&format!(
                        "node {id} installed a snapshot at {} that differs",
                        snapshot.meta.index
                    ));
                }
            }
            let n = self.nodes.get_mut(&id).unwrap();
            n.machine = Machine::restore(&snapshot.data).expect("snapshot decodes");
            n.last_applied = snapshot.meta.index;
        }
        for e in &rd.committed_entries {
            self.check_applied(id, e);
            if let Payload::Command(bytes) = &e.payload {
                let applied = self.nodes.get_mut(&id).unwrap().machine.apply(e.index, bytes);
                if let Some(client) = applied.client {
                    outcomes.push((client, applied.result));
                }
            }
        }
        let n = self.nodes.get_mut(&id).unwrap();
        for rs in &rd.read_states {
            n.reads.push((rs.ctx, rs.index));
        }
        n.raw.advance(rd);
        let st = n.raw.status();
        if st.applied >= st.snapshot_index + self.cfg.snapshot_every {
            let data = n.machine.snapshot();
            n.raw.compact(st.applied, data.clone()).expect("compact at applied");
            if let Some(prev) = self.snapshots.insert(st.applied, data.clone()) {
                if prev != data {
                    self.fail(&format!("two different snapshots at index {}", st.applied));
                }
            }
        }
        for (client, result) in outcomes {
            self.on_result(id, client, result);
        }
        self.serve_reads(id);
        // More may be ready right away (e.g. entries that just became durable).
        if self.nodes[&id].raw.has_ready() && self.nodes[&id].writing.is_none() {
            self.start_ready(id);
        }
    }

    fn check_applied(&mut self, id: NodeId, e: &Entry) {
        match self.applied_log.get(&e.index) {
            Some((term, payload)) if *term != e.term || *payload != e.payload => self.fail(&format!(
                "state machine safety: node {id} applied (index {}, term {}) but another node applied term {term} there",
                e.index, e.term
            )),
            Some(_) => {}
            None => {
                self.applied_log.insert(e.index, (e.term, e.payload.clone()));
                self.stats.commits += 1;
            }
        }
    }

    // ----- clients ----------------------------------------------------------

    fn drive_clients(&mut self) {
        for c in 0..self.clients.len() {
            match &self.clients[c].outstanding {
                None => {
                    if self.faults && self.rng.chance(self.cfg.p_request) {
                        self.invoke(c);
                    }
                }
                Some(o) if self.now - o.since >= self.cfg.client_timeout => self.retry(c),
                Some(_) => {}
            }
        }
    }

    fn invoke(&mut self, c: usize) {
        let key = self.rng.range(0, u64::from(self.cfg.keys)) as u32;
        let kind = match self.rng.range(0, 3) {
            0 => OpKind::Create,
            1 => OpKind::Delete,
            _ => OpKind::Read,
        };
        self.invoke_op(c, key, kind);
    }

    /// Start an operation from client `c` (also used by scenario tests).
    pub fn invoke_op(&mut self, c: usize, key: u32, kind: OpKind) {
        let invoke = self.next_stamp();
        self.history.push(Op {
            client: c,
            key,
            kind,
            invoke,
            ret: None,
        });
        let op = self.history.len() - 1;
        let seq = if kind == OpKind::Read {
            0
        } else {
            let s = self.clients[c].next_seq;
            self.clients[c].next_seq += 1;
            s
        };
        let node = self.pick(&self.ids.clone()).unwrap();
        self.clients[c].outstanding = Some(Outstanding {
            op,
            seq,
            node,
            since: self.now,
            read_ctx: 0,
        });
        self.submit(c);
    }

    /// Send (or re-send) client `c`'s outstanding op to its node.
    fn submit(&mut self, c: usize) {
        let Some(o) = &self.clients[c].outstanding else {
            return;
        };
        let (op, seq, node) = (o.op, o.seq, o.node);
        let n = &self.nodes[&node];
        if !n.up || n.paused || n.writing.is_some() {
            return; // the client will time out and try another node
        }
        let key = self.history[op].key;
        let command = match self.history[op].kind {
            OpKind::Create => {
                Command::create_timed(&key_id(key), &format!("event {key}"), at(key * 60), at(key * 60 + 30))
            }
            OpKind::Delete => Command::DeleteEvent {
                id: key_id(key),
                version: 1,
                scope: Scope::All,
                stamp: Stamp {
                    author: String::new(),
                    at_ms: 0,
                },
            },
            OpKind::Read => {
                let ctx = self.next_ctx;
                self.next_ctx += 1;
                if let Some(o) = self.clients[c].outstanding.as_mut() {
                    o.read_ctx = ctx;
                }
                let _ = self.nodes.get_mut(&node).unwrap().raw.read_index(ctx);
                self.start_ready(node);
                return;
            }
        };
        let bytes = Proposal {
            client: self.clients[c].id,
            seq,
            command,
        }
        .encode();
        let _ = self.nodes.get_mut(&node).unwrap().raw.propose(bytes);
        self.start_ready(node);
    }

    /// No answer in time: try another node with the same sequence number.
    fn retry(&mut self, c: usize) {
        let node = self.pick(&self.ids.clone()).unwrap();
        if let Some(o) = self.clients[c].outstanding.as_mut() {
            o.node = node;
            o.since = self.now;
        }
        self.submit(c);
    }

    fn on_result(&mut self, node: NodeId, (client_id, seq): (u64, u64), result: Result<Outcome, Rejection>) {
        let Some(c) = self.clients.iter().position(|cl| cl.id == client_id) else {
            return;
        };
        let matches = self.clients[c]
            .outstanding
            .as_ref()
            .is_some_and(|o| o.seq == seq && o.node == node && self.history[o.op].kind != OpKind::Read);
        if !matches {
            return;
        }
        let o = self.clients[c].outstanding.take().unwrap();
        let answer = match result {
            Ok(_) => {
                self.acked += 1;
                OpResult::Done
            }
            Err(Rejection::DuplicateId(_)) | Err(Rejection::UnknownEvent(_)) => OpResult::Refused,
            Err(other) => self.fail(&format!(
                "unexpected rejection {other:?} for client {client_id} seq {seq}"
            )),
        };
        let stamp = self.next_stamp();
        self.history[o.op].ret = Some((stamp, answer));
    }

    fn serve_reads(&mut self, node: NodeId) {
        let applied = self.nodes[&node].raw.status().applied;
        let ready: Vec<(u64, u64)> = self.nodes[&node]
            .reads
            .iter()
            .copied()
            .filter(|&(_, i)| i <= applied)
            .collect();
        if ready.is_empty() {
            return;
        }
        self.nodes.get_mut(&node).unwrap().reads.retain(|&(_, i)| i > applied);
        for (ctx, _) in ready {
            let Some(c) = self.clients.iter().position(|cl| {
                cl.outstanding
                    .as_ref()
                    .is_some_and(|o| o.read_ctx == ctx && o.node == node)
            }) else {
                continue;
            };
            let o = self.clients[c].outstanding.take().unwrap();
            let key = self.history[o.op].key;
            let present = self.nodes[&node].machine.store().get(&key_id(key)).is_some();
            let stamp = self.next_stamp();
            self.history[o.op].ret = Some((stamp, OpResult::Saw(present)));
            self.stats.reads += 1;
        }
    }

    // ----- checks -------------------------------------------------------------

    fn check_safety(&mut self) {
        // Record in which term each index was first committed (by a leader).
        for id in self.ids.clone() {
            let st = self.nodes[&id].raw.status();
            if self.nodes[&id].up && st.role == Role::Leader {
                let from = self.commit_terms.last_key_value().map_or(1, |(&i, _)| i + 1);
                for i in from..=st.commit {
                    self.commit_terms.insert(i, st.term);
                }
            }
        }
        for id in self.ids.clone() {
            let n = &self.nodes[&id];
            if !n.up {
                continue;
            }
            let st = n.raw.status();
            if st.term < n.last_term {
                self.fail(&format!(
                    "node {id}'s term went back from {} to {}",
                    n.last_term, st.term
                ));
            }
            if st.commit < n.last_commit {
                self.fail(&format!(
                    "node {id}'s commit went back from {} to {}",
                    n.last_commit, st.commit
                ));
            }
            if st.applied < n.last_applied {
                self.fail(&format!(
                    "node {id}'s applied went back from {} to {}",
                    n.last_applied, st.applied
                ));
            }
            if st.role == Role::Leader {
                match self.leaders.get(&st.term) {
                    Some(&other) if other != id => self.fail(&format!(
                        "election safety: nodes {other} and {id} both lead term {}",
                        st.term
                    )),
                    Some(_) => {}
                    None => {
                        self.leaders.insert(st.term, id);
                        self.stats.elections += 1;
                        self.check_leader_completeness(id);
                    }
                }
            }
            let n = self.nodes.get_mut(&id).unwrap();
            n.last_term = st.term;
            n.last_commit = st.commit;
            n.last_applied = st.applied;
        }
        if self.now % 16 == 0 {
            self.check_log_matching();
        }
    }

    /// Raft §5.4: a leader of term T holds every entry committed in a term
    /// before T. (A leader of a stale term — elected late on delayed votes —
    /// need not hold what a later term committed; it is deposed on contact.)
    fn check_leader_completeness(&self, id: NodeId) {
        let node = &self.nodes[&id].raw;
        let term = node.status().term;
        let log = node.log();
        for (&index, (entry_term, _)) in self.applied_log.range(log.first_index()..) {
            if self.commit_terms.get(&index).is_none_or(|&t| t >= term) {
                continue;
            }
            let term = entry_term;
            if log.term(index) != Some(*term) {
                self.fail(&format!(
                    "leader completeness: new leader {id} lacks committed entry {index} (term {term})"
                ));
            }
        }
    }

    /// Raft §5.3: two logs with an entry of the same index and term are
    /// identical up to it.
    fn check_log_matching(&self) {
        let up = self.up_ids();
        for (i, &a) in up.iter().enumerate() {
            for &b in &up[i + 1..] {
                let (la, lb) = (self.nodes[&a].raw.log(), self.nodes[&b].raw.log());
                let lo = la.first_index().max(lb.first_index());
                let hi = la.last_index().min(lb.last_index());
                let Some(top) = (lo..=hi).rev().find(|&k| la.term(k) == lb.term(k)) else {
                    continue;
                };
                for k in lo..=top {
                    let ea = &la.entries()[(k - la.first_index()) as usize];
                    let eb = &lb.entries()[(k - lb.first_index()) as usize];
                    if ea != eb {
                        self.fail(&format!(
                            "log matching: nodes {a} and {b} agree at {top} but differ at {k}"
                        ));
                    }
                }
            }
        }
    }

    /// After the faults: a leader emerges, a new write commits everywhere.
    fn liveness(&mut self) {
        let deadline = self.now + self.cfg.liveness_ticks;
        while self.now < deadline && self.current_leader().is_none() {
            self.tick();
        }
        if self.current_leader().is_none() {
            self.fail("no leader after the faults healed");
        }
        // Let every client finish (or give up on) what it was doing.
        while self.now < deadline && self.clients.iter().any(|c| c.outstanding.is_some()) {
            self.tick();
        }
        if let Some(c) = self.clients.iter().position(|c| c.outstanding.is_some()) {
            let o = self.clients[c].outstanding.as_ref().unwrap();
            self.fail(&format!(
                "client {c} still waits on op {:?} after the faults healed",
                self.history[o.op]
            ));
        }
        // Converge: every node applies everything the leader committed.
        while self.now < deadline {
            let Some(l) = self.current_leader() else {
                self.tick();
                continue;
            };
            let commit = self.nodes[&l].raw.status().commit;
            if self
                .ids
                .iter()
                .all(|id| self.nodes[id].raw.status().applied >= commit && self.nodes[id].writing.is_none())
            {
                break;
            }
            self.tick();
        }
        let l = self
            .current_leader()
            .unwrap_or_else(|| self.fail("leader lost during convergence"));
        let commit = self.nodes[&l].raw.status().commit;
        for &id in &self.ids {
            let applied = self.nodes[&id].raw.status().applied;
            if applied < commit {
                self.fail(&format!(
                    "node {id} applied only {applied} of {commit} after the faults healed"
                ));
            }
        }
    }

    fn final_checks(&mut self) {
        // Identical state everywhere (deterministic apply).
        let reference = self.nodes[&1].machine.snapshot();
        for &id in &self.ids {
            if self.nodes[&id].machine.snapshot() != reference {
                self.fail(&format!("node {id}'s final state differs from node 1's"));
            }
        }
        // The final state is a read that follows everything.
        for key in 0..self.cfg.keys {
            let present = self.nodes[&1].machine.store().get(&key_id(key)).is_some();
            let (invoke, ret) = (self.next_stamp(), self.next_stamp());
            self.history.push(Op {
                client: usize::MAX,
                key,
                kind: OpKind::Read,
                invoke,
                ret: Some((ret, OpResult::Saw(present))),
            });
        }
        if let Err(e) = linearizability::check(&self.history) {
            self.fail(&e);
        }
    }

    pub fn node(&self, id: NodeId) -> &RawNode {
        &self.nodes[&id].raw
    }
}

fn node_config(cfg: &SimConfig, id: NodeId, ids: &[NodeId]) -> Config {
    Config {
        snapshot_chunk_bytes: cfg.snapshot_chunk_bytes,
        max_inflight: 8,
        max_batch_bytes: 4 * 1024,
        ..Config::new(id, ids.to_vec())
    }
}

fn fresh_node(raw: RawNode, store: MemStorage, machine: Machine) -> Node {
    let st = raw.status();
    Node {
        raw,
        store,
        machine,
        up: true,
        paused: false,
        inbox: VecDeque::new(),
        writing: None,
        reads: Vec::new(),
        last_commit: st.commit,
        last_applied: st.applied,
        last_term: st.term,
    }
}
