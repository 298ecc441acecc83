//! The in-memory view of the replicated log, with the three indexes that
//! matter: how far it is durable (`stable`), committed and applied.

use super::message::{Entry, Index, Term};

/// The log as the core sees it. Storage keeps the durable copy; this mirror
/// serves every read so the core never waits on I/O.
#[derive(Debug, Clone, Default)]
pub struct RaftLog {
    /// `entries[i].index == first_index() + i`; contiguous, terms non-decreasing.
    entries: Vec<Entry>,
    /// Invariant: `committed <= last_index()`, and it never decreases.
    committed: Index,
    /// Entries up to `stable` are durable (acknowledged by storage).
    /// Invariant: `stable <= last_index()`.
    stable: Index,
    /// Invariant: `applied <= min(committed, stable)`, and it never decreases.
    applied: Index,
}

impl RaftLog {
    /// A log restored from storage: everything in it is already durable.
    pub fn restored(entries: Vec<Entry>, committed: Index) -> Self {
        let stable = entries.last().map_or(0, |e| e.index);
        debug_assert!(committed <= stable);
        Self {
            entries,
            committed,
            stable,
            applied: 0,
        }
    }

    pub fn first_index(&self) -> Index {
        1
    }

    pub fn last_index(&self) -> Index {
        self.entries.last().map_or(0, |e| e.index)
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
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

    /// The term of the entry at `index`; `Some(0)` for index 0, `None` beyond the log.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
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
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Leader path: append entries that directly follow the last one.
    pub fn append(&mut self, entries: Vec<Entry>) {
        for e in entries {
            assert_eq!(
                e.index,
                self.last_index() + 1,
                "leader append must be contiguous"
            );
            assert!(
                e.term >= self.last_term(),
                "terms in the log never decrease"
            );
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

    /// The largest index `<= index` whose term is `<= term` (0 if none). Used on
    /// both sides of a rejected append to skip a whole conflicting term at once.
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> Index {
        let mut i = index.min(self.last_index());
        while i > 0 {
            match self.term(i) {
                Some(t) if t <= term => return i,
                _ => i -= 1,
            }
        }
        0
    }

    /// Entries from `from` on, at most `max_bytes` (but always at least one).
    pub fn entries_from(&self, from: Index, max_bytes: usize) -> Vec<Entry> {
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
        out
    }

    /// Entries not yet acknowledged as durable.
    pub fn unstable_entries(&self) -> &[Entry] {
        let from = (self.stable + 1 - self.first_index()) as usize;
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
        let mut log = RaftLog::restored(ents(&[1, 1, 2, 2]), 1);
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
        let mut log = RaftLog::restored(ents(&[1, 1, 2, 2, 2, 2]), 0);
        assert_eq!(log.maybe_append(6, 3, 0, vec![]), None);
        // The leader's term at 6 is 3; every entry of term 2 may be skipped.
        assert_eq!(log.find_conflict_by_term(6, 1), 2);
        assert_eq!(log.find_conflict_by_term(6, 2), 6);
        assert_eq!(log.find_conflict_by_term(10, 0), 0);
    }

    #[test]
    fn commit_is_capped_by_what_the_message_vouches_for() {
        let mut log = RaftLog::restored(ents(&[1, 1, 1]), 0);
        // Leader commit 3, but this message only proves entries up to 1.
        assert_eq!(log.maybe_append(0, 0, 3, vec![entry(1, 1)]), Some(1));
        assert_eq!(log.committed(), 1);
    }

    #[test]
    fn only_durable_committed_entries_are_handed_to_apply() {
        let mut log = RaftLog::restored(vec![], 0);
        log.append(ents(&[1, 1]));
        log.commit_to(2);
        assert!(log.next_committed_entries().is_empty());
        log.stable_to(1, 1);
        assert_eq!(log.next_committed_entries(), vec![entry(1, 1)]);
        log.applied_to(1);
        log.stable_to(2, 1);
        assert_eq!(log.next_committed_entries(), vec![entry(2, 1)]);
    }
}
