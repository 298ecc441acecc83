//! A Porcupine-style linearizability checker (Wing & Gong's search with
//! Lowe's memoisation) for the calendar's single-event operations.
//!
//! Every operation touches one event id, so the history is checked one id
//! at a time (linearizability is compositional, Herlihy & Wing §3.3). The
//! model of one id is a single bit: does the event exist?

use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    Create,
    Delete,
    Read,
}

/// What the system answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpResult {
    /// The write took effect (created / deleted).
    Done,
    /// The write was refused (already exists / does not exist).
    Refused,
    /// A read saw the event present or absent.
    Saw(bool),
}

#[derive(Debug, Clone)]
pub struct Op {
    pub client: usize,
    pub key: u32,
    pub kind: OpKind,
    /// Unique, increasing event stamps.
    pub invoke: u64,
    /// `None`: no answer ever came (it may or may not have taken effect).
    pub ret: Option<(u64, OpResult)>,
}

/// The sequential specification of one event id.
fn step(present: bool, kind: OpKind) -> (bool, OpResult) {
    match (kind, present) {
        (OpKind::Create, false) => (true, OpResult::Done),
        (OpKind::Create, true) => (true, OpResult::Refused),
        (OpKind::Delete, true) => (false, OpResult::Done),
        (OpKind::Delete, false) => (false, OpResult::Refused),
        (OpKind::Read, p) => (p, OpResult::Saw(p)),
    }
}

/// Is the history of one key linearizable from the state `initially`?
/// Returns `Err` with a description when it is not.
pub fn check_key(ops: &[Op], initially: bool) -> Result<(), String> {
    let n = ops.len();
    let mut done = vec![false; n];
    let mut seen: HashSet<(Vec<bool>, bool)> = HashSet::new();
    if search(ops, &mut done, initially, &mut seen) {
        Ok(())
    } else {
        let mut lines: Vec<String> = ops
            .iter()
            .map(|o| format!("  client {} {:?} [{} .. {:?}]", o.client, o.kind, o.invoke, o.ret))
            .collect();
        lines.sort();
        Err(format!("key {} is not linearizable:\n{}", ops[0].key, lines.join("\n")))
    }
}

fn search(ops: &[Op], done: &mut Vec<bool>, state: bool, seen: &mut HashSet<(Vec<bool>, bool)>) -> bool {
    // Finished once every answered operation is placed; unanswered ones may
    // be left out (they never took effect) or placed (they did).
    if ops.iter().zip(done.iter()).all(|(o, &d)| d || o.ret.is_none()) {
        return true;
    }
    if !seen.insert((done.clone(), state)) {
        return false;
    }
    // Only operations invoked before every pending one returned can go next.
    let horizon = ops
        .iter()
        .zip(done.iter())
        .filter(|(_, &d)| !d)
        .filter_map(|(o, _)| o.ret.map(|(t, _)| t))
        .min()
        .unwrap_or(u64::MAX);
    for i in 0..ops.len() {
        if done[i] || ops[i].invoke > horizon {
            continue;
        }
        let (next, out) = step(state, ops[i].kind);
        if let Some((_, expected)) = ops[i].ret {
            if expected != out {
                continue;
            }
        }
        done[i] = true;
        if search(ops, done, next, seen) {
            return true;
        }
        done[i] = false;
    }
    false
}

/// Check a whole history, key by key.
pub fn check(history: &[Op]) -> Result<(), String> {
    let mut keys: Vec<u32> = history.iter().map(|o| o.key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let ops: Vec<Op> = history.iter().filter(|o| o.key == key).cloned().collect();
        check_key(&ops, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: usize, kind: OpKind, invoke: u64, ret: Option<(u64, OpResult)>) -> Op {
        Op {
            client,
            key: 1,
            kind,
            invoke,
            ret,
        }
    }

    #[test]
    fn accepts_a_sequential_history_and_concurrent_reorderings() {
        let h = [
            op(0, OpKind::Create, 1, Some((2, OpResult::Done))),
            op(1, OpKind::Read, 3, Some((4, OpResult::Saw(true)))),
            // Concurrent delete and read: the read may see either.
            op(0, OpKind::Delete, 5, Some((8, OpResult::Done))),
            op(1, OpKind::Read, 6, Some((7, OpResult::Saw(true)))),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn rejects_a_stale_read_and_a_lost_write() {
        let stale = [
            op(0, OpKind::Create, 1, Some((2, OpResult::Done))),
            op(1, OpKind::Read, 3, Some((4, OpResult::Saw(false)))),
        ];
        assert!(check(&stale).is_err());
        let double = [
            op(0, OpKind::Create, 1, Some((2, OpResult::Done))),
            op(1, OpKind::Create, 3, Some((4, OpResult::Done))),
        ];
        assert!(check(&double).is_err());
    }

    #[test]
    fn unanswered_writes_may_or_may_not_have_happened() {
        let h = [
            op(0, OpKind::Create, 1, None),
            op(1, OpKind::Read, 2, Some((3, OpResult::Saw(true)))),
            op(1, OpKind::Read, 4, Some((5, OpResult::Saw(true)))),
        ];
        assert!(check(&h).is_ok());
        let h = [
            op(0, OpKind::Create, 1, None),
            op(1, OpKind::Read, 2, Some((3, OpResult::Saw(false)))),
        ];
        assert!(check(&h).is_ok());
    }
}
