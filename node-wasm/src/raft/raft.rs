//! The Raft protocol state machine: roles, terms, votes and replication.
//!
//! Pure and synchronous. Every input is a method call (`tick`, `step`,
//! `propose`); every output is data left in `msgs` or in the log, which
//! [`super::RawNode`] hands out as a `Ready`.

use std::collections::BTreeMap;

use super::errors::{ConfigError, ProposeError, RestoreError, StepError};
use super::log::RaftLog;
use super::message::{AppendResult, Body, Entry, HardState, Index, Message, NodeId, Payload, Term};
use super::progress::{Progress, ProgressState};
use super::rng::SplitMix64;

/// How a node behaves. Time is counted in ticks; the driver decides how long
/// a tick is (the browser driver: 50 ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub id: NodeId,
    /// Every voting member, including `id`.
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
    /// Unacknowledged appends per follower in `Replicate` state.
    pub max_inflight: usize,
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
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 || self.voters.contains(&0) {
            return Err(ConfigError::ZeroId);
        }
        if !self.voters.contains(&self.id) {
            return Err(ConfigError::NotAVoter(self.id));
        }
        if self.election_ticks_min >= self.election_ticks_max
            || self.election_ticks_min <= self.heartbeat_ticks
        {
            return Err(ConfigError::BadTimeouts {
                min: self.election_ticks_min,
                max: self.election_ticks_max,
                heartbeat: self.heartbeat_ticks,
            });
        }
        if self.max_inflight == 0 || self.max_batch_bytes == 0 {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Campaign {
    Pre,
    Real,
}

enum Tally {
    Won,
    Lost,
    Pending,
}

pub struct Raft {
    cfg: Config,
    /// Sorted, deduplicated, without `cfg.id`.
    peers: Vec<NodeId>,
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
}

impl Raft {
    pub fn new(
        cfg: Config,
        hard_state: HardState,
        entries: Vec<Entry>,
        seed: u64,
    ) -> Result<Self, RestoreError> {
        let mut expected = 1;
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
        let mut peers: Vec<NodeId> = cfg
            .voters
            .iter()
            .copied()
            .filter(|&v| v != cfg.id)
            .collect();
        peers.sort_unstable();
        peers.dedup();
        let mut raft = Self {
            peers,
            term: hard_state.term,
            vote: hard_state.vote,
            leader: None,
            role: Role::Follower,
            log: RaftLog::restored(entries, hard_state.commit),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            msgs: Vec::new(),
            rng: SplitMix64::new(seed),
            cfg,
        };
        raft.reset_timers();
        Ok(raft)
    }

    pub fn id(&self) -> NodeId {
        self.cfg.id
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
        let voters = self.peers.len() + 1;
        voters / 2 + 1
    }

    fn is_member(&self, id: NodeId) -> bool {
        id == self.cfg.id || self.peers.binary_search(&id).is_ok()
    }

    // ----- time -----------------------------------------------------------

    pub fn tick(&mut self) {
        if self.role == Role::Leader {
            self.tick_leader();
        } else {
            self.election_elapsed += 1;
            if self.election_elapsed >= self.randomized_timeout {
                self.election_elapsed = 0;
                self.start_election();
            }
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_ticks_min {
            self.election_elapsed = 0;
            if self.cfg.check_quorum {
                // Raft thesis §6.2: a leader cut off from a majority steps
                // down, so its clients stop waiting on it.
                let active = 1 + self.progress.values().filter(|p| p.recent_active).count();
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
        self.votes.clear();
        self.progress.clear();
        self.reset_timers();
    }

    fn start_election(&mut self) {
        if self.cfg.pre_vote {
            self.campaign(Campaign::Pre);
        } else {
            self.campaign(Campaign::Real);
        }
    }

    fn campaign(&mut self, kind: Campaign) {
        let term = match kind {
            Campaign::Pre => {
                // Forget the leader we can no longer hear, so that we also
                // answer other pre-candidates (avoids the pre-vote +
                // check-quorum deadlock, etcd issue #8243).
                self.role = Role::PreCandidate;
                self.leader = None;
                self.term + 1
            }
            Campaign::Real => {
                self.role = Role::Candidate;
                self.term += 1;
                self.vote = Some(self.cfg.id);
                self.leader = None;
                self.term
            }
        };
        self.votes.clear();
        self.progress.clear();
        self.reset_timers();
        match self.record_vote(self.cfg.id, true) {
            Tally::Won => return self.won_campaign(kind),
            Tally::Lost | Tally::Pending => {}
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for to in self.peers.clone() {
            self.send(
                to,
                term,
                Body::RequestVote {
                    pre_vote: kind == Campaign::Pre,
                    last_index,
                    last_term,
                },
            );
        }
    }

    fn won_campaign(&mut self, kind: Campaign) {
        match kind {
            Campaign::Pre => self.campaign(Campaign::Real),
            Campaign::Real => self.become_leader(),
        }
    }

    fn record_vote(&mut self, from: NodeId, granted: bool) -> Tally {
        self.votes.entry(from).or_insert(granted);
        let yes = self.votes.values().filter(|&&g| g).count();
        let no = self.votes.len() - yes;
        if yes >= self.quorum() {
            Tally::Won
        } else if no > self.peers.len() + 1 - self.quorum() {
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
        self.progress = self
            .peers
            .iter()
            .map(|&p| (p, Progress::new(next)))
            .collect();
        // A leader may only count replicas of its own term's entries (§5.4.2);
        // this empty entry lets everything before it commit promptly.
        self.append_local(vec![Payload::Noop]);
    }

    // ----- proposals ------------------------------------------------------

    /// Ask the cluster to agree on `command`. A follower forwards it to the
    /// leader it knows; nobody can accept it while no leader is known.
    /// `Ok` means "on its way", not "committed": the command is committed when
    /// it comes back in `Ready::committed_entries`.
    pub fn propose(&mut self, command: Vec<u8>) -> Result<(), ProposeError> {
        match (self.role, self.leader) {
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

    fn append_local(&mut self, payloads: Vec<Payload>) {
        let mut index = self.log.last_index();
        let entries = payloads
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
        self.log.append(entries);
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

        if let Body::Propose { commands } = m.body {
            // Proposals are not term-bound: whoever leads now takes them.
            self.handle_forwarded(m.from, commands);
            return Ok(());
        }

        if m.term > self.term {
            match m.body {
                Body::RequestVote { pre_vote, .. } => {
                    // Leader stickiness (thesis §4.2.3): while we hear from a
                    // leader, a node that could not (a returning partitioned
                    // tab) cannot depose it.
                    let in_lease = self.cfg.check_quorum
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
                Body::Append { .. } | Body::Heartbeat { .. } => {
                    self.become_follower(m.term, Some(m.from))
                }
                _ => self.become_follower(m.term, None),
            }
        } else if m.term < self.term {
            match m.body {
                // A stale leader (back from a partition) would otherwise keep
                // thinking it leads; our higher term makes it step down.
                Body::Append { .. } | Body::Heartbeat { .. } => {
                    self.send(m.from, self.term, Body::HeartbeatResponse);
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
            Body::Heartbeat { commit } => {
                self.follow(m.from);
                // The leader never sends more than what we matched.
                self.log.commit_to(commit.min(self.log.last_index()));
                self.send(m.from, self.term, Body::HeartbeatResponse);
            }
            Body::AppendResponse(result) => self.handle_append_response(m.from, result),
            Body::HeartbeatResponse => {
                if let Some(pr) = self.progress.get_mut(&m.from) {
                    pr.recent_active = true;
                    pr.resume();
                    if pr.matched < self.log.last_index() {
                        self.send_append(m.from, false);
                    }
                }
            }
            Body::Propose { .. } => unreachable!("handled above"),
        }
        Ok(())
    }

    fn handle_forwarded(&mut self, from: NodeId, commands: Vec<Vec<u8>>) {
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                self.append_local(commands.into_iter().map(Payload::Command).collect())
            }
            (_, Some(leader)) if leader != from => {
                self.send(leader, self.term, Body::Propose { commands })
            }
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

    fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: Term,
        pre_vote: bool,
        last_index: Index,
        last_term: Term,
    ) {
        let can_vote = self.vote == Some(from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && term > self.term);
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

    fn handle_vote_response(
        &mut self,
        from: NodeId,
        pre_vote: bool,
        granted: bool,
        leader_hint: Option<NodeId>,
    ) {
        let kind = match (self.role, pre_vote) {
            (Role::PreCandidate, true) => Campaign::Pre,
            (Role::Candidate, false) => Campaign::Real,
            _ => return, // an answer to a campaign we are no longer running
        };
        match self.record_vote(from, granted) {
            Tally::Won => self.won_campaign(kind),
            Tally::Lost => {
                self.become_follower(self.term, leader_hint.filter(|&l| l != self.cfg.id))
            }
            Tally::Pending => {}
        }
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    ) {
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
        let result = match self
            .log
            .maybe_append(prev_index, prev_term, commit, entries)
        {
            Some(match_index) => AppendResult::Accepted { match_index },
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

    // ----- replication out ------------------------------------------------

    fn broadcast_append(&mut self, allow_empty: bool) {
        for to in self.peers.clone() {
            self.send_append(to, allow_empty);
        }
    }

    fn send_append(&mut self, to: NodeId, allow_empty: bool) {
        let Some(pr) = self.progress.get(&to) else {
            return;
        };
        if pr.is_paused(self.cfg.max_inflight) {
            return;
        }
        let prev_index = pr.next - 1;
        let Some(prev_term) = self.log.term(prev_index) else {
            debug_assert!(false, "progress of {to} points past the log");
            return;
        };
        let entries = self.log.entries_from(pr.next, self.cfg.max_batch_bytes);
        if entries.is_empty() && !allow_empty && pr.state == ProgressState::Replicate {
            return;
        }
        let last = entries.last().map_or(prev_index, |e| e.index);
        let carried = !entries.is_empty();
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
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.sent(last, carried);
        }
    }

    fn broadcast_heartbeat(&mut self) {
        let commit = self.log.committed();
        let beats: Vec<_> = self
            .progress
            .iter()
            .map(|(&to, pr)| (to, commit.min(pr.matched)))
            .collect();
        for (to, commit) in beats {
            self.send(to, self.term, Body::Heartbeat { commit });
        }
    }

    /// Commit the highest index a majority has durably, if it is of our term
    /// (Raft §5.4.2 / Figure 8: never by counting replicas of older terms).
    pub(super) fn maybe_commit(&mut self) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        let mut matched: Vec<Index> = self.progress.values().map(|p| p.matched).collect();
        matched.push(self.log.stable());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.quorum() - 1];
        if candidate > self.log.committed() && self.log.term(candidate) == Some(self.term) {
            self.log.commit_to(candidate);
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
