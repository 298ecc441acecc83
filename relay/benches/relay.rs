//! Relay benchmark (`cargo xtask bench`): frames per second and added
//! latency through the relay — many rooms of three peers — side by side with
//! a bare tokio-tungstenite echo server as the baseline, both in their own
//! processes; and memory per idle connection of each.
//!
//! The same path is measured for both: client → server → client, one hop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use node_wasm::transport::codec::{self, Inbound};
use tokio_tungstenite::tungstenite::Message;

const ROOMS: usize = 100;
const FRAMES_PER_PEER: usize = 200;
const PAYLOAD: usize = 100;
const IDLE: usize = 1000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--echo-server") {
        return echo_server();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dist = std::env::temp_dir().join("raftcal-bench-dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "bench").unwrap();
    let mut relay = Server::spawn(
        Command::new(env!("CARGO_BIN_EXE_raftcal-relay"))
            .args(["--listen", "127.0.0.1:0", "--rate", "1000000", "--burst", "1000000"])
            .args([
                "--max-connections",
                "100000",
                "--max-rooms",
                "100000",
                "--peer-queue",
                "4096",
            ])
            .arg("--dist")
            .arg(&dist)
            .env("RUST_LOG", "warn"),
    );
    let mut echo = Server::spawn(Command::new(std::env::current_exe().unwrap()).arg("--echo-server"));

    // Saturation: every peer sends as fast as it can.
    let relay_max = rt.block_on(load(&relay.addr, true, None));
    let echo_max = rt.block_on(load(&echo.addr, false, None));
    // Latency under a steady, moderate load: a frame every 20 ms per peer.
    let pace = Some(Duration::from_millis(20));
    let relay_lat = rt.block_on(load(&relay.addr, true, pace));
    let echo_lat = rt.block_on(load(&echo.addr, false, pace));
    println!("{ROOMS} rooms x 3 peers, {FRAMES_PER_PEER} frames of {PAYLOAD} B per peer, client -> server -> client:");
    println!(
        "  throughput at saturation: relay {:.0} frames/s ({} dropped for full queues), echo {:.0} frames/s (relay/echo {:.2}x)",
        relay_max.rate,
        relay_max.lost,
        echo_max.rate,
        relay_max.rate / echo_max.rate
    );
    println!(
        "  latency at {:.0} frames/s: relay p50 {:.0} us p99 {:.0} us, echo p50 {:.0} us p99 {:.0} us (relay/echo p50 {:.2}x, p99 {:.2}x)",
        relay_lat.rate,
        relay_lat.p50,
        relay_lat.p99,
        echo_lat.p50,
        echo_lat.p99,
        relay_lat.p50 / echo_lat.p50,
        relay_lat.p99 / echo_lat.p99
    );

    let relay_mem = rt.block_on(idle_memory(&mut relay, true));
    let echo_mem = rt.block_on(idle_memory(&mut echo, false));
    println!(
        "memory per idle connection ({IDLE} connections): relay {:.1} KiB, echo {:.1} KiB ({:.2}x)",
        relay_mem / 1024.0,
        echo_mem / 1024.0,
        relay_mem / echo_mem
    );
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Start a server that prints its address on its first stdout line.
    fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://").or(w.strip_prefix("ws://")))
            .map(|w| w.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, addr }
    }

    fn rss_bytes(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb * 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(addr: &str, relay: bool, room: usize, node: usize) -> Ws {
    // Every run uses fresh room names: the previous run's peers may still be
    // leaving, and the relay refuses a second live connection per node.
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = if node == 1 && room == 0 {
        RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    } else {
        RUN.load(std::sync::atomic::Ordering::Relaxed)
    };
    let url = if relay {
        format!("ws://{addr}/ws?room=run{run}-r{room}&node={node}")
    } else {
        format!("ws://{addr}/")
    };
    // Browsers send WebSocket frames without Nagle's delay; so do we.
    tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap()
        .0
}

struct Run {
    /// Frames that never arrived (dropped by a full peer queue).
    lost: usize,
    rate: f64,
    p50: f64,
    p99: f64,
}

/// Every peer sends `FRAMES_PER_PEER` stamped frames (paced, or as fast as
/// it can): through
/// the relay to the next peer of its room, or to the echo server and back.
async fn load(addr: &str, relay: bool, pace: Option<Duration>) -> Run {
    let epoch = Instant::now();
    let mut peers = vec![];
    for room in 0..ROOMS {
        for node in 1..=3 {
            peers.push(open(addr, relay, room, node).await);
        }
    }
    // Let presence settle before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut tasks = vec![];
    for (i, ws) in peers.into_iter().enumerate() {
        let node = (i % 3 + 1) as u16;
        let next = node % 3 + 1;
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let sender = tokio::spawn(async move {
                for _ in 0..FRAMES_PER_PEER {
                    let mut payload = vec![0u8; PAYLOAD];
                    payload[..16].copy_from_slice(&epoch.elapsed().as_nanos().to_le_bytes());
                    let frame = if relay {
                        codec::encode_outbound(next, &payload)
                    } else {
                        payload
                    };
                    tx.send(Message::Binary(frame.into())).await.unwrap();
                    match pace {
                        Some(p) => tokio::time::sleep(p).await,
                        None => tokio::task::yield_now().await,
                    }
                }
                tx
            });
            // The relay drops frames for a peer whose queue is full (it never
            // blocks a room), so stop after a quiet second instead of waiting
            // for every frame.
            let mut latencies = Vec::with_capacity(FRAMES_PER_PEER);
            let mut last = Instant::now();
            while latencies.len() < FRAMES_PER_PEER {
                let next = match tokio::time::timeout(Duration::from_secs(1), rx.next()).await {
                    Ok(Some(Ok(msg))) => msg,
                    Ok(_) | Err(_) => break,
                };
                let Message::Binary(bytes) = next else { continue };
                let payload = if relay {
                    match codec::decode_inbound(&bytes) {
                        Ok(Inbound::Frame { payload, .. }) => payload.to_vec(),
                        _ => continue,
                    }
                } else {
                    bytes.to_vec()
                };
                let sent = u128::from_le_bytes(payload[..16].try_into().unwrap());
                latencies.push((epoch.elapsed().as_nanos() - sent) as f64 / 1000.0);
                last = Instant::now();
            }
            let _tx = sender.await.unwrap();
            (latencies, last)
        }));
    }
    let mut all = vec![];
    let mut finished = started;
    for t in tasks {
        let (latencies, last) = t.await.unwrap();
        all.extend(latencies);
        finished = finished.max(last);
    }
    let elapsed = finished.duration_since(started).as_secs_f64();
    let sent = ROOMS * 3 * FRAMES_PER_PEER;
    all.sort_by(|a, b| a.total_cmp(b));
    Run {
        lost: sent - all.len(),
        rate: all.len() as f64 / elapsed,
        p50: all[all.len() / 2],
        p99: all[all.len() * 99 / 100],
    }
}

async fn idle_memory(server: &mut Server, relay: bool) -> f64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_bytes();
    let mut conns = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        conns.push(open(&server.addr, relay, 100_000 + i, 1).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.rss_bytes();
    drop(conns);
    (after - before) / IDLE as f64
}

/// The baseline: a bare tokio-tungstenite server that echoes binary frames.
fn echo_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("echo listening on ws://{}/", listener.local_addr().unwrap());
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_binary() && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
}
