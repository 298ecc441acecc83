//! The RaftCal relay: a thin WebSocket forwarder. It never decides anything
//! and never parses Raft payloads; it reads the envelope header (see
//! `node_wasm::transport::codec`), stamps the sender from the connection,
//! and passes frames to the addressed peers of the same room.
//!
//! # Layout
//! - [`rooms`]: who is connected where, with a bounded queue per peer.
//! - `peer`: one WebSocket connection's read and write loops.
//! - [`run`]: the HTTP server — `/ws`, `/healthz`, and the built UI.

mod peer;
pub mod rooms;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};

use rooms::Rooms;

/// Everything the relay can be told.
#[derive(Debug, Clone)]
pub struct Config {
    /// The built UI (`trunk build` output).
    pub dist: PathBuf,
    /// Largest WebSocket message accepted; Raft batches stay far below it.
    pub max_frame_bytes: usize,
    /// Frames queued per peer before further frames to it are dropped.
    pub peer_queue: usize,
    /// Peers per room.
    pub max_peers_per_room: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dist: PathBuf::from("dist"),
            max_frame_bytes: 1 << 20,
            peer_queue: 256,
            max_peers_per_room: 16,
        }
    }
}

struct AppState {
    config: Config,
    rooms: Rooms,
}

/// Serve until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let index = config.dist.join("index.html");
    let statics = ServeDir::new(&config.dist).fallback(ServeFile::new(index));
    let state = Arc::new(AppState {
        rooms: Rooms::new(config.peer_queue, config.max_peers_per_room),
        config,
    });
    let app = Router::new()
        .route("/ws", get(ws_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback_service(statics)
        .with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[derive(Debug, Deserialize)]
struct WsParams {
    room: Option<String>,
    node: Option<String>,
}

/// Why a connection request is refused before the WebSocket opens.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("missing query parameter `room` (expected /ws?room=<name>&node=<n>)")]
    MissingRoom,
    #[error("missing query parameter `node` (expected /ws?room=<name>&node=<n>)")]
    MissingNode,
    #[error("room names are 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'")]
    BadRoom,
    #[error("node must be a number from 1 to 65535")]
    BadNode,
}

/// Check `?room=&node=`: a room name and a 16-bit, non-zero node id.
pub fn parse_params(room: Option<&str>, node: Option<&str>) -> Result<(String, u16), ParamError> {
    let room = room.ok_or(ParamError::MissingRoom)?;
    let node = node.ok_or(ParamError::MissingNode)?;
    let room_ok = (1..=64).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !room_ok {
        return Err(ParamError::BadRoom);
    }
    match node.parse::<u16>() {
        Ok(n) if n > 0 => Ok((room.to_owned(), n)),
        _ => Err(ParamError::BadNode),
    }
}

async fn ws_handler(
    State(state): State<Arc<AppState>>,
    Query(params): Query<WsParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let (room, node) = match parse_params(params.room.as_deref(), params.node.as_deref()) {
        Ok(ok) => ok,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let max = state.config.max_frame_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| peer::serve(socket, state.clone(), room, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        assert_eq!(parse_params(Some("default"), Some("2")), Ok(("default".into(), 2)));
        assert_eq!(parse_params(None, Some("2")), Err(ParamError::MissingRoom));
        assert_eq!(parse_params(Some("a"), None), Err(ParamError::MissingNode));
        assert_eq!(parse_params(Some(""), Some("1")), Err(ParamError::BadRoom));
        assert_eq!(parse_params(Some("a b"), Some("1")), Err(ParamError::BadRoom));
        assert_eq!(parse_params(Some(&"x".repeat(65)), Some("1")), Err(ParamError::BadRoom));
        assert_eq!(parse_params(Some("a"), Some("0")), Err(ParamError::BadNode));
        assert_eq!(parse_params(Some("a"), Some("70000")), Err(ParamError::BadNode));
        assert_eq!(parse_params(Some("a"), Some("x")), Err(ParamError::BadNode));
    }
}
