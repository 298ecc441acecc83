//! `raftcal-relay`: parse flags, set up logging, serve until Ctrl-C/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Forward RaftCal frames between the tabs of a room, and serve the UI.
#[derive(Debug, Parser)]
#[command(name = "raftcal-relay", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory with the built UI (`trunk build` output).
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// Require `?token=<T>` on every WebSocket connection (open the UI with the same `?token=`).
    #[arg(long, env = "RAFTCAL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve HTTPS/WSS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest WebSocket frame or message accepted, in bytes (closes with 1009 above it).
    #[arg(long, default_value_t = relay::Limits::default().max_frame_bytes)]
    max_frame_bytes: usize,
    /// Frames queued per peer before frames to it are dropped.
    #[arg(long, default_value_t = relay::Limits::default().peer_queue)]
    peer_queue: usize,
    /// Peers allowed in one room.
    #[arg(long, default_value_t = relay::Limits::default().peers_per_room)]
    max_peers_per_room: usize,
    /// Rooms allowed at once.
    #[arg(long, default_value_t = relay::Limits::default().rooms)]
    max_rooms: usize,
    /// Open connections allowed at once (more get HTTP 503).
    #[arg(long, default_value_t = relay::Limits::default().connections)]
    max_connections: usize,
    /// Messages per second a connection may send, sustained (closes with 1008 above it).
    #[arg(long, default_value_t = relay::Limits::default().rate_per_second)]
    rate: u32,
    /// Messages a connection may send in a burst above --rate.
    #[arg(long, default_value_t = relay::Limits::default().rate_burst)]
    burst: u32,
    /// Seconds without any frame (or pong) before a connection is closed.
    #[arg(long, default_value_t = relay::Limits::default().idle_timeout.as_secs())]
    idle_timeout_secs: u64,
    /// Seconds between pings to each peer.
    #[arg(long, default_value_t = relay::Limits::default().ping_interval.as_secs())]
    ping_interval_secs: u64,
    /// Seconds allowed for the TLS handshake and the HTTP request head.
    #[arg(long, default_value_t = relay::Limits::default().handshake_timeout.as_secs())]
    handshake_timeout_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    anyhow::ensure!(args.max_frame_bytes >= 1024, "--max-frame-bytes must be at least 1024");
    anyhow::ensure!(args.rate > 0 && args.burst > 0, "--rate and --burst must be at least 1");
    anyhow::ensure!(args.ping_interval_secs > 0, "--ping-interval-secs must be at least 1");
    anyhow::ensure!(
        args.peer_queue > 0 && args.max_peers_per_room > 0 && args.max_rooms > 0 && args.max_connections > 0,
        "queue, peer, room and connection limits must be at least 1"
    );
    if !args.dist.join("index.html").is_file() {
        tracing::warn!(
            "{} has no index.html: build the UI first (`cargo xtask run` does)",
            args.dist.display()
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(relay::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let token = args.token.as_deref().map(|t| format!("?token={t}")).unwrap_or_default();
    println!("RaftCal is running. Open {scheme}://{addr}/{token} in three tabs (Ctrl-C stops the relay).");
    let config = relay::Config {
        dist: args.dist,
        token: args.token,
        tls,
        limits: relay::Limits {
            max_frame_bytes: args.max_frame_bytes,
            peer_queue: args.peer_queue,
            peers_per_room: args.max_peers_per_room,
            rooms: args.max_rooms,
            connections: args.max_connections,
            rate_per_second: args.rate,
            rate_burst: args.burst,
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            ping_interval: Duration::from_secs(args.ping_interval_secs),
            handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
        },
    };
    relay::run(listener, config, shutdown_signal()).await?;
    tracing::info!("relay stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
