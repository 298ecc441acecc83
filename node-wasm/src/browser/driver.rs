//! The driver: the one event loop of a browser node (like etcd's `node.go`;
//! everything else is synchronous). Inputs — ticks, frames, proposals,
//! socket events — arrive on one channel and are handled in order. For each
//! batch the loop takes the core's `Ready` and keeps its contract:
//! persist (await the strict IndexedDB transaction) → send → apply → advance.
//! While a write is in flight further inputs simply wait in the channel.

use std::collections::VecDeque;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::idb::{IdbError, IdbStorage};
use super::locks::{claim_slot, LockError};
use super::socket::Socket;
use super::ticker::Ticker;
use crate::calendar::{Command, Outcome, Rejection};
use crate::machine::{Machine, Proposal, SnapshotError};
use crate::raft::{Config, NodeId, Payload, RawNode, RestoreError, SnapshotUpdate};
use crate::transport::codec::{self, Inbound};
use crate::view::View;

/// The default milliseconds per Raft tick; `Config::new`'s tick counts
/// (heartbeat 3, election 8..40) assume it.
pub const TICK_MS: u32 = 50;
/// Re-propose the head of the outbox after this many ticks without its
/// result (2 s): the proposal or its forward may have been lost.
const RETRY_TICKS: u32 = 40;
/// Snapshot and compact the log once this many entries are applied past the
/// last snapshot.
const SNAPSHOT_EVERY: u64 = 500;

/// How the page wants its node.
#[derive(Debug, Clone)]
pub struct BootOptions {
    pub room: String,
    /// `?node=N`: this slot or an error.
    pub wanted_slot: Option<u16>,
    /// Members of the cluster: slots `1..=cluster_size`.
    pub cluster_size: u16,
    /// The relay's WebSocket endpoint, e.g. `ws://127.0.0.1:8080/ws`.
    pub relay_url: String,
    /// The relay's access token, if it wants one (already URL-encoded).
    pub token: Option<String>,
    /// Milliseconds per tick (timeouts are counted in ticks; see `TICK_MS`).
    pub tick_ms: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Storage(#[from] IdbError),
    #[error("this node's stored state is inconsistent: {0}")]
    Restore(#[from] RestoreError),
    #[error("this node's snapshot cannot be read: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("{0}")]
    Socket(String),
}

pub(crate) enum Input {
    Tick,
    Frame(Vec<u8>),
    Connected,
    Disconnected {
        code: u16,
        reason: String,
    },
    Reconnect,
    Submit(Command, oneshot::Sender<Result<Outcome, Rejection>>),
    /// The page is going away (`pagehide`).
    Closing,
}

/// The UI's handle on its node. Dropping it does not stop the node.
#[derive(Clone)]
pub struct NodeHandle {
    inputs: mpsc::UnboundedSender<Input>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("this node has stopped; reload the tab")]
    Stopped,
}

impl NodeHandle {
    pub(crate) fn new(inputs: mpsc::UnboundedSender<Input>) -> Self {
        Self { inputs }
    }

    /// Hand a command to the cluster and wait until it is committed and
    /// applied (its outcome) or refused (the rejection). While no leader is
    /// reachable the command waits and is retried; it is applied at most
    /// once however often it is retried.
    pub async fn submit(&self, command: Command) -> Result<Outcome, SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.inputs
            .unbounded_send(Input::Submit(command, tx))
            .map_err(|_| SubmitError::Stopped)?;
        Ok(rx.await.map_err(|_| SubmitError::Stopped)??)
    }
}

fn session_slot_key(room: &str) -> String {
    format!("raftcal/{room}/slot")
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // Without entropy every tab would draw the same election timeouts; fall
    // back to the clock rather than fail the boot.
    if getrandom::fill(&mut buf).is_err() {
        return js_sys::Date::now().to_bits();
    }
    u64::from_le_bytes(buf)
}

