//! The driver: the one event loop of a browser node (like etcd's `node.go`;
//! everything else is synchronous). Inputs — ticks, frames, proposals,
//! socket events — arrive on one channel and are handled in order. For each
//! batch the loop takes the core's `Ready` and keeps its contract:
//! persist (await the strict IndexedDB transaction) → send → apply → advance.
//! While a write is in flight further inputs simply wait in the channel.

use std::collections::BTreeSet;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use gloo_timers::callback::Interval;

use super::idb::{IdbError, IdbStorage};
use super::locks::{claim_slot, LockError};
use super::socket::Socket;
use crate::calendar::{Calendar, Command};
use crate::raft::{Config, NodeId, Payload, ProposeError, RawNode, RestoreError, Status};
use crate::transport::codec::{self, Inbound};
use crate::view::View;

/// Milliseconds per Raft tick; `Config::new`'s tick counts assume 50 ms.
pub const TICK_MS: u32 = 50;

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
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Storage(#[from] IdbError),
    #[error("this node's stored state is inconsistent: {0}")]
    Restore(#[from] RestoreError),
    #[error("{0}")]
    Socket(String),
}

pub(crate) enum Input {
    Tick,
    Frame(Vec<u8>),
    Connected,
    Disconnected { code: u16, reason: String },
    Reconnect,
    Propose(Command, oneshot::Sender<Result<(), ProposeError>>),
}

/// The UI's handle on its node. Dropping it does not stop the node.
#[derive(Clone)]
pub struct NodeHandle {
    inputs: mpsc::UnboundedSender<Input>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("this node has stopped; reload the tab")]
    Stopped,
}

impl NodeHandle {
    /// Hand a command to Raft. `Ok` means it is on its way to the leader;
    /// it shows up in `View::events` once committed and applied.
    pub async fn submit(&self, command: Command) -> Result<(), SubmitError> {
        let (tx, rx) = oneshot::channel();
        self.inputs
            .unbounded_send(Input::Propose(command, tx))
            .map_err(|_| SubmitError::Stopped)?;
        rx.await
            .map_err(|_| SubmitError::Stopped)?
            .map_err(SubmitError::from)
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
pub async fn start(
    opts: BootOptions,
    on_change: impl Fn(Rc<View>) + 'static,
) -> Result<NodeHandle, BootError> {
    let remembered = session_storage()
        .and_then(|s| s.get_item(&session_slot_key(&opts.room)).ok().flatten())
        .and_then(|v| v.parse().ok());
    let slot = claim_slot(&opts.room, opts.cluster_size, opts.wanted_slot, remembered).await?;
    if let Some(s) = session_storage() {
        let _ = s.set_item(&session_slot_key(&opts.room), &slot.to_string());
    }
    let store = IdbStorage::open(&format!("raftcal/{}/node/{}", opts.room, slot)).await?;
    let persisted = store.load().await?;
    super::console_log(
        "info",
        &format!(
            "node {slot} of room {} resumes at term {} with {} entries (commit {})",
            opts.room,
            persisted.hard_state.term,
            persisted.entries.len(),
            persisted.hard_state.commit
        ),
    );
    let voters: Vec<NodeId> = (1..=u64::from(opts.cluster_size)).collect();
    let raw = RawNode::new(
        Config::new(u64::from(slot), voters),
        persisted.hard_state,
        persisted.entries,
        random_u64(),
    )?;
    let (tx, rx) = mpsc::unbounded();
    let url = format!("{}?room={}&node={}", opts.relay_url, opts.room, slot);
    let socket = Socket::connect(&url, tx.clone()).map_err(BootError::Socket)?;
    let ticker_tx = tx.clone();
    let ticker = Interval::new(TICK_MS, move || {
        let _ = ticker_tx.unbounded_send(Input::Tick);
    });
    let driver = Driver {
        raw,
        store,
        socket: Some(socket),
        url,
        inputs: tx.clone(),
        calendar: Calendar::default(),
        mine: BTreeSet::new(),
        reconnect_attempts: 0,
        dirty: true,
        view: View {
            room: opts.room,
            slot,
            status: Status {
                id: u64::from(slot),
                role: crate::raft::Role::Follower,
                term: 0,
                leader: None,
                commit: 0,
                applied: 0,
                last_index: 0,
            },
            events: vec![],
            connected: false,
            online: vec![],
            fault: None,
            last_rejection: None,
        },
        on_change: Box::new(on_change),
        _ticker: ticker,
    };
    wasm_bindgen_futures::spawn_local(driver.run(rx));
    Ok(NodeHandle { inputs: tx })
}

struct Driver {
    raw: RawNode,
    store: IdbStorage,
    socket: Option<Socket>,
    url: String,
    inputs: mpsc::UnboundedSender<Input>,
    calendar: Calendar,
    /// Ids of events this tab proposed changes to, so that a refusal is shown
    /// here and not in every tab.
    mine: BTreeSet<String>,
    reconnect_attempts: u32,
    view: View,
    /// `view` changed since it was last published.
    dirty: bool,
    on_change: Box<dyn Fn(Rc<View>)>,
    _ticker: Interval,
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
            if let Err(fault) = self.process_ready().await {
                super::console_log("error", &format!("node stopped: {fault}"));
                self.view.fault = Some(fault.to_string());
                self.view.connected = false;
                self.socket = None;
                self.publish();
                // Stop: acknowledging anything after a failed write could
                // promise peers data we do not have.
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
            Input::Tick => self.raw.tick(),
            Input::Frame(bytes) => self.on_frame(&bytes),
            Input::Propose(command, reply) => {
                let result = match command.validate() {
                    Err(rejection) => {
                        self.view.last_rejection = Some(rejection.to_string());
                        Ok(())
                    }
                    Ok(()) => {
                        self.mine.insert(command_id(&command).to_owned());
                        self.raw.propose(command.encode())
                    }
                };
                let _ = reply.send(result);
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
                    &format!(
                        "relay connection closed (code {code}: {reason}); retrying in {delay} ms"
                    ),
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
                    let _ = self
                        .inputs
                        .unbounded_send(Input::Disconnected { code: 0, reason: e });
                }
            },
        }
    }

