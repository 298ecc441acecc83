//! The in-memory view of the replicated log, with the indexes that matter:
//! where it starts (after the snapshot), how far it is durable (`stable`),
//! committed and applied.

use super::message::{Entry, Index, Term};

/// The log as the core sees it. Storage keeps the durable copy; this mirror
/// serves every read so the core never waits on I/O.
#[derive(Debug, Clone, Default)]
pub struct RaftLog {
    /// `entries[i].index == offset + 1 + i`; contiguous, terms non-decreasing.
    entries: Vec<Entry>,
    /// Index of the last entry folded into the snapshot (0: no snapshot).
    offset: Index,
    /// Term of the entry at `offset`.
    offset_term: Term,
    /// Invariant: `offset <= committed <= last_index()`; never decreases.
    committed: Index,
    /// Entries up to `stable` are durable (acknowledged by storage).
    /// Invariant: `offset <= stable <= last_index()`.
    stable: Index,
    /// Invariant: `applied <= min(committed, stable)`; never decreases.
    applied: Index,
}

impl RaftLog {
    /// A log restored from storage: a snapshot at (`offset`, `offset_term`)
    /// (0, 0 for none) followed by `entries`, all already durable. The state
    /// machine starts from the snapshot, so `applied == offset`.
    pub fn restored(offset: Index, offset_term: Term, entries: Vec<Entry>, committed: Index) -> Self {
        let stable = entries.last().map_or(offset, |e| e.index);
        debug_assert!(committed <= stable);
        Self {
            entries,
            offset,
            offset_term,
            committed: committed.max(offset),
            stable,
            applied: offset,
        }
    }

