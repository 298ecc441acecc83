//! The RaftCal relay: a thin WebSocket forwarder. It never decides anything
//! and never parses Raft payloads; it reads the envelope header (see
//! `node_wasm::transport::codec`), stamps the sender from the connection,
//! and passes frames to the addressed peers of the same room. It is the one
//! server in the product and is exposed to anyone who can reach it, so every
//! resource it spends on a client is bounded.
//!
//! # Layout
//! - [`run`] (here): the accept loop — TLS, connection limit, handshake
//!   timeout, graceful shutdown — and the routes `/ws`, `/healthz`,
//!   `/metrics` and the built UI.
//! - `peer`: one WebSocket connection (rate limit, idle timeout, close codes).
//! - [`rooms`]: who is connected where, with a bounded queue per peer.
//! - [`metrics`]: counters in the Prometheus text format.
//! - `statics`: serving `dist/` with types, compression and cache headers.
//! - [`tls`]: loading a certificate and key.

pub mod metrics;
mod peer;
pub mod rooms;
mod statics;
pub mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tracing::{info, warn};

use metrics::{Limit, Metrics};
use rooms::{RoomLimits, Rooms};

/// Every bound the relay keeps. The defaults suit a RaftCal cluster: Raft
/// batches stay under 64 KiB and snapshots travel in 32 KiB chunks, so a
/// 256 KiB frame limit costs nothing (tungstenite's own defaults, 16 MiB
/// frames and 64 MiB messages, would let one client pin a lot of memory).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_frame_bytes: usize,
    /// Frames queued per peer before frames to it are dropped.
    pub peer_queue: usize,
    pub peers_per_room: usize,
    pub rooms: usize,
    pub connections: usize,
    /// Sustained messages per second per connection (token bucket)...
    pub rate_per_second: u32,
    /// ...and the burst above it.
    pub rate_burst: u32,
    /// A connection that sends nothing (not even a pong) this long is closed.
    pub idle_timeout: Duration,
    pub ping_interval: Duration,
    /// Time to finish TLS and the HTTP request head.
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 256 * 1024,
            peer_queue: 256,
            peers_per_room: 16,
            rooms: 1_000,
            connections: 4_096,
            rate_per_second: 200,
            rate_burst: 400,
            idle_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the relay can be told.
#[derive(Clone, Default)]
pub struct Config {
    /// The built UI (`trunk build` output).
    pub dist: PathBuf,
    /// If set, `/ws` requires `?token=<this>`.
    pub token: Option<String>,
    /// If set, serve HTTPS/WSS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub limits: Limits,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("dist", &self.dist)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
            .finish()
    }
}

/// Per-connection WebSocket read and write buffer.
const IO_BUFFER_BYTES: usize = 8 * 1024;

struct AppState {
    config: Config,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    /// Becomes `true` when the relay is shutting down.
    stopping: watch::Receiver<bool>,
}

/// Serve on `listener` until `shutdown` resolves, then close every peer with
/// 1001 "going away" and wait (up to 5 s) for them to go.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = config.limits.clone();
    let state = Arc::new(AppState {
        rooms: Rooms::new(
            RoomLimits {
                queue_len: limits.peer_queue,
                peers_per_room: limits.peers_per_room,
                rooms: limits.rooms,
            },
            metrics.clone(),
        ),
        metrics: metrics.clone(),
        stopping: stop_rx.clone(),
        config,
    });
    let app = router(state.clone());
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(ok) => ok,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, go on.
                        warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if metrics.connections.load(Ordering::Relaxed) >= limits.connections as u64 {
                    metrics.hit(Limit::Connections);
                    conns.spawn(refuse(stream));
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let guard = ConnGuard::new(metrics.clone());
                let (app, state) = (app.clone(), state.clone());
                conns.spawn(async move {
                    let _guard = guard;
                    let timeout = state.config.limits.handshake_timeout;
                    match state.config.tls.clone() {
                        None => serve_http(stream, app, state.stopping.clone(), timeout).await,
                        Some(tls) => {
                            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                            match tokio::time::timeout(timeout, accept).await {
                                Ok(Ok(tls_stream)) => serve_http(tls_stream, app, state.stopping.clone(), timeout).await,
                                Ok(Err(e)) => tracing::debug!(%addr, "TLS handshake failed: {e}"),
                                Err(_) => state.metrics.hit(Limit::Handshake),
                            }
                        }
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    info!("shutting down: closing every peer");
    let _ = stop_tx.send(true);
    let drain = async {
        while conns.join_next().await.is_some() {}
        // Upgraded WebSockets run outside `conns`; wait for them to leave.
        while metrics.peers.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), drain).await.is_err() {
        warn!("some connections did not close within 5 s");
    }
    conns.abort_all();
    Ok(())
}

/// Over the connection limit: say so in plain HTTP and hang up.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = "too many connections; try again later\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\nRetry-After: 5\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(response.as_bytes())).await;
}

/// Counts open connections for the limit and `/metrics`. An HTTP
/// connection holds one until it is served or upgraded; an upgraded
/// WebSocket holds its own for its whole life (`peer::serve`).
pub(crate) struct ConnGuard(Arc<Metrics>);

impl ConnGuard {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// HTTP/1.1 on one connection, with upgrades (WebSocket) and a bound on how
/// long the request head may take (slow-loris).
async fn serve_http<I>(io: I, app: Router, mut stopping: watch::Receiver<bool>, head_timeout: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopping.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    let statics = tower::ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .service(statics::service(&state.config.dist));
    Router::new()
        .route("/ws", get(ws_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_handler))
        .fallback_service(statics)
        .layer(axum::middleware::from_fn(statics::cache_headers))
        .with_state(state)
}

async fn metrics_handler(State(state): State<Arc<AppState>>) -> Response {
    let body = state.metrics.render(state.rooms.room_count());
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Debug, Deserialize)]
struct WsParams {
    room: Option<String>,
    node: Option<String>,
    token: Option<String>,
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

/// Compare secrets without an early exit on the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn ws_handler(
    State(state): State<Arc<AppState>>,
    Query(params): Query<WsParams>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(expected) = &state.config.token {
        if !params.token.as_deref().is_some_and(|t| same_secret(t, expected)) {
            state.metrics.hit(Limit::Token);
            return (StatusCode::UNAUTHORIZED, "missing or wrong access token (?token=...)\n").into_response();
        }
    }
    let (room, node) = match parse_params(params.room.as_deref(), params.node.as_deref()) {
        Ok(ok) => ok,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    if *state.stopping.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the relay is shutting down\n").into_response();
    }
    let max = state.config.limits.max_frame_bytes;
    // tungstenite's default 128 KiB read buffer per connection would be most
    // of an idle peer's memory; Raft frames are small (see `cargo xtask bench`).
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(IO_BUFFER_BYTES)
        .write_buffer_size(IO_BUFFER_BYTES)
        .on_upgrade(move |socket| peer::serve(socket, state, room, node))
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

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cret", "s3cres"));
        assert!(!same_secret("s3cret", "s3cret!"));
        assert!(!same_secret("", "x"));
    }
}
