//! `raftcal-relay`: parse flags, set up logging, serve until Ctrl-C/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Largest WebSocket message accepted, in bytes.
    #[arg(long, default_value_t = relay::Config::default().max_frame_bytes)]
    max_frame_bytes: usize,
    /// Frames queued per peer before frames to it are dropped.
    #[arg(long, default_value_t = relay::Config::default().peer_queue)]
    peer_queue: usize,
    /// Peers allowed in one room.
    #[arg(long, default_value_t = relay::Config::default().max_peers_per_room)]
    max_peers_per_room: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    if !args.dist.join("index.html").is_file() {
        tracing::warn!(
            "{} has no index.html: build the UI first (`cargo xtask run` does)",
            args.dist.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("RaftCal is running. Open http://{addr}/ in three tabs (Ctrl-C stops the relay).");
    let config = relay::Config {
        dist: args.dist,
        max_frame_bytes: args.max_frame_bytes,
        peer_queue: args.peer_queue,
        max_peers_per_room: args.max_peers_per_room,
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
