//! What a leader knows about one follower's log, and how fast it may send.

use std::collections::VecDeque;

use super::message::Index;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressState {
    /// We do not know where the follower's log matches ours: send one append,
    /// wait for its answer (or the next heartbeat answer), adjust, repeat.
    Probe,
    /// The follower is known to match: stream appends optimistically, within
    /// the in-flight limits (pipelining with flow control).
    Replicate,
    /// The follower needs entries we compacted: stream the snapshot taken at
    /// `index`, one chunk at a time; `offset` is the next byte to send.
    Snapshot { index: Index, offset: u64 },
}

#[derive(Debug, Clone)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    /// Invariant: `matched < next`.
    pub matched: Index,
    /// Next index to send.
    pub next: Index,
    pub state: ProgressState,
    /// In `Probe` and `Snapshot`: a message is outstanding, wait.
    waiting: bool,
    /// In `Replicate`: (last index, bytes) of each unacknowledged append.
    inflight: VecDeque<(Index, usize)>,
    inflight_bytes: usize,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
}

/// Flow-control limits per follower.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_inflight: usize,
    pub max_inflight_bytes: usize,
}

impl Progress {
    pub fn new(next: Index) -> Self {
        Self {
            matched: 0,
            next,
            state: ProgressState::Probe,
            waiting: false,
            inflight: VecDeque::new(),
            inflight_bytes: 0,
            recent_active: true,
        }
    }

    pub fn is_paused(&self, limits: Limits) -> bool {
        match self.state {
            ProgressState::Probe | ProgressState::Snapshot { .. } => self.waiting,
            ProgressState::Replicate => {
                self.inflight.len() >= limits.max_inflight || self.inflight_bytes >= limits.max_inflight_bytes
            }
        }
    }

    /// An append ending at `last` and carrying `bytes` of entries went out
    /// (`last == next - 1` and `bytes == 0` for an empty one).
    pub fn sent(&mut self, last: Index, bytes: usize) {
        match self.state {
            ProgressState::Probe => self.waiting = true,
            ProgressState::Replicate if last >= self.next => {
                self.next = last + 1;
                self.inflight.push_back((last, bytes));
                self.inflight_bytes += bytes;
            }
            ProgressState::Replicate => {}
            ProgressState::Snapshot { .. } => self.waiting = true,
        }
    }

    /// The follower acknowledged everything up to `index`. Returns whether
    /// that was news.
    pub fn maybe_update(&mut self, index: Index) -> bool {
        if !matches!(self.state, ProgressState::Snapshot { .. }) {
            self.waiting = false;
        }
        while let Some(&(last, bytes)) = self.inflight.front() {
            if last > index {
                break;
            }
            self.inflight.pop_front();
            self.inflight_bytes -= bytes;
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
                self.waiting = false;
            }
            ProgressState::Snapshot { .. } => return false,
        }
        true
    }

    fn reset(&mut self, state: ProgressState) {
        self.state = state;
        self.waiting = false;
        self.inflight.clear();
        self.inflight_bytes = 0;
    }

    pub fn become_probe(&mut self) {
        self.reset(ProgressState::Probe);
        self.next = self.matched + 1;
    }

    pub fn become_replicate(&mut self) {
        self.reset(ProgressState::Replicate);
        self.next = self.matched + 1;
    }

    pub fn become_snapshot(&mut self, index: Index) {
        self.reset(ProgressState::Snapshot { index, offset: 0 });
    }

    /// The follower holds `offset` bytes of the snapshot at `index`.
    pub fn snapshot_progress(&mut self, index: Index, offset: u64) {
        if let ProgressState::Snapshot { index: i, .. } = self.state {
            if i == index {
                self.state = ProgressState::Snapshot { index, offset };
                self.waiting = false;
            }
        }
    }

    /// A heartbeat answer proves the follower is there: let a stuck probe or
    /// a lost snapshot chunk go again, and in `Replicate` free one slot of a
    /// full window — if its appends were lost, nothing else would ever be
    /// sent, and the next append's rejection puts us back to probing.
    pub fn resume(&mut self, limits: Limits) {
        self.waiting = false;
        if self.state == ProgressState::Replicate && self.is_paused(limits) {
            if let Some((_, bytes)) = self.inflight.pop_front() {
                self.inflight_bytes -= bytes;
            }
        }
    }
}