    fn on_frame(&mut self, bytes: &[u8]) {
        match codec::decode_inbound(bytes) {
            Ok(Inbound::Frame { from, payload }) => match codec::decode_message(payload) {
                Ok(m) if m.from != u64::from(from) => super::console_log(
                    "warn",
                    &format!(
                        "dropping a message claiming to be from {} but sent by {from}",
                        m.from
                    ),
                ),
                Ok(m) => {
                    if let Err(e) = self.raw.step(m) {
                        super::console_log(
                            "warn",
                            &format!("refused a message from node {from}: {e}"),
                        );
                    }
                }
                Err(e) => super::console_log(
                    "warn",
                    &format!("ignoring an undecodable message from node {from}: {e}"),
                ),
            },
            Ok(Inbound::Presence(members)) => {
                self.view.online = members;
                self.dirty = true;
            }
            Ok(Inbound::Notice(text)) => super::console_log("debug", &format!("relay: {text}")),
            Err(e) => super::console_log(
                "warn",
                &format!("ignoring a malformed frame from the relay: {e}"),
            ),
        }
    }

    async fn process_ready(&mut self) -> Result<(), IdbError> {
        while self.raw.has_ready() {
            let rd = self.raw.ready();
            // 1. Durable first: votes and acks below promise this data.
            self.store.save(rd.hard_state.as_ref(), &rd.entries).await?;
            // 2. Then tell the others.
            if let Some(socket) = &self.socket {
                for m in &rd.messages {
                    let Ok(to) = u16::try_from(m.to) else {
                        continue;
                    };
                    socket.send(&codec::encode_outbound(to, &codec::encode_message(m)));
                }
            }
            // 3. Apply what is committed and durable.
            for e in &rd.committed_entries {
                if let Payload::Command(bytes) = &e.payload {
                    let decoded = Command::decode(bytes);
                    let id = decoded.as_ref().ok().map(|c| command_id(c).to_owned());
                    if let Err(rejection) = self.calendar.apply_bytes(bytes) {
                        super::console_log(
                            "info",
                            &format!("entry {} refused: {rejection}", e.index),
                        );
                        if id.is_some_and(|id| self.mine.contains(&id)) {
                            self.view.last_rejection = Some(rejection.to_string());
                        }
                    }
                }
            }
            if !rd.committed_entries.is_empty() {
                self.dirty = true;
                self.view.events = self.calendar.events().into_iter().cloned().collect();
            }
            self.raw.advance(rd);
        }
        Ok(())
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

fn command_id(command: &Command) -> &str {
    match command {
        Command::CreateEvent { id, .. } | Command::DeleteEvent { id, .. } => id,
    }
}
