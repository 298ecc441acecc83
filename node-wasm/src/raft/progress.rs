//! What a leader knows about one follower's log, and how fast it may send.

use std::collections::VecDeque;

use super::message::Index;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressState {
    /// We do not know where the follower's log matches ours: send one append,
    /// wait for its answer (or the next heartbeat answer), adjust, repeat.
    Probe,
    /// The follower is known to match: stream appends optimistically, up to
    /// `max_inflight` unacknowledged messages (pipelining with flow control).
    Replicate,
}

#[derive(Debug, Clone)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    /// Invariant: `matched < next`.
    pub matched: Index,
    /// Next index to send.
    pub next: Index,
    pub state: ProgressState,
    /// In `Probe`: an append is outstanding, wait.
    probe_sent: bool,
    /// In `Replicate`: last index of each unacknowledged append, oldest first.
    inflight: VecDeque<Index>,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
}

impl Progress {
    pub fn new(next: Index) -> Self {
        Self {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: true,
        }
    }

    pub fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= max_inflight,
        }
    }

    /// An append ending at `last` went out (`last == next - 1` for an empty one).
    pub fn sent(&mut self, last: Index, carried_entries: bool) {
        match self.state {
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Replicate if carried_entries => {
                self.next = last + 1;
                self.inflight.push_back(last);
            }
            ProgressState::Replicate => {}
        }
    }

    /// The follower acknowledged everything up to `index`. Returns whether
    /// that was news.
    pub fn maybe_update(&mut self, index: Index) -> bool {
        self.probe_sent = false;
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
        if index <= self.matched {
            return false;
        }
        self.matched = index;
        self.next = self.next.max(index + 1);
        true
    }

    /// The follower rejected an append whose previous entry was `rejected`;
    /// `hint` is the last index that may match. Returns false for a stale
    /// rejection (one that answers an append we have already moved past).
    pub fn maybe_decrease_to(&mut self, rejected: Index, hint: Index) -> bool {
        match self.state {
            ProgressState::Replicate => {
                if rejected <= self.matched {
                    return false;
                }
                self.next = self.matched + 1;
            }
            ProgressState::Probe => {
                if self.next.checked_sub(1) != Some(rejected) {
                    return false;
                }
                self.next = rejected.min(hint + 1).max(self.matched + 1);
                self.probe_sent = false;
            }
        }
        true
    }

    pub fn become_probe(&mut self) {
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
        self.next = self.matched + 1;
    }

    pub fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.probe_sent = false;
        self.inflight.clear();
        self.next = self.matched + 1;
    }

    /// A heartbeat answer proves the follower is there: let a stuck probe retry.
    pub fn resume(&mut self) {
        self.probe_sent = false;
    }
}