/// Claim a slot, open its database, resume its log and start the loop.
/// `on_change` is called with a fresh `View` after every visible change.
pub async fn start(opts: BootOptions, on_change: impl Fn(Rc<View>) + 'static) -> Result<NodeHandle, BootError> {
    let remembered = session_storage()
        .and_then(|s| s.get_item(&session_slot_key(&opts.room)).ok().flatten())
        .and_then(|v| v.parse().ok());
    let slot = match claim_slot(&opts.room, opts.cluster_size, opts.wanted_slot, remembered).await {
        Ok(slot) => slot,
        // No `?node=` asked for, and every node is open elsewhere: observe.
        Err(LockError::AllTaken { .. }) => return Ok(super::observer::start(opts, on_change)),
        Err(e) => return Err(e.into()),
    };
    if let Some(s) = session_storage() {
        let _ = s.set_item(&session_slot_key(&opts.room), &slot.to_string());
    }
    let store = IdbStorage::open(&format!("raftcal/{}/node/{}", opts.room, slot)).await?;
    let persisted = store.load().await?;
    super::console_log(
        "info",
        &format!(
            "node {slot} of room {} resumes at term {}: snapshot at {}, {} entries, commit {}",
            opts.room,
            persisted.hard_state.term,
            persisted.snapshot.as_ref().map_or(0, |s| s.meta.index),
            persisted.entries.len(),
            persisted.hard_state.commit
        ),
    );
    let stored = store.load_outbox().await?;
    let queue: VecDeque<Queued> = stored
        .items
        .into_iter()
        .filter_map(|(seq, bytes)| {
            let command = Proposal::decode(&bytes).ok()?.command;
            Some(Queued {
                seq,
                command,
                bytes,
                durable: true,
                reply: None,
            })
        })
        .collect();
    let machine = match &persisted.snapshot {
        Some(s) => Machine::restore(&s.data)?,
        None => Machine::default(),
    };
    let voters: Vec<NodeId> = (1..=u64::from(opts.cluster_size)).collect();
    let raw = RawNode::new(Config::new(u64::from(slot), voters), persisted, random_u64())?;
    let (tx, rx) = mpsc::unbounded();
    let mut url = format!("{}?room={}&node={}", opts.relay_url, opts.room, slot);
    if let Some(token) = &opts.token {
        url.push_str("&token=");
        url.push_str(token);
    }
    let socket = Socket::connect(&url, tx.clone()).map_err(BootError::Socket)?;
    let ticker_tx = tx.clone();
    let ticker = Ticker::start(opts.tick_ms.max(1), move || {
        let _ = ticker_tx.unbounded_send(Input::Tick);
    });
    let closing_tx = tx.clone();
    let on_pagehide = Closure::<dyn FnMut()>::new(move || {
        let _ = closing_tx.unbounded_send(Input::Closing);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
    }
    let status = raw.status();
    let mut driver = Driver {
        raw,
        store,
        socket: Some(socket),
        url,
        inputs: tx.clone(),
        machine,
        outbox: Outbox {
            client: stored.client.unwrap_or_else(random_u64),
            next_seq: stored.next_seq,
            queue,
            settled: Vec::new(),
            since_sent: 0,
        },
        reconnect_attempts: 0,
        dirty: true,
        view: View {
            room: opts.room,
            slot,
            status,
            store: Default::default(),
            connected: false,
            online: vec![],
            fault: None,
            pending: Vec::new(),
            notice: None,
            observer: false,
        },
        on_change: Box::new(on_change),
        _ticker: ticker,
        _on_pagehide: on_pagehide,
    };
    driver.refresh_events();
    driver.refresh_pending();
    // Edits saved before a reload go out again (same session, same numbers).
    driver.propose_head();
    wasm_bindgen_futures::spawn_local(driver.run(rx));
    Ok(NodeHandle { inputs: tx })
}

/// This node's proposals, as one client session kept in IndexedDB: only the
/// head is in flight, retried with the same sequence number until its result
/// is applied. Edits are durable before they are proposed, so a reload or a
/// crash resumes them; the session makes a retry apply at most once.
struct Outbox {
    client: u64,
    next_seq: u64,
    queue: VecDeque<Queued>,
    /// Sequence numbers settled but not yet deleted from storage.
    settled: Vec<u64>,
    /// Ticks since the head was last proposed.
    since_sent: u32,
}

struct Queued {
    seq: u64,
    command: Command,
    bytes: Vec<u8>,
    /// Written to IndexedDB.
    durable: bool,
    /// The submitter still waiting (none for edits restored after a reload).
    reply: Option<oneshot::Sender<Result<Outcome, Rejection>>>,
}

struct Driver {
    raw: RawNode,
    store: IdbStorage,
    socket: Option<Socket>,
    url: String,
    inputs: mpsc::UnboundedSender<Input>,
    machine: Machine,
    outbox: Outbox,
    reconnect_attempts: u32,
    view: View,
    /// `view` changed since it was last published.
    dirty: bool,
    on_change: Box<dyn Fn(Rc<View>)>,
    _ticker: Ticker,
    _on_pagehide: Closure<dyn FnMut()>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        self.publish();
        while let Some(first) = rx.next().await {
            self.handle(first);
            // Batch whatever else is already queued into the same Ready.
            while let Ok(more) = rx.try_recv() {
                self.handle(more);
            }
            let step = match self.persist_outbox().await {
                Ok(()) => self.process_ready().await,
                Err(e) => Err(e),
            };
            if let Err(fault) = step {
                super::console_log("error", &format!("node stopped: {fault}"));
                self.view.fault = Some(fault);
                self.view.connected = false;
                self.socket = None;
                self.publish();
                // Stop: acknowledging anything after a failed write could
                // promise peers data we do not have. Dropping the outbox
                // answers every waiting submit with `Stopped`.
                return;
            }
            self.publish_if_changed();
        }
    }

    fn handle(&mut self, input: Input) {
        if !matches!(input, Input::Tick | Input::Frame(_)) {
            self.dirty = true;
        }
        match input {
            Input::Tick => {
                let leader_before = self.raw.status().leader;
                self.raw.tick();
                self.outbox.since_sent += 1;
                let new_leader = self.raw.status().leader.is_some() && leader_before.is_none();
                if new_leader || self.outbox.since_sent >= RETRY_TICKS {
                    self.propose_head();
                }
            }
            Input::Frame(bytes) => {
                let leader_before = self.raw.status().leader;
                self.on_frame(&bytes);
                if self.raw.status().leader.is_some() && leader_before.is_none() {
                    self.propose_head();
                }
            }
            Input::Submit(command, reply) => {
                if let Err(rejection) = command.validate() {
                    let _ = reply.send(Err(rejection));
                    return;
                }
                let seq = self.outbox.next_seq;
                self.outbox.next_seq += 1;
                let bytes = Proposal {
                    client: self.outbox.client,
                    seq,
                    command: command.clone(),
                }
                .encode();
                // Proposed once durable (see `persist_outbox`).
                self.outbox.queue.push_back(Queued {
                    seq,
                    command,
                    bytes,
                    durable: false,
                    reply: Some(reply),
                });
                self.refresh_pending();
            }
            Input::Closing => {
                // A closing leader hands over to its most up-to-date peer
                // (TimeoutNow), so the cluster does not wait for a timeout.
                if let Some(to) = self.raw.best_transferee() {
                    if self.raw.transfer_leader(to).is_ok() {
                        super::console_log("info", &format!("tab closing: handing leadership to node {to}"));
                    }
                }
            }
            Input::Connected => {
                self.reconnect_attempts = 0;
                self.view.connected = true;
            }
            Input::Disconnected { code, reason } => {
                self.view.connected = false;
                self.view.online.clear();
                self.socket = None;
                self.reconnect_attempts += 1;
                // Exponential backoff with jitter, 250 ms .. 5 s, so tabs that
                // lost the relay together do not reconnect in lockstep.
                let base = (250u64 << self.reconnect_attempts.min(5)).min(5_000);
                let jitter = random_u64() % (base / 2 + 1);
                let delay = (base / 2 + jitter) as u32;
                super::console_log(
                    "warn",
                    &format!("relay connection closed (code {code}: {reason}); retrying in {delay} ms"),
                );
                let tx = self.inputs.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new(delay).await;
                    let _ = tx.unbounded_send(Input::Reconnect);
                });
            }
            Input::Reconnect => match Socket::connect(&self.url, self.inputs.clone()) {
                Ok(s) => self.socket = Some(s),
                Err(e) => {
                    super::console_log("error", &e);
                    let _ = self.inputs.unbounded_send(Input::Disconnected { code: 0, reason: e });
                }
            },
        }
    }

    /// (Re)propose the outbox head. Without a leader it simply waits for the
    /// next try; a retry carries the same sequence number, so even if both
    /// copies commit, the calendar changes once.
    fn propose_head(&mut self) {
        self.outbox.since_sent = 0;
        if let Some(head) = self.outbox.queue.front().filter(|q| q.durable) {
            if let Err(e) = self.raw.propose(head.bytes.clone()) {
                super::console_log("debug", &format!("proposal {} waits: {e}", head.seq));
            }
        }
    }

    fn on_frame(&mut self, bytes: &[u8]) {
        match codec::decode_inbound(bytes) {
            Ok(Inbound::Frame { from, payload }) => match codec::decode_message(payload) {
                Ok(m) if m.from != u64::from(from) => super::console_log(
                    "warn",
                    &format!("dropping a message claiming to be from {} but sent by {from}", m.from),
                ),
                Ok(m) => {
                    if let Err(e) = self.raw.step(m) {
                        super::console_log("warn", &format!("refused a message from node {from}: {e}"));
                    }
                }
                Err(e) => super::console_log(
                    "warn",
                    &format!("ignoring an undecodable message from node {from}: {e}"),
                ),
            },
            Ok(Inbound::Presence(members)) => {
                // A peer whose connection closed is gone now, not after an
                // election timeout: if it led us, elect a new leader soon.
                for gone in self.view.online.iter().filter(|id| !members.contains(id)) {
                    self.raw.peer_gone(u64::from(*gone));
                }
                self.view.online = members;
                self.dirty = true;
            }
            Ok(Inbound::Notice(text)) => super::console_log("debug", &format!("relay: {text}")),
            Err(e) => super::console_log("warn", &format!("ignoring a malformed frame from the relay: {e}")),
        }
    }

    async fn process_ready(&mut self) -> Result<(), String> {
        while self.raw.has_ready() {
            let rd = self.raw.ready();
            // 1. Durable first: votes and acks below promise this data.
            self.store
                .save(rd.snapshot.as_ref(), rd.hard_state.as_ref(), &rd.entries)
                .await
                .map_err(|e| e.to_string())?;
            // 2. Then tell the others.
            if let Some(socket) = &self.socket {
                for m in &rd.messages {
                    let Ok(to) = u16::try_from(m.to) else {
                        continue;
                    };
                    socket.send(&codec::encode_outbound(to, &codec::encode_message(m)));
                }
            }
            // 3. Restore from an installed snapshot, then apply.
            if let Some(SnapshotUpdate::Installed { snapshot, .. }) = &rd.snapshot {
                self.machine = Machine::restore(&snapshot.data).map_err(|e| e.to_string())?;
                self.dirty = true;
            }
            let mut settled = false;
            for e in &rd.committed_entries {
                if let Payload::Command(bytes) = &e.payload {
                    let applied = self.machine.apply(e.index, bytes);
                    settled |= self.settle(applied.client, applied.result);
                }
            }
            if !rd.committed_entries.is_empty() || rd.snapshot.is_some() {
                self.refresh_events();
            }
            self.raw.advance(rd);
            // The next edit goes out only now: the core must not be given
            // input between `ready` and `advance`.
            if settled {
                self.propose_head();
            }
            // 4. Compact once the log has grown enough past the snapshot.
            let st = self.raw.status();
            if st.applied - st.snapshot_index >= SNAPSHOT_EVERY {
                if let Err(e) = self.raw.compact(st.applied, self.machine.snapshot()) {
                    super::console_log("warn", &format!("snapshot skipped: {e}"));
                }
            }
        }
        Ok(())
    }

    /// If `client` is the outbox head, it was applied: answer its submitter
    /// and return true (the caller proposes the next one after `advance`).
    fn settle(&mut self, client: Option<(u64, u64)>, result: Result<Outcome, Rejection>) -> bool {
        let head_seq = self.outbox.queue.front().map(|q| q.seq);
        if client.is_none() || client != head_seq.map(|s| (self.outbox.client, s)) {
            return false;
        }
        if let Some(done) = self.outbox.queue.pop_front() {
            self.outbox.settled.push(done.seq);
            match (done.reply, result) {
                (Some(reply), result) => {
                    let _ = reply.send(result);
                }
                (None, Err(rejection)) => {
                    self.view.notice = Some(format!(
                        "An edit saved earlier was refused by the cluster: {rejection}."
                    ));
                }
                (None, Ok(_)) => {}
            }
        }
        self.refresh_pending();
        true
    }

    /// Write new outbox items and forget settled ones, durably, then propose
    /// the head if it just became durable.
    async fn persist_outbox(&mut self) -> Result<(), String> {
        let add: Vec<(u64, Vec<u8>)> = self
            .outbox
            .queue
            .iter()
            .filter(|q| !q.durable)
            .map(|q| (q.seq, q.bytes.clone()))
            .collect();
        if add.is_empty() && self.outbox.settled.is_empty() {
            return Ok(());
        }
        let settled = std::mem::take(&mut self.outbox.settled);
        self.store
            .save_outbox(self.outbox.client, self.outbox.next_seq, &add, &settled)
            .await
            .map_err(|e| e.to_string())?;
        let head_was_new = self.outbox.queue.front().is_some_and(|q| !q.durable);
        for q in self.outbox.queue.iter_mut() {
            q.durable = true;
        }
        if head_was_new {
            self.propose_head();
        }
        Ok(())
    }

    fn refresh_pending(&mut self) {
        self.view.pending = self.outbox.queue.iter().map(|q| q.command.clone()).collect();
        self.dirty = true;
    }

    fn refresh_events(&mut self) {
        self.view.store = Rc::new(self.machine.store().clone());
        self.dirty = true;
    }

    /// Re-render only when something visible changed: ticks are 20 a second.
    fn publish_if_changed(&mut self) {
        if self.dirty || self.raw.status() != self.view.status {
            self.publish();
        }
    }

    fn publish(&mut self) {
        self.dirty = false;
        self.view.status = self.raw.status();
        (self.on_change)(Rc::new(self.view.clone()));
    }
}
