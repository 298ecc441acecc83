//! One peer's connection: a writer task drains its bounded queue into the
//! socket; the reader checks and forwards each frame. A limit breach closes
//! only this connection, with a close code that says which limit. Either
//! side ending ends the connection, and the peer leaves its room.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use node_wasm::transport::codec::{self, WireId};
use tracing::{debug, info, warn};

use crate::metrics::Limit;
use crate::rooms::{ForwardError, JoinError};
use crate::{AppState, ConnGuard};

/// WebSocket close codes (RFC 6455 §7.4.1).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Messages per second with bursts: `burst` tokens, refilled at `rate`.
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub async fn serve(socket: WebSocket, state: Arc<AppState>, room: String, node: WireId) {
    let _counted = ConnGuard::new(state.metrics.clone());
    let (mut sink, mut stream) = socket.split();
    let limits = state.config.limits.clone();
    let (who, own, mut queue) = match state.rooms.join(&room, node) {
        Ok(j) => (j.membership, j.tx, j.rx),
        Err(e) => {
            info!(%room, node, "refused: {e}");
            let code = match e {
                JoinError::TooManyRooms { .. } => close_code::TRY_AGAIN_LATER,
                JoinError::Duplicate { .. } | JoinError::RoomFull { .. } => close_code::POLICY,
            };
            let _ = sink.send(close(code, &e.to_string())).await;
            return;
        }
    };
    info!(%room, node, "peer joined");
    // The reader also writes (notices, pings, close frames) through the same
    // queue (`own`), so the writer task stays the socket's only user and a
    // close frame goes out after everything queued before it.
    let metrics = state.metrics.clone();
    let writer = tokio::spawn(async move {
        while let Some(msg) = queue.recv().await {
            let closing = matches!(msg, Message::Close(_));
            if sink.send(msg).await.is_err() || closing {
                break;
            }
        }
        // Whatever is still queued will not be delivered: count it.
        let mut left = 0;
        while queue.try_recv().is_ok() {
            left += 1;
        }
        metrics.dropped_at_shutdown.fetch_add(left, Ordering::Relaxed);
    });

    let mut bucket = TokenBucket::new(limits.rate_per_second, limits.rate_burst);
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let mut stopping = state.stopping.clone();
    loop {
        let incoming = tokio::select! {
            incoming = stream.next() => incoming,
            _ = ping.tick() => {
                if last_heard.elapsed() >= limits.idle_timeout {
                    state.metrics.hit(Limit::Idle);
                    let reason = format!("idle for {} s", limits.idle_timeout.as_secs());
                    let _ = own.send(close(close_code::POLICY, &reason)).await;
                    break;
                }
                let _ = own.try_send(Message::Ping(Default::default()));
                continue;
            }
            _ = stopping.changed() => {
                let _ = own.send(close(close_code::GOING_AWAY, "relay shutting down")).await;
                break;
            }
        };
        let Some(incoming) = incoming else { break };
        let msg = match incoming {
            Ok(msg) => msg,
            Err(e) => {
                let text = e.to_string();
                debug!(%room, node, "read error: {text}");
                let (code, reason) = if text.contains("too long") || text.contains("too big") {
                    state.metrics.hit(Limit::FrameSize);
                    let reason = format!("frame larger than {} bytes", limits.max_frame_bytes);
                    (close_code::TOO_BIG, reason)
                } else {
                    (close_code::PROTOCOL_ERROR, "malformed WebSocket frame".to_owned())
                };
                let _ = own.send(close(code, &reason)).await;
                break;
            }
        };
        last_heard = Instant::now();
        if !matches!(msg, Message::Pong(_) | Message::Close(_)) && !bucket.take(last_heard) {
            state.metrics.hit(Limit::Rate);
            let reason = format!("more than {} messages per second", limits.rate_per_second);
            let _ = own.send(close(close_code::POLICY, &reason)).await;
            break;
        }
        match msg {
            Message::Binary(bytes) => match codec::decode_outbound(&bytes) {
                Ok(out) => match state.rooms.forward(&room, node, out.to, out.payload) {
                    Ok(()) => {}
                    Err(e @ (ForwardError::UnknownPeer(_) | ForwardError::ToSelf)) => {
                        state.metrics.dropped_unknown_peer.fetch_add(1, Ordering::Relaxed);
                        let _ = own.try_send(Message::Binary(codec::encode_notice(&e.to_string()).into()));
                    }
                },
                Err(e) => {
                    warn!(%room, node, "malformed envelope: {e}");
                    state.metrics.dropped_malformed.fetch_add(1, Ordering::Relaxed);
                    let reason = format!("malformed envelope: {e}");
                    let _ = own.send(close(close_code::PROTOCOL_ERROR, &reason)).await;
                    break;
                }
            },
            Message::Text(_) => {
                let reason = "text frames are not supported; send binary envelopes";
                let _ = own.send(close(close_code::UNSUPPORTED_DATA, reason)).await;
                break;
            }
            Message::Close(_) => break,
            // tungstenite answers pings itself; pongs only prove liveness.
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }

    state.rooms.leave(&room, who);
    info!(%room, node, "peer left");
    // Let the writer flush what is queued and the final close frame.
    drop(own);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}
