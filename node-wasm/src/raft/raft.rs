//! The Raft protocol state machine: roles, terms, votes, replication,
//! snapshots, linearizable reads and leadership transfer.
//!
//! Pure and synchronous. Every input is a method call (`tick`, `step`,
//! `propose`, `read_index`, `transfer_leader`, `compact`); every output is
//! data — messages in `msgs`, read states, and log/snapshot changes — which
//! [`super::RawNode`] hands out as a `Ready`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::errors::{CompactError, ConfigError, MembershipError, ProposeError, RestoreError, StepError, TransferError};
use super::log::RaftLog;
use super::message::{
    AppendResult, Body, Entry, HardState, Index, Message, NodeId, Payload, Persisted, Snapshot, SnapshotMeta, Term,
};
use super::progress::{Limits, Progress, ProgressState};
use super::rng::SplitMix64;

/// How a node behaves. Time is counted in ticks; the driver decides how long
/// a tick is (the browser driver: 50 ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub id: NodeId,
    /// Every voting member, including `id`. A snapshot's voter list wins over
    /// this one when a node restarts from it.
    pub voters: Vec<NodeId>,
    /// Election timeouts are drawn from `election_ticks_min..election_ticks_max`
    /// once per reset. The product default is wide (400 ms–2 s) so that tabs
    /// rarely time out together even on a jittery relay.
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    pub heartbeat_ticks: u32,
    /// Ask "would you vote for me?" before disrupting anyone with a new term.
    pub pre_vote: bool,
    /// A leader that has not heard from a majority for `election_ticks_min`
    /// steps down, and a follower that hears from its leader ignores votes.
    pub check_quorum: bool,
    /// Upper bound on the entries' bytes in one append message.
    pub max_batch_bytes: usize,
    /// Unacknowledged appends per follower in `Replicate` state...
    pub max_inflight: usize,
    /// ...and unacknowledged entry bytes.
    pub max_inflight_bytes: usize,
    /// Snapshot bytes per `InstallSnapshot` message (keep it well under the
    /// relay's frame limit).
    pub snapshot_chunk_bytes: usize,
}

