//! Rooms → peers → one bounded queue per peer.
//!
//! Forwarding never waits on a peer: a full queue means the peer is slow,
//! and its frame is dropped (and counted). Raft retransmits; a slow tab must
//! never stall the others in its room.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::ws::Message;
use node_wasm::transport::codec::{self, WireId, BROADCAST};
use tokio::sync::mpsc;

use crate::metrics::{Limit, Metrics};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("node {node} is already connected to room \"{room}\"")]
    Duplicate { room: String, node: WireId },
    #[error("room \"{room}\" is full ({max} peers)")]
    RoomFull { room: String, max: usize },
    #[error("the relay has reached its limit of {max} rooms")]
    TooManyRooms { max: usize },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    #[error("node {0} is not connected to this room")]
    UnknownPeer(WireId),
    #[error("a peer cannot address itself")]
    ToSelf,
}

struct Peer {
    /// Distinguishes this connection from a later one with the same node id.
    conn: u64,
    tx: mpsc::Sender<Message>,
}

/// The membership of one connection, returned by `join`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub node: WireId,
    pub conn: u64,
}

/// A joined peer's queue: a sender for its own control frames, and the
/// receiver its writer drains.
pub struct Joined {
    pub membership: Membership,
    pub tx: mpsc::Sender<Message>,
    pub rx: mpsc::Receiver<Message>,
}

/// Limits on the room table.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    pub queue_len: usize,
    pub peers_per_room: usize,
    pub rooms: usize,
}

pub struct Rooms {
    rooms: Mutex<HashMap<String, BTreeMap<WireId, Peer>>>,
    limits: RoomLimits,
    next_conn: AtomicU64,
    metrics: Arc<Metrics>,
}

impl Rooms {
    pub fn new(limits: RoomLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            limits,
            next_conn: AtomicU64::new(1),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<WireId, Peer>>> {
        // A panic elsewhere while holding the lock leaves plain data behind:
        // keep serving rather than take every room down.
        self.rooms.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Add a peer; the first live connection for a (room, node) wins.
    pub fn join(&self, room: &str, node: WireId) -> Result<Joined, JoinError> {
        let mut rooms = self.lock();
        if !rooms.contains_key(room) && rooms.len() >= self.limits.rooms {
            self.metrics.hit(Limit::Rooms);
            return Err(JoinError::TooManyRooms { max: self.limits.rooms });
        }
        let peers = rooms.entry(room.to_owned()).or_default();
        if peers.contains_key(&node) {
            self.metrics.hit(Limit::Duplicate);
            return Err(JoinError::Duplicate {
                room: room.to_owned(),
                node,
            });
        }
        if peers.len() >= self.limits.peers_per_room {
            self.metrics.hit(Limit::RoomFull);
            return Err(JoinError::RoomFull {
                room: room.to_owned(),
                max: self.limits.peers_per_room,
            });
        }
        let (tx, rx) = mpsc::channel(self.limits.queue_len);
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        peers.insert(node, Peer { conn, tx: tx.clone() });
        self.metrics.peers.fetch_add(1, Ordering::Relaxed);
        announce(peers);
        Ok(Joined {
            membership: Membership { node, conn },
            tx,
            rx,
        })
    }

    /// Remove a peer (only the very connection that joined) and tell the room.
    pub fn leave(&self, room: &str, who: Membership) {
        let mut rooms = self.lock();
        let Some(peers) = rooms.get_mut(room) else { return };
        if peers.get(&who.node).is_some_and(|p| p.conn == who.conn) {
            peers.remove(&who.node);
            self.metrics.peers.fetch_sub(1, Ordering::Relaxed);
            announce(peers);
        }
        if peers.is_empty() {
            rooms.remove(room);
        }
    }

    /// Forward `payload` from `from` to `to` (or to every other peer for
    /// `BROADCAST`), stamping the sender.
    pub fn forward(&self, room: &str, from: WireId, to: WireId, payload: &[u8]) -> Result<(), ForwardError> {
        if to == from {
            return Err(ForwardError::ToSelf);
        }
        let frame = Message::Binary(Bytes::from(codec::encode_frame(from, payload)));
        let rooms = self.lock();
        let Some(peers) = rooms.get(room) else {
            return Err(ForwardError::UnknownPeer(to));
        };
        if to == BROADCAST {
            for (_, peer) in peers.iter().filter(|(&id, _)| id != from) {
                self.offer(peer, frame.clone(), payload.len());
            }
            return Ok(());
        }
        let peer = peers.get(&to).ok_or(ForwardError::UnknownPeer(to))?;
        self.offer(peer, frame, payload.len());
        Ok(())
    }

    fn offer(&self, peer: &Peer, frame: Message, bytes: usize) {
        if peer.tx.try_send(frame).is_ok() {
            self.metrics.frames_forwarded.fetch_add(1, Ordering::Relaxed);
            self.metrics.bytes_forwarded.fetch_add(bytes as u64, Ordering::Relaxed);
        } else {
            self.metrics.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn room_count(&self) -> usize {
        self.lock().len()
    }
}

/// Tell every peer of a room who is in it now.
fn announce(peers: &BTreeMap<WireId, Peer>) {
    let members: Vec<WireId> = peers.keys().copied().collect();
    let frame = Message::Binary(Bytes::from(codec::encode_presence(&members)));
    for peer in peers.values() {
        // Presence is advisory: a full queue may miss one, the next fixes it.
        let _ = peer.tx.try_send(frame.clone());
    }
}
