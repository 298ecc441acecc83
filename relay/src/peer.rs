//! One peer's connection: a writer task drains its bounded queue into the
//! socket; the reader forwards each frame it receives. Either side ending
//! ends the connection, and the peer leaves its room.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use node_wasm::transport::codec::{self, WireId};
use tracing::{debug, info, warn};

use crate::rooms::ForwardError;
use crate::AppState;

/// WebSocket close codes (RFC 6455 §7.4.1).
pub mod close_code {
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

pub async fn serve(socket: WebSocket, state: Arc<AppState>, room: String, node: WireId) {
    let (mut sink, mut stream) = socket.split();
    let (who, own, mut queue) = match state.rooms.join(&room, node) {
        Ok(j) => (j.membership, j.tx, j.rx),
        Err(e) => {
            info!(%room, node, "refused: {e}");
            let _ = sink.send(close(close_code::POLICY, &e.to_string())).await;
            return;
        }
    };
    info!(%room, node, "peer joined");
    // The reader also writes (notices, close frames) through the same
    // queue (`own`), so the writer task stays the socket's only user.
    let writer = tokio::spawn(async move {
        while let Some(msg) = queue.recv().await {
            let closing = matches!(msg, Message::Close(_));
            if sink.send(msg).await.is_err() || closing {
                break;
            }
        }
    });

    while let Some(incoming) = stream.next().await {
        let msg = match incoming {
            Ok(msg) => msg,
            Err(e) => {
                let text = e.to_string();
                debug!(%room, node, "read error: {text}");
                let code = if text.contains("too long") || text.contains("too big") {
                    close_code::TOO_BIG
                } else {
                    close_code::PROTOCOL_ERROR
                };
                let _ = own.send(close(code, "frame too large or malformed")).await;
                break;
            }
        };
        match msg {
            Message::Binary(bytes) => match codec::decode_outbound(&bytes) {
                Ok(out) => match state.rooms.forward(&room, node, out.to, out.payload) {
                    Ok(()) => {}
                    Err(e @ (ForwardError::UnknownPeer(_) | ForwardError::ToSelf)) => {
                        let _ = own.try_send(Message::Binary(codec::encode_notice(&e.to_string()).into()));
                    }
                },
                Err(e) => {
                    warn!(%room, node, "malformed envelope: {e}");
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
            // axum answers pings itself.
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }

    state.rooms.leave(&room, who);
    info!(%room, node, "peer left");
    // Let the writer flush a final close frame, if one was queued.
    drop(own);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
}