    /// The entries after the snapshot, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn first_index(&self) -> Index {
        self.offset + 1
    }

    /// The snapshot boundary: entries up to here exist only in the snapshot.
    pub fn offset(&self) -> Index {
        self.offset
    }

    pub fn last_index(&self) -> Index {
        self.offset + self.entries.len() as Index
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }

    pub fn committed(&self) -> Index {
        self.committed
    }

    pub fn stable(&self) -> Index {
        self.stable
    }

    pub fn applied(&self) -> Index {
        self.applied
    }

    /// The term of the entry at `index`: `None` if compacted away or beyond
    /// the log; index 0 has term 0.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == self.offset {
            return Some(self.offset_term);
        }
        self.get(index).map(|e| e.term)
    }

    fn get(&self, index: Index) -> Option<&Entry> {
        let pos = index.checked_sub(self.first_index())?;
        self.entries.get(usize::try_from(pos).ok()?)
    }

    pub fn match_term(&self, index: Index, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Raft §5.4.1: a candidate's log is at least as up to date as ours.
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        last_term > self.last_term() || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Leader path: append entries that directly follow the last one.
    pub fn append(&mut self, entries: Vec<Entry>) {
        for e in entries {
            assert_eq!(e.index, self.last_index() + 1, "leader append must be contiguous");
            assert!(e.term >= self.last_term(), "terms in the log never decrease");
            self.entries.push(e);
        }
    }

    /// Follower path (Raft Figure 2, AppendEntries steps 2–5). Returns the index
    /// of the last entry the leader's message vouches for, or `None` when the
    /// log does not contain (`prev_index`, `prev_term`).
    pub fn maybe_append(
        &mut self,
        prev_index: Index,
        prev_term: Term,
        leader_commit: Index,
        entries: Vec<Entry>,
    ) -> Option<Index> {
        if !self.match_term(prev_index, prev_term) {
            return None;
        }
        let last_new = prev_index + entries.len() as Index;
        // Skip what we already have; truncate from the first conflict only.
        // An append that is a stale prefix of our log must not truncate it.
        let mut new = entries.into_iter().peekable();
        while let Some(e) = new.peek() {
            match self.term(e.index) {
                Some(t) if t == e.term => {
                    new.next();
                }
                Some(_) => {
                    assert!(
                        e.index > self.committed,
                        "conflict at committed index {} (committed {})",
                        e.index,
                        self.committed
                    );
                    self.truncate_from(e.index);
                    break;
                }
                None => break,
            }
        }
        for e in new {
            assert_eq!(e.index, self.last_index() + 1, "append must be contiguous");
            self.entries.push(e);
        }
        // Only what this message proves matches the leader may be committed:
        // entries beyond `last_new` could be leftovers of an older term.
        self.commit_to(leader_commit.min(last_new));
        Some(last_new)
    }

    fn truncate_from(&mut self, index: Index) {
        let keep = (index - self.first_index()) as usize;
        self.entries.truncate(keep);
        self.stable = self.stable.min(index - 1);
    }

    /// The largest index `<= index` whose term is `<= term` (or the snapshot
    /// boundary). Used on both sides of a rejected append to skip a whole
    /// conflicting term at once.
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> Index {
        let mut i = index.min(self.last_index());
        while i > self.offset {
            match self.term(i) {
                Some(t) if t <= term => return i,
                _ => i -= 1,
            }
        }
        i
    }

    /// Entries from `from` on, at most `max_bytes` (but always at least one);
    /// `None` if `from` is compacted into the snapshot.
    pub fn entries_from(&self, from: Index, max_bytes: usize) -> Option<Vec<Entry>> {
        if from <= self.offset {
            return None;
        }
        let mut out = Vec::new();
        let mut size = 0;
        let mut i = from;
        while let Some(e) = self.get(i) {
            size += e.approx_size();
            if !out.is_empty() && size > max_bytes {
                break;
            }
            out.push(e.clone());
            i += 1;
        }
        Some(out)
    }

    /// Entries not yet acknowledged as durable.
    pub fn unstable_entries(&self) -> &[Entry] {
        let from = (self.stable - self.offset) as usize;
        &self.entries[from.min(self.entries.len())..]
    }

    /// Storage finished persisting up to (`index`, `term`). Ignored if the log
    /// was truncated below that entry since, because then it is no longer ours.
    pub fn stable_to(&mut self, index: Index, term: Term) {
        if self.match_term(index, term) && index > self.stable {
            self.stable = index;
        }
    }

    pub fn commit_to(&mut self, index: Index) {
        if index > self.committed {
            assert!(
                index <= self.last_index(),
                "commit {index} beyond last index {}",
                self.last_index()
            );
            self.committed = index;
        }
    }

    /// Committed, durable entries the state machine has not seen yet.
    pub fn next_committed_entries(&self) -> Vec<Entry> {
        let hi = self.committed.min(self.stable);
        if hi <= self.applied {
            return Vec::new();
        }
        let lo = (self.applied + 1 - self.first_index()) as usize;
        let hi = (hi + 1 - self.first_index()) as usize;
        self.entries[lo..hi].to_vec()
    }

    pub fn has_next_committed_entries(&self) -> bool {
        self.committed.min(self.stable) > self.applied
    }

    pub fn applied_to(&mut self, index: Index) {
        assert!(
            index <= self.committed.min(self.stable),
            "applied {index} beyond committed {} / stable {}",
            self.committed,
            self.stable
        );
        if index > self.applied {
            self.applied = index;
        }
    }

    /// Fold entries up to `index` (applied) into a snapshot: drop them.
    pub fn compact_to(&mut self, index: Index) {
        assert!(
            index <= self.applied,
            "compacting {index} beyond applied {}",
            self.applied
        );
        if index <= self.offset {
            return;
        }
        let term = self.term(index).expect("applied entries are in the log");
        let drop = (index - self.offset) as usize;
        self.entries.drain(..drop);
        self.offset = index;
        self.offset_term = term;
    }

    /// Replace the log's start with a snapshot received from the leader.
    /// Entries after it are kept if the log agrees at (`index`, `term`) —
    /// Raft Figure 13 step 6 — and discarded otherwise. Returns whether the
    /// stored log must be discarded after the snapshot.
    pub fn restore(&mut self, index: Index, term: Term) -> bool {
        debug_assert!(index > self.committed);
        let keep_suffix = self.match_term(index, term);
        if keep_suffix {
            let drop = (index - self.offset) as usize;
            self.entries.drain(..drop);
        } else {
            self.entries.clear();
        }
        self.offset = index;
        self.offset_term = term;
        self.committed = index;
        self.applied = index;
        self.stable = if keep_suffix { self.stable.max(index) } else { index };
        !keep_suffix
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::message::Payload;

    fn ents(terms: &[Term]) -> Vec<Entry> {
        terms
            .iter()
            .enumerate()
            .map(|(i, &term)| Entry {
                term,
                index: i as Index + 1,
                payload: Payload::Noop,
            })
            .collect()
    }

    fn entry(index: Index, term: Term) -> Entry {
        Entry {
            term,
            index,
            payload: Payload::Noop,
        }
    }

    #[test]
    fn append_truncates_only_from_the_first_conflict() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2]), 1);
        // A stale, shorter append must not drop entries 3..4.
        assert_eq!(log.maybe_append(1, 1, 1, vec![entry(2, 1)]), Some(2));
        assert_eq!(log.last_index(), 4);
        // A real conflict at 3 replaces the suffix and un-stables it.
        assert_eq!(log.maybe_append(2, 1, 3, vec![entry(3, 3)]), Some(3));
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(3), Some(3));
        assert_eq!(log.stable(), 2);
        assert_eq!(log.committed(), 3);
        assert_eq!(log.unstable_entries(), &[entry(3, 3)]);
    }

    #[test]
    fn mismatched_prev_is_rejected_and_conflict_search_skips_a_term() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2, 2, 2]), 0);
        assert_eq!(log.maybe_append(6, 3, 0, vec![]), None);
        // The leader's term at 6 is 3; every entry of term 2 may be skipped.
        assert_eq!(log.find_conflict_by_term(6, 1), 2);
        assert_eq!(log.find_conflict_by_term(6, 2), 6);
        assert_eq!(log.find_conflict_by_term(10, 0), 0);
    }

    #[test]
    fn commit_is_capped_by_what_the_message_vouches_for() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 1]), 0);
        // Leader commit 3, but this message only proves entries up to 1.
        assert_eq!(log.maybe_append(0, 0, 3, vec![entry(1, 1)]), Some(1));
        assert_eq!(log.committed(), 1);
    }

    #[test]
    fn only_durable_committed_entries_are_handed_to_apply() {
        let mut log = RaftLog::restored(0, 0, vec![], 0);
        log.append(ents(&[1, 1]));
        log.commit_to(2);
        assert!(log.next_committed_entries().is_empty());
        log.stable_to(1, 1);
        assert_eq!(log.next_committed_entries(), vec![entry(1, 1)]);
        log.applied_to(1);
        log.stable_to(2, 1);
        assert_eq!(log.next_committed_entries(), vec![entry(2, 1)]);
    }

    #[test]
    fn compaction_keeps_terms_at_the_boundary_and_refuses_compacted_reads() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2]), 3);
        log.applied_to(3);
        log.compact_to(3);
        assert_eq!((log.first_index(), log.last_index()), (4, 4));
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(2), None);
        assert_eq!(log.entries_from(3, 1024), None);
        assert_eq!(log.entries_from(4, 1024), Some(vec![entry(4, 2)]));
        // Appends still match against the boundary entry.
        assert_eq!(log.maybe_append(3, 2, 4, vec![entry(4, 2), entry(5, 3)]), Some(5));
        assert_eq!(log.find_conflict_by_term(5, 1), 3);
    }

    #[test]
    fn restoring_a_snapshot_keeps_a_matching_suffix_only() {
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2]), 1);
        assert!(!log.restore(2, 1), "matching entry: keep the suffix");
        assert_eq!((log.first_index(), log.last_index(), log.committed()), (3, 4, 2));
        let mut log = RaftLog::restored(0, 0, ents(&[1, 1, 2, 2]), 1);
        assert!(log.restore(3, 5), "conflict: discard everything");
        assert_eq!((log.last_index(), log.last_term(), log.applied()), (3, 5, 3));
        assert!(log.unstable_entries().is_empty());
    }
}