impl Config {
    /// The product defaults for a 50 ms tick: heartbeat every 150 ms, election
    /// timeouts between 400 ms and 2 s.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Self {
        Self {
            id,
            voters,
            election_ticks_min: 8,
            election_ticks_max: 40,
            heartbeat_ticks: 3,
            pre_vote: true,
            check_quorum: true,
            max_batch_bytes: 64 * 1024,
            max_inflight: 64,
            max_inflight_bytes: 1024 * 1024,
            snapshot_chunk_bytes: 32 * 1024,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 || self.voters.contains(&0) {
            return Err(ConfigError::ZeroId);
        }
        if !self.voters.contains(&self.id) {
            return Err(ConfigError::NotAVoter(self.id));
        }
        if self.election_ticks_min >= self.election_ticks_max || self.election_ticks_min <= self.heartbeat_ticks {
            return Err(ConfigError::BadTimeouts {
                min: self.election_ticks_min,
                max: self.election_ticks_max,
                heartbeat: self.heartbeat_ticks,
            });
        }
        if self.max_inflight == 0
            || self.max_batch_bytes == 0
            || self.max_inflight_bytes == 0
            || self.snapshot_chunk_bytes == 0
        {
            return Err(ConfigError::BadFlowControl);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// A linearizable read point: a read tagged `ctx` may be served from the
/// state machine once it has applied `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState {
    pub ctx: u64,
    pub index: Index,
}

/// What the next `Ready` must do about snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SnapshotChange {
    /// We took one (compaction): persist it, drop the stored prefix.
    Compacted,
    /// The leader sent one: persist it and restore the state machine from it;
    /// with `discard_log`, stored entries after it go too.
    Installed { discard_log: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Campaign {
    Pre,
    Real { transfer: bool },
}

enum Tally {
    Won,
    Lost,
    Pending,
}

/// A ReadIndex request waiting for a quorum to confirm our leadership.
struct PendingRead {
    seq: u64,
    ctx: u64,
    /// Who asked: this node, or a follower that forwarded it.
    from: NodeId,
    index: Index,
    acks: BTreeSet<NodeId>,
}

/// Largest snapshot a follower accepts in chunks; protects a tab's memory
/// from a confused or hostile peer.
const MAX_SNAPSHOT_BYTES: usize = 256 * 1024 * 1024;

pub struct Raft {
    /// `cfg.voters` is always the current configuration: the latest config
    /// entry in the log, else the snapshot's, else the initial one.
    cfg: Config,
    /// Sorted, deduplicated, without `cfg.id`.
    peers: Vec<NodeId>,
    /// The configuration at the snapshot boundary (or the initial one).
    base_voters: Vec<NodeId>,
    /// Config entries in the in-memory log, by ascending index.
    config_log: Vec<(Index, Vec<NodeId>)>,
    pub(super) term: Term,
    pub(super) vote: Option<NodeId>,
    pub(super) leader: Option<NodeId>,
    pub(super) role: Role,
    pub(super) log: RaftLog,
    election_elapsed: u32,
    heartbeat_elapsed: u32,
    /// Drawn from the configured range at every reset, never per tick.
    randomized_timeout: u32,
    votes: BTreeMap<NodeId, bool>,
    /// The leader's view of each peer (empty unless leader).
    progress: BTreeMap<NodeId, Progress>,
    pub(super) msgs: Vec<Message>,
    rng: SplitMix64,
    /// The latest snapshot (ours or installed), kept to send to followers.
    pub(super) snapshot: Option<Snapshot>,
    pub(super) snapshot_change: Option<SnapshotChange>,
    /// Chunks of a snapshot being received from the leader.
    incoming_snapshot: Option<(SnapshotMeta, Vec<u8>)>,
    /// Leadership is being handed to this node.
    transferee: Option<NodeId>,
    transfer_elapsed: u32,
    pending_reads: VecDeque<PendingRead>,
    /// Reads asked before this leader committed an entry of its term: the
    /// commit index is not known to be current until then (thesis §6.4).
    reads_awaiting_commit: Vec<(u64, NodeId)>,
    read_seq: u64,
    pub(super) read_states: Vec<ReadState>,
}

impl Raft {
    pub fn new(mut cfg: Config, persisted: Persisted, seed: u64) -> Result<Self, RestoreError> {
        let Persisted {
            hard_state,
            snapshot,
            entries,
        } = persisted;
        let (offset, offset_term) = snapshot.as_ref().map_or((0, 0), |s| (s.meta.index, s.meta.term));
        if let Some(first) = entries.first() {
            if first.index != offset + 1 {
                return Err(RestoreError::NotAfterSnapshot {
                    first: first.index,
                    snapshot: offset,
                });
            }
        }
        let mut expected = offset + 1;
        for e in &entries {
            if e.index != expected {
                return Err(RestoreError::Gap(expected));
            }
            if e.term > hard_state.term {
                return Err(RestoreError::TermBeyondHardState {
                    index: e.index,
                    entry_term: e.term,
                    term: hard_state.term,
                });
            }
            expected += 1;
        }
        let last = expected - 1;
        if hard_state.commit > last {
            return Err(RestoreError::CommitBeyondLog {
                commit: hard_state.commit,
                last,
            });
        }
        if let Some(s) = &snapshot {
            cfg.voters = s.meta.voters.clone();
        }
        let mut raft = Self {
            peers: Vec::new(),
            base_voters: cfg.voters.clone(),
            config_log: Vec::new(),
            term: hard_state.term,
            vote: hard_state.vote,
            leader: None,
            role: Role::Follower,
            log: RaftLog::restored(offset, offset_term, entries, hard_state.commit),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            msgs: Vec::new(),
            rng: SplitMix64::new(seed),
            snapshot,
            snapshot_change: None,
            incoming_snapshot: None,
            transferee: None,
            transfer_elapsed: 0,
            pending_reads: VecDeque::new(),
            reads_awaiting_commit: Vec::new(),
            read_seq: 0,
            read_states: Vec::new(),
            cfg,
        };
        raft.rescan_config();
        raft.reset_timers();
        Ok(raft)
    }

    // ----- membership -------------------------------------------------------

    /// Rebuild `config_log` from the in-memory log and adopt the latest.
    fn rescan_config(&mut self) {
        self.config_log = self
            .log
            .entries()
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Config { voters } => Some((e.index, voters.clone())),
                _ => None,
            })
            .collect();
        self.adopt_config();
    }

    /// Make the latest known configuration the current one.
    fn adopt_config(&mut self) {
        let mut voters = self.config_log.last().map_or(&self.base_voters, |(_, v)| v).clone();
        voters.sort_unstable();
        voters.dedup();
        let mut peers: Vec<NodeId> = voters.iter().copied().filter(|&v| v != self.cfg.id).collect();
        peers.sort_unstable();
        peers.dedup();
        self.cfg.voters = voters;
        self.peers = peers;
        if self.role == Role::Leader {
            let next = self.log.last_index() + 1;
            self.progress.retain(|id, _| self.peers.binary_search(id).is_ok());
            for &p in &self.peers {
                self.progress.entry(p).or_insert_with(|| Progress::new(next));
            }
        }
    }

    /// The voter set in force at `index` (for a snapshot taken there).
    fn voters_at(&self, index: Index) -> Vec<NodeId> {
        self.config_log
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .map_or(&self.base_voters, |(_, v)| v)
            .clone()
    }

    fn is_voter(&self) -> bool {
        self.cfg.voters.contains(&self.cfg.id)
    }

    /// Add or remove one voter (thesis §4.1). Only one change may be in
    /// flight, and only after this leader committed an entry of its term
    /// (the fix to the single-server-change bug, thesis §4.1 errata).
    pub fn propose_membership(&mut self, mut voters: Vec<NodeId>) -> Result<(), MembershipError> {
        if self.role != Role::Leader || self.transferee.is_some() {
            return Err(MembershipError::NotLeader);
        }
        voters.sort_unstable();
        voters.dedup();
        if voters.is_empty() || voters.contains(&0) {
            return Err(MembershipError::BadVoters);
        }
        let pending = self.config_log.last().is_some_and(|(i, _)| *i > self.log.committed());
        if pending || self.log.term(self.log.committed()) != Some(self.term) {
            return Err(MembershipError::ChangeInProgress);
        }
        let current: BTreeSet<NodeId> = self.cfg.voters.iter().copied().collect();
        let wanted: BTreeSet<NodeId> = voters.iter().copied().collect();
        if current.symmetric_difference(&wanted).count() > 1 {
            return Err(MembershipError::TooManyChanges);
        }
        self.append_local(vec![Payload::Config { voters }]);
        Ok(())
    }

    pub(super) fn debug_progress(&self) -> String {
        format!("{:?}", self.progress)
    }

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    pub fn voters(&self) -> &[NodeId] {
        &self.cfg.voters
    }

    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed(),
        }
    }

    /// Votes (or replicas) that make a majority of the voters.
    fn quorum(&self) -> usize {
        self.cfg.voters.len() / 2 + 1
    }

    fn is_member(&self, id: NodeId) -> bool {
        id == self.cfg.id || self.peers.binary_search(&id).is_ok()
    }

    fn limits(&self) -> Limits {
        Limits {
            max_inflight: self.cfg.max_inflight,
            max_inflight_bytes: self.cfg.max_inflight_bytes,
        }
    }

    // ----- time -----------------------------------------------------------

    pub fn tick(&mut self) {
        if self.role == Role::Leader {
            self.tick_leader();
        } else {
            self.election_elapsed += 1;
            if self.election_elapsed >= self.randomized_timeout {
                self.election_elapsed = 0;
                // A node removed from the configuration never campaigns.
                if self.is_voter() {
                    self.start_election();
                }
            }
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.transferee.is_some() {
            self.transfer_elapsed += 1;
            if self.transfer_elapsed >= self.cfg.election_ticks_min {
                // The transferee did not take over in time: keep leading.
                self.transferee = None;
            }
        }
        if self.election_elapsed >= self.cfg.election_ticks_min {
            self.election_elapsed = 0;
            if self.cfg.check_quorum {
                // Raft thesis §6.2: a leader cut off from a majority steps
                // down, so its clients stop waiting on it.
                let active = usize::from(self.is_voter()) + self.progress.values().filter(|p| p.recent_active).count();
                if active < self.quorum() {
                    self.become_follower(self.term, None);
                    return;
                }
            }
            for pr in self.progress.values_mut() {
                pr.recent_active = false;
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
    }

    fn reset_timers(&mut self) {
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.randomized_timeout = self.rng.range(
            u64::from(self.cfg.election_ticks_min),
            u64::from(self.cfg.election_ticks_max),
        ) as u32;
    }

    // ----- role changes ---------------------------------------------------

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.clear_leader_state();
        self.reset_timers();
    }

    fn clear_leader_state(&mut self) {
        self.votes.clear();
        self.progress.clear();
        self.transferee = None;
        // Reads in flight are dropped; their clients time out and retry.
        self.pending_reads.clear();
        self.reads_awaiting_commit.clear();
    }

    fn start_election(&mut self) {
        if self.cfg.pre_vote {
            self.campaign(Campaign::Pre);
        } else {
            self.campaign(Campaign::Real { transfer: false });
        }
    }

    fn campaign(&mut self, kind: Campaign) {
        let (term, pre_vote, transfer) = match kind {
            Campaign::Pre => {
                // Forget the leader we can no longer hear, so that we also
                // answer other pre-candidates (avoids the pre-vote +
                // check-quorum deadlock, etcd issue #8243).
                self.role = Role::PreCandidate;
                self.leader = None;
                (self.term + 1, true, false)
            }
            Campaign::Real { transfer } => {
                self.role = Role::Candidate;
                self.term += 1;
                self.vote = Some(self.cfg.id);
                self.leader = None;
                (self.term, false, transfer)
            }
        };
        self.clear_leader_state();
        self.reset_timers();
        if let Tally::Won = self.record_vote(self.cfg.id, true) {
            return self.won_campaign(kind);
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for to in self.peers.clone() {
            self.send(
                to,
                term,
                Body::RequestVote {
                    pre_vote,
                    last_index,
                    last_term,
                    transfer,
                },
            );
        }
    }

    fn won_campaign(&mut self, kind: Campaign) {
        match kind {
            Campaign::Pre => self.campaign(Campaign::Real { transfer: false }),
            Campaign::Real { .. } => self.become_leader(),
        }
    }

    fn record_vote(&mut self, from: NodeId, granted: bool) -> Tally {
        self.votes.entry(from).or_insert(granted);
        let yes = self.votes.values().filter(|&&g| g).count();
        let no = self.votes.len() - yes;
        if yes >= self.quorum() {
            Tally::Won
        } else if no > self.cfg.voters.len() - self.quorum() {
            Tally::Lost
        } else {
            Tally::Pending
        }
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.votes.clear();
        self.reset_timers();
        let next = self.log.last_index() + 1;
        self.progress = self.peers.iter().map(|&p| (p, Progress::new(next))).collect();
        // A leader may only count replicas of its own term's entries (§5.4.2);
        // this empty entry lets everything before it commit promptly.
        self.append_local(vec![Payload::Noop]);
    }

    // ----- proposals, reads, transfer, compaction ---------------------------

    /// Ask the cluster to agree on `command`. A follower forwards it to the
    /// leader it knows; nobody can accept it while no leader is known.
    /// `Ok` means "on its way", not "committed": the command is committed when
    /// it comes back in `Ready::committed_entries`.
    pub fn propose(&mut self, command: Vec<u8>) -> Result<(), ProposeError> {
        match (self.role, self.leader) {
            (Role::Leader, _) if self.transferee.is_some() => Err(ProposeError::TransferInProgress),
            (Role::Leader, _) => {
                self.append_local(vec![Payload::Command(command)]);
                Ok(())
            }
            (_, Some(leader)) => {
                self.send(
                    leader,
                    self.term,
                    Body::Propose {
                        commands: vec![command],
                    },
                );
                Ok(())
            }
            (_, None) => Err(ProposeError::NoLeader),
        }
    }

    /// Ask for a linearizable read point (Raft thesis §6.4). The answer comes
    /// as a `ReadState` with this `ctx` in a later `Ready` — or never, if
    /// leadership changes meanwhile (the caller times out and retries).
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                self.leader_read(ctx, self.cfg.id);
                Ok(())
            }
            (_, Some(leader)) => {
                self.send(leader, self.term, Body::ReadIndex { ctx });
                Ok(())
            }
            (_, None) => Err(ProposeError::NoLeader),
        }
    }

    fn leader_read(&mut self, ctx: u64, from: NodeId) {
        if self.log.term(self.log.committed()) != Some(self.term) {
            self.reads_awaiting_commit.push((ctx, from));
            return;
        }
        let index = self.log.committed();
        if self.peers.is_empty() {
            return self.answer_read(ctx, from, index);
        }
        self.read_seq += 1;
        self.pending_reads.push_back(PendingRead {
            seq: self.read_seq,
            ctx,
            from,
            index,
            acks: BTreeSet::from([self.cfg.id]),
        });
        self.broadcast_heartbeat();
    }

    fn answer_read(&mut self, ctx: u64, from: NodeId, index: Index) {
        if from == self.cfg.id {
            self.read_states.push(ReadState { ctx, index });
        } else {
            self.send(from, self.term, Body::ReadIndexResponse { ctx, index });
        }
    }

    /// `peer` confirmed our leadership for every read up to `seq`.
    fn ack_reads(&mut self, peer: NodeId, seq: u64) {
        for r in self.pending_reads.iter_mut().filter(|r| r.seq <= seq) {
            r.acks.insert(peer);
        }
        while self
            .pending_reads
            .front()
            .is_some_and(|r| r.acks.len() >= self.quorum())
        {
            if let Some(r) = self.pending_reads.pop_front() {
                self.answer_read(r.ctx, r.from, r.index);
            }
        }
    }

    /// The transport says `id` is gone (its tab closed). If it was our
    /// leader, forget it — so we answer other nodes' pre-votes — and campaign
    /// within a few ticks instead of a whole election timeout. Safety does
    /// not depend on this hint; only how fast a new leader comes does.
    pub fn peer_gone(&mut self, id: NodeId) {
        if self.role == Role::Follower && self.leader == Some(id) {
            self.leader = None;
            // Stagger by rank among the remaining voters (every follower got
            // the same news at once), plus jitter: the first usually wins
            // without a split vote; the next tries a few ticks later.
            let rank = self.cfg.voters.iter().filter(|&&v| v != id && v < self.cfg.id).count() as u32;
            let soon = 1 + 3 * rank + self.rng.range(0, 2) as u32;
            self.election_elapsed = self.randomized_timeout.saturating_sub(soon);
        }
    }

    /// The voter that is most up to date, other than us (for a handover).
    pub fn best_transferee(&self) -> Option<NodeId> {
        self.progress.iter().max_by_key(|(_, p)| p.matched).map(|(&id, _)| id)
    }

    /// Hand leadership to `to` (thesis §3.10): bring it up to date, then tell
    /// it to campaign at once. Proposals are refused meanwhile.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader);
        }
        if to == self.cfg.id || !self.is_member(to) {
            return Err(TransferError::BadTarget(to));
        }
        self.transferee = Some(to);
        self.transfer_elapsed = 0;
        if self
            .progress
            .get(&to)
            .is_some_and(|p| p.matched == self.log.last_index())
        {
            self.send(to, self.term, Body::TimeoutNow);
        } else {
            self.send_append(to, true);
        }
        Ok(())
    }

    /// The application took a snapshot of its state at `index` (applied):
    /// drop the log up to there and keep `data` to send lagging followers.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) -> Result<(), CompactError> {
        if index > self.log.applied() {
            return Err(CompactError::NotApplied {
                index,
                applied: self.log.applied(),
            });
        }
        if index <= self.log.offset() {
            return Err(CompactError::AlreadyCompacted {
                index,
                snapshot: self.log.offset(),
            });
        }
        let term = self.log.term(index).expect("applied entries are in the log");
        let voters = self.voters_at(index);
        self.log.compact_to(index);
        self.base_voters = voters.clone();
        self.config_log.retain(|(i, _)| *i > index);
        self.snapshot = Some(Snapshot {
            meta: SnapshotMeta { index, term, voters },
            data,
        });
        if !matches!(self.snapshot_change, Some(SnapshotChange::Installed { .. })) {
            self.snapshot_change = Some(SnapshotChange::Compacted);
        }
        Ok(())
    }

    fn append_local(&mut self, payloads: Vec<Payload>) {
        let mut index = self.log.last_index();
        let entries: Vec<Entry> = payloads
            .into_iter()
            .map(|payload| {
                index += 1;
                Entry {
                    term: self.term,
                    index,
                    payload,
                }
            })
            .collect();
        let configs: Vec<(Index, Vec<NodeId>)> = entries
            .iter()
            .filter_map(|e: &Entry| match &e.payload {
                Payload::Config { voters } => Some((e.index, voters.clone())),
                _ => None,
            })
            .collect();
        self.log.append(entries);
        if !configs.is_empty() {
            self.config_log.extend(configs);
            self.adopt_config();
        }
        // Our own copy counts towards commit only once it is durable, which
        // `on_persisted` reports; a one-node cluster commits there.
        self.broadcast_append(false);
    }

    // ----- messages in ----------------------------------------------------

    pub fn step(&mut self, m: Message) -> Result<(), StepError> {
        if m.to != self.cfg.id {
            return Err(StepError::WrongRecipient {
                to: m.to,
                this: self.cfg.id,
            });
        }
        if m.from == self.cfg.id {
            return Err(StepError::FromSelf(m.from));
        }
        if !self.is_member(m.from) {
            return Err(StepError::UnknownSender(m.from));
        }

        match m.body {
            // Proposals and read requests are not term-bound: whoever leads
            // now takes them, anyone else passes them on.
            Body::Propose { commands } => {
                self.handle_forwarded(m.from, commands);
                return Ok(());
            }
            Body::ReadIndex { ctx } => {
                match (self.role, self.leader) {
                    (Role::Leader, _) => self.leader_read(ctx, m.from),
                    (_, Some(leader)) if leader != m.from => self.send(leader, self.term, Body::ReadIndex { ctx }),
                    _ => {}
                }
                return Ok(());
            }
            _ => {}
        }

        if m.term > self.term {
            match m.body {
                Body::RequestVote { pre_vote, transfer, .. } => {
                    // Leader stickiness (thesis §4.2.3): while we hear from a
                    // leader, a node that could not (a returning partitioned
                    // tab) cannot depose it — unless the leader itself asked.
                    let in_lease = self.cfg.check_quorum
                        && !transfer
                        && self.leader.is_some()
                        && self.election_elapsed < self.cfg.election_ticks_min;
                    if in_lease {
                        return Ok(());
                    }
                    if !pre_vote {
                        self.become_follower(m.term, None);
                    }
                }
                // A granted pre-vote carries the term we would campaign in.
                Body::VoteResponse {
                    pre_vote: true,
                    granted: true,
                    ..
                } => {}
                Body::Append { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. } => {
                    self.become_follower(m.term, Some(m.from))
                }
                _ => self.become_follower(m.term, None),
            }
        } else if m.term < self.term {
            match m.body {
                // A stale leader (back from a partition) would otherwise keep
                // thinking it leads; our higher term makes it step down.
                Body::Append { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. } => {
                    self.send(m.from, self.term, Body::HeartbeatResponse { read_seq: 0 });
                }
                Body::RequestVote { pre_vote: true, .. } => {
                    self.send(
                        m.from,
                        self.term,
                        Body::VoteResponse {
                            pre_vote: true,
                            granted: false,
                            leader_hint: self.leader,
                        },
                    );
                }
                _ => {}
            }
            return Ok(());
        }

        match m.body {
            Body::RequestVote {
                pre_vote,
                last_index,
                last_term,
                ..
            } => self.handle_vote_request(m.from, m.term, pre_vote, last_index, last_term),
            Body::VoteResponse {
                pre_vote,
                granted,
                leader_hint,
            } => self.handle_vote_response(m.from, pre_vote, granted, leader_hint),
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                self.follow(m.from);
                self.handle_append(m.from, prev_index, prev_term, entries, commit);
            }
            Body::Heartbeat { commit, read_seq } => {
                self.follow(m.from);
                // The leader never sends more than what we matched.
                self.log.commit_to(commit.min(self.log.last_index()));
                self.send(m.from, self.term, Body::HeartbeatResponse { read_seq });
            }
            Body::AppendResponse(result) => self.handle_append_response(m.from, result),
            Body::HeartbeatResponse { read_seq } => {
                if self.role != Role::Leader {
                    return Ok(());
                }
                let limits = self.limits();
                if let Some(pr) = self.progress.get_mut(&m.from) {
                    pr.recent_active = true;
                    pr.resume(limits);
                    let behind =
                        pr.matched < self.log.last_index() || matches!(pr.state, ProgressState::Snapshot { .. });
                    if behind {
                        // Even an empty append: if the entries we think are
                        // in flight were lost, its rejection resets the
                        // follower to probing (as etcd's sendAppend does).
                        self.send_append(m.from, true);
                    }
                }
                self.ack_reads(m.from, read_seq);
            }
            Body::InstallSnapshot {
                meta,
                offset,
                data,
                done,
            } => {
                self.follow(m.from);
                self.handle_snapshot_chunk(m.from, meta, offset, data, done);
            }
            Body::SnapshotResponse {
                index,
                next_offset,
                done,
            } => self.handle_snapshot_response(m.from, index, next_offset, done),
            Body::ReadIndexResponse { ctx, index } => {
                if self.leader == Some(m.from) {
                    self.read_states.push(ReadState { ctx, index });
                }
            }
            Body::TimeoutNow => {
                if self.leader == Some(m.from) && self.role == Role::Follower {
                    self.campaign(Campaign::Real { transfer: true });
                }
            }
            Body::Propose { .. } | Body::ReadIndex { .. } => unreachable!("handled above"),
        }
        Ok(())
    }

    fn handle_forwarded(&mut self, from: NodeId, commands: Vec<Vec<u8>>) {
        match (self.role, self.leader) {
            (Role::Leader, _) if self.transferee.is_some() => {}
            (Role::Leader, _) => self.append_local(commands.into_iter().map(Payload::Command).collect()),
            (_, Some(leader)) if leader != from => self.send(leader, self.term, Body::Propose { commands }),
            // No leader to pass it to: the proposer's client retries.
            _ => {}
        }
    }

    /// A message from the current term's leader arrived.
    fn follow(&mut self, leader: NodeId) {
        if self.role != Role::Follower {
            self.become_follower(self.term, Some(leader));
        }
        self.leader = Some(leader);
        self.election_elapsed = 0;
    }

    fn handle_vote_request(&mut self, from: NodeId, term: Term, pre_vote: bool, last_index: Index, last_term: Term) {
        let can_vote =
            self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none()) || (pre_vote && term > self.term);
        if can_vote && self.log.is_up_to_date(last_index, last_term) {
            if !pre_vote {
                self.vote = Some(from);
                self.election_elapsed = 0;
            }
            // Answer in the candidate's term (for a pre-vote, the future one).
            self.send(
                from,
                term,
                Body::VoteResponse {
                    pre_vote,
                    granted: true,
                    leader_hint: None,
                },
            );
        } else {
            self.send(
                from,
                self.term,
                Body::VoteResponse {
                    pre_vote,
                    granted: false,
                    leader_hint: self.leader,
                },
            );
        }
    }

    fn handle_vote_response(&mut self, from: NodeId, pre_vote: bool, granted: bool, leader_hint: Option<NodeId>) {
        let kind = match (self.role, pre_vote) {
            (Role::PreCandidate, true) => Campaign::Pre,
            (Role::Candidate, false) => Campaign::Real { transfer: false },
            _ => return, // an answer to a campaign we are no longer running
        };
        match self.record_vote(from, granted) {
            Tally::Won => self.won_campaign(kind),
            Tally::Lost => self.become_follower(self.term, leader_hint.filter(|&l| l != self.cfg.id)),
            Tally::Pending => {}
        }
    }

    fn handle_append(&mut self, from: NodeId, prev_index: Index, prev_term: Term, entries: Vec<Entry>, commit: Index) {
        if prev_index < self.log.committed() {
            // Everything up to our commit index is settled; tell the leader.
            let match_index = self.log.committed();
            self.send(
                from,
                self.term,
                Body::AppendResponse(AppendResult::Accepted { match_index }),
            );
            return;
        }
        if entries.iter().any(|e| e.term > self.term) {
            // A leader never sends entries from a future term: drop the message.
            return;
        }
        let touches_config = entries.iter().any(|e| matches!(e.payload, Payload::Config { .. }))
            || self.config_log.last().is_some_and(|(i, _)| *i > prev_index);
        let result = match self.log.maybe_append(prev_index, prev_term, commit, entries) {
            Some(match_index) => {
                if touches_config {
                    self.rescan_config();
                }
                AppendResult::Accepted { match_index }
            }
            None => {
                let hint_index = self
                    .log
                    .find_conflict_by_term(prev_index.min(self.log.last_index()), prev_term);
                AppendResult::Rejected {
                    rejected_index: prev_index,
                    hint_index,
                    hint_term: self.log.term(hint_index).unwrap_or(0),
                    leader_hint: self.leader,
                }
            }
        };
        self.send(from, self.term, Body::AppendResponse(result));
    }

    fn handle_append_response(&mut self, from: NodeId, result: AppendResult) {
        if self.role != Role::Leader {
            return;
        }
        let last_index = self.log.last_index();
        match result {
            AppendResult::Accepted { match_index } => {
                if match_index > last_index {
                    return; // claims entries we never had: not a reply to us
                }
                let Some(pr) = self.progress.get_mut(&from) else {
                    return;
                };
                pr.recent_active = true;
                if !pr.maybe_update(match_index) {
                    return;
                }
                if pr.state == ProgressState::Probe {
                    pr.become_replicate();
                }
                if self.maybe_commit() {
                    self.broadcast_append(true);
                } else {
                    self.send_append(from, false);
                }
                self.maybe_finish_transfer(from);
            }
            AppendResult::Rejected {
                rejected_index,
                hint_index,
                hint_term,
                ..
            } => {
                let next_probe = if hint_term > 0 {
                    self.log.find_conflict_by_term(hint_index, hint_term)
                } else {
                    hint_index
                };
                let Some(pr) = self.progress.get_mut(&from) else {
                    return;
                };
                pr.recent_active = true;
                if pr.maybe_decrease_to(rejected_index, next_probe) {
                    if pr.state == ProgressState::Replicate {
                        pr.become_probe();
                    }
                    self.send_append(from, true);
                }
            }
        }
    }

    fn maybe_finish_transfer(&mut self, from: NodeId) {
        if self.transferee == Some(from)
            && self
                .progress
                .get(&from)
                .is_some_and(|p| p.matched == self.log.last_index())
        {
            self.send(from, self.term, Body::TimeoutNow);
        }
    }

    fn handle_snapshot_chunk(&mut self, from: NodeId, meta: SnapshotMeta, offset: u64, data: Vec<u8>, done: bool) {
        let index = meta.index;
        if index <= self.log.committed() {
            // We already have everything it holds: let the leader move on.
            self.incoming_snapshot = None;
            let body = Body::SnapshotResponse {
                index,
                next_offset: 0,
                done: true,
            };
            self.send(from, self.term, body);
            return;
        }
        if offset == 0 {
            self.incoming_snapshot = Some((meta.clone(), Vec::new()));
        }
        let expected = match &self.incoming_snapshot {
            Some((m, buf)) if *m == meta => buf.len() as u64,
            _ => 0,
        };
        if offset != expected || expected as usize + data.len() > MAX_SNAPSHOT_BYTES {
            // Out of order (a lost or duplicated chunk, or our restart):
            // tell the leader where to resume.
            if expected == 0 {
                self.incoming_snapshot = None;
            }
            self.send(
                from,
                self.term,
                Body::SnapshotResponse {
                    index,
                    next_offset: expected,
                    done: false,
                },
            );
            return;
        }
        let Some((_, buf)) = self.incoming_snapshot.as_mut() else {
            return;
        };
        buf.extend_from_slice(&data);
        let next_offset = buf.len() as u64;
        if done {
            let Some((meta, data)) = self.incoming_snapshot.take() else {
                return;
            };
            let discard_log = self.log.restore(meta.index, meta.term);
            self.base_voters = meta.voters.clone();
            self.snapshot = Some(Snapshot { meta, data });
            self.rescan_config();
            self.snapshot_change = Some(SnapshotChange::Installed { discard_log });
        }
        // Sent with the Ready that persists the snapshot, so only after it is durable.
        self.send(
            from,
            self.term,
            Body::SnapshotResponse {
                index,
                next_offset,
                done,
            },
        );
    }

    fn handle_snapshot_response(&mut self, from: NodeId, index: Index, next_offset: u64, done: bool) {
        if self.role != Role::Leader {
            return;
        }
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if done {
            if matches!(pr.state, ProgressState::Snapshot { index: i, .. } if i == index) {
                pr.maybe_update(index);
                pr.become_probe();
            }
        } else {
            pr.snapshot_progress(index, next_offset);
        }
        self.send_append(from, false);
    }

    // ----- replication out ------------------------------------------------

    fn broadcast_append(&mut self, allow_empty: bool) {
        for to in self.peers.clone() {
            self.send_append(to, allow_empty);
        }
    }

    fn send_append(&mut self, to: NodeId, allow_empty: bool) {
        let limits = self.limits();
        let Some(pr) = self.progress.get_mut(&to) else {
            return;
        };
        if pr.is_paused(limits) {
            return;
        }
        if let ProgressState::Snapshot { index, offset } = pr.state {
            return self.send_snapshot_chunk(to, index, offset);
        }
        let prev_index = pr.next - 1;
        let prev_term = self.log.term(prev_index);
        let entries = self.log.entries_from(pr.next, self.cfg.max_batch_bytes);
        let (Some(prev_term), Some(entries)) = (prev_term, entries) else {
            // The follower needs entries we compacted: send the snapshot.
            let Some(index) = self.snapshot.as_ref().map(|s| s.meta.index) else {
                debug_assert!(false, "log compacted without a snapshot");
                return;
            };
            pr.become_snapshot(index);
            return self.send_snapshot_chunk(to, index, 0);
        };
        if entries.is_empty() && !allow_empty && pr.state == ProgressState::Replicate {
            return;
        }
        let last = entries.last().map_or(prev_index, |e| e.index);
        let bytes: usize = entries.iter().map(Entry::approx_size).sum();
        pr.sent(last, bytes);
        let commit = self.log.committed();
        self.send(
            to,
            self.term,
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            },
        );
    }

    fn send_snapshot_chunk(&mut self, to: NodeId, index: Index, offset: u64) {
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        if snapshot.meta.index != index {
            // We compacted again since: start over with the newer snapshot.
            if let Some(pr) = self.progress.get_mut(&to) {
                pr.become_snapshot(snapshot.meta.index);
            }
            return self.send_snapshot_chunk(to, snapshot.meta.index, 0);
        }
        let start = (offset as usize).min(snapshot.data.len());
        let end = (start + self.cfg.snapshot_chunk_bytes).min(snapshot.data.len());
        let body = Body::InstallSnapshot {
            meta: snapshot.meta.clone(),
            offset: start as u64,
            data: snapshot.data[start..end].to_vec(),
            done: end == snapshot.data.len(),
        };
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.sent(index, 0);
        }
        self.send(to, self.term, body);
    }

    fn broadcast_heartbeat(&mut self) {
        let commit = self.log.committed();
        let read_seq = self.read_seq;
        let beats: Vec<_> = self
            .progress
            .iter()
            .map(|(&to, pr)| (to, commit.min(pr.matched)))
            .collect();
        for (to, commit) in beats {
            self.send(to, self.term, Body::Heartbeat { commit, read_seq });
        }
    }

    /// Commit the highest index a majority has durably, if it is of our term
    /// (Raft §5.4.2 / Figure 8: never by counting replicas of older terms).
    pub(super) fn maybe_commit(&mut self) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        let mut matched: Vec<Index> = self.progress.values().map(|p| p.matched).collect();
        if self.is_voter() {
            matched.push(self.log.stable());
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.quorum() - 1];
        if candidate > self.log.committed() && self.log.term(candidate) == Some(self.term) {
            self.log.commit_to(candidate);
            if !self.is_voter() && self.config_log.last().is_none_or(|(i, _)| *i <= candidate) {
                // Our removal is committed: hand over by stepping down; the
                // remaining voters elect a leader among themselves.
                self.broadcast_append(true);
                self.become_follower(self.term, None);
                return true;
            }
            // The commit index is now known current: serve waiting reads.
            for (ctx, from) in std::mem::take(&mut self.reads_awaiting_commit) {
                self.leader_read(ctx, from);
            }
            return true;
        }
        false
    }

    /// Storage made entries up to (`index`, `term`) durable.
    pub(super) fn on_persisted(&mut self, index: Index, term: Term) {
        self.log.stable_to(index, term);
        if self.maybe_commit() {
            self.broadcast_append(true);
        }
    }

    fn send(&mut self, to: NodeId, term: Term, body: Body) {
        self.msgs.push(Message {
            from: self.cfg.id,
            to,
            term,
            body,
        });
    }
}
