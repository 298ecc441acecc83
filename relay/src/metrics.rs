//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which limit a connection or frame ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    FrameSize,
    Rate,
    RoomFull,
    Rooms,
    Connections,
    Duplicate,
    Idle,
    Token,
    Handshake,
}

impl Limit {
    pub const ALL: [Limit; 9] = [
        Limit::FrameSize,
        Limit::Rate,
        Limit::RoomFull,
        Limit::Rooms,
        Limit::Connections,
        Limit::Duplicate,
        Limit::Idle,
        Limit::Token,
        Limit::Handshake,
    ];

    fn label(self) -> &'static str {
        match self {
            Limit::FrameSize => "frame_size",
            Limit::Rate => "rate",
            Limit::RoomFull => "room_full",
            Limit::Rooms => "rooms",
            Limit::Connections => "connections",
            Limit::Duplicate => "duplicate_node",
            Limit::Idle => "idle",
            Limit::Token => "token",
            Limit::Handshake => "handshake",
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub peers: AtomicU64,
    pub frames_forwarded: AtomicU64,
    pub bytes_forwarded: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_unknown_peer: AtomicU64,
    pub dropped_malformed: AtomicU64,
    pub dropped_at_shutdown: AtomicU64,
    limit_hits: [AtomicU64; 9],
}

impl Metrics {
    pub fn hit(&self, limit: Limit) {
        let i = Limit::ALL.iter().position(|&l| l == limit).unwrap_or(0);
        self.limit_hits[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn limit_hits(&self, limit: Limit) -> u64 {
        let i = Limit::ALL.iter().position(|&l| l == limit).unwrap_or(0);
        self.limit_hits[i].load(Ordering::Relaxed)
    }

    /// Render every metric; `rooms` is read from the room table by the caller.
    pub fn render(&self, rooms: usize) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP raftcal_relay_{name} {help}\n# TYPE raftcal_relay_{name} {kind}\nraftcal_relay_{name} {value}"
            );
        };
        gauge("connections", "Open TCP connections.", "gauge", get(&self.connections));
        gauge("peers", "Peers joined to a room.", "gauge", get(&self.peers));
        gauge("rooms", "Rooms with at least one peer.", "gauge", rooms as u64);
        gauge(
            "frames_forwarded_total",
            "Frames delivered to a peer's queue.",
            "counter",
            get(&self.frames_forwarded),
        );
        gauge(
            "bytes_forwarded_total",
            "Payload bytes delivered to peers' queues.",
            "counter",
            get(&self.bytes_forwarded),
        );
        let _ = writeln!(
            out,
            "# HELP raftcal_relay_frames_dropped_total Frames not delivered, by reason.\n# TYPE raftcal_relay_frames_dropped_total counter"
        );
        for (reason, c) in [
            ("queue_full", &self.dropped_queue_full),
            ("unknown_peer", &self.dropped_unknown_peer),
            ("malformed", &self.dropped_malformed),
            ("shutdown", &self.dropped_at_shutdown),
        ] {
            let _ = writeln!(
                out,
                "raftcal_relay_frames_dropped_total{{reason=\"{reason}\"}} {}",
                get(c)
            );
        }
        let _ = writeln!(
            out,
            "# HELP raftcal_relay_limit_hits_total Connections or frames refused by a limit.\n# TYPE raftcal_relay_limit_hits_total counter"
        );
        for limit in Limit::ALL {
            let _ = writeln!(
                out,
                "raftcal_relay_limit_hits_total{{limit=\"{}\"}} {}",
                limit.label(),
                self.limit_hits(limit)
            );
        }
        out
    }
}
