//! A tab that found every node slot taken becomes an observer: it runs no
//! Raft node and never connects to the relay; it follows what the nodes in
//! the other tabs of this browser have committed, by reading their IndexedDB
//! databases (same origin) once a second, and it refuses edits.

use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use gloo_timers::callback::Interval;

use super::driver::{BootOptions, Input, NodeHandle};
use super::idb::IdbStorage;
use crate::calendar::Rejection;
use crate::machine::Machine;
use crate::raft::{Payload, Role, Status};
use crate::view::View;

const POLL_MS: u32 = 1_000;

pub(crate) fn start(opts: BootOptions, on_change: impl Fn(Rc<View>) + 'static) -> NodeHandle {
    let (tx, rx) = mpsc::unbounded();
    let ticker_tx = tx.clone();
    let ticker = Interval::new(POLL_MS, move || {
        let _ = ticker_tx.unbounded_send(Input::Tick);
    });
    wasm_bindgen_futures::spawn_local(follow(opts, rx, ticker, Box::new(on_change)));
    NodeHandle::new(tx)
}

async fn follow(
    opts: BootOptions,
    mut rx: mpsc::UnboundedReceiver<Input>,
    _ticker: Interval,
    on_change: Box<dyn Fn(Rc<View>)>,
) {
    let mut stores: Vec<Option<IdbStorage>> = (0..opts.cluster_size).map(|_| None).collect();
    let mut view = View {
        room: opts.room.clone(),
        slot: 0,
        status: Status {
            id: 0,
            role: Role::Follower,
            term: 0,
            leader: None,
            commit: 0,
            applied: 0,
            last_index: 0,
            snapshot_index: 0,
        },
        store: Default::default(),
        connected: false,
        online: vec![],
        fault: None,
        pending: vec![],
        notice: None,
        observer: true,
    };
    on_change(Rc::new(view.clone()));
    while let Some(input) = rx.next().await {
        match input {
            Input::Submit(_, reply) => {
                let _ = reply.send(Err(Rejection::ReadOnlyObserver));
            }
            Input::Tick => {
                if let Some((commit, machine)) = newest_committed(&opts, &mut stores, view.status.commit).await {
                    view.status.commit = commit;
                    view.status.applied = commit;
                    view.store = Rc::new(machine.store().clone());
                    on_change(Rc::new(view.clone()));
                }
            }
            _ => {}
        }
    }
}

/// The committed state of whichever node has committed the most, if that
/// is more than `known`.
async fn newest_committed(opts: &BootOptions, stores: &mut [Option<IdbStorage>], known: u64) -> Option<(u64, Machine)> {
    let mut best = None;
    for (i, slot) in stores.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = IdbStorage::open(&format!("raftcal/{}/node/{}", opts.room, i + 1))
                .await
                .ok();
        }
        let Some(store) = slot else { continue };
        let Ok(persisted) = store.load().await else { continue };
        let commit = persisted.hard_state.commit;
        if commit > known && best.as_ref().is_none_or(|(c, _)| commit > *c) {
            best = Some((commit, persisted));
        }
    }
    let (commit, persisted) = best?;
    let mut machine = match &persisted.snapshot {
        Some(s) => Machine::restore(&s.data).ok()?,
        None => Machine::default(),
    };
    for e in persisted.entries.iter().filter(|e| e.index <= commit) {
        if let Payload::Command(bytes) = &e.payload {
            machine.apply(e.index, bytes);
        }
    }
    Some((commit, machine))
}
