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

    let relay_run = rt.block_on(load(&relay.addr, true));
    let echo_run = rt.block_on(load(&echo.addr, false));
    println!("{ROOMS} rooms x 3 peers, {FRAMES_PER_PEER} frames of {PAYLOAD} B per peer:");
    println!(
        "  relay:    {:>9.0} frames/s   p50 {:>6.0} us   p99 {:>6.0} us",
        relay_run.rate, relay_run.p50, relay_run.p99
    );
    println!(
        "  echo:     {:>9.0} frames/s   p50 {:>6.0} us   p99 {:>6.0} us",
        echo_run.rate, echo_run.p50, echo_run.p99
    );
    println!(
        "  relay/echo: throughput {:.2}x, p50 latency {:.2}x, p99 latency {:.2}x",
        relay_run.rate / echo_run.rate,
        relay_run.p50 / echo_run.p50,
        relay_run.p99 / echo_run.p99
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
    let url = if relay {
        format!("ws://{addr}/ws?room=r{room}&node={node}")
    } else {
        format!("ws://{addr}/")
    };
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

struct Run {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// Every peer sends `FRAMES_PER_PEER` stamped frames, one at a time: through
/// the relay to the next peer of its room, or to the echo server and back.
async fn load(addr: &str, relay: bool) -> Run {
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
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
                tx
            });
            let mut latencies = Vec::with_capacity(FRAMES_PER_PEER);
            while latencies.len() < FRAMES_PER_PEER {
                let Some(Ok(Message::Binary(bytes))) = rx.next().await else {
                    continue;
                };
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
            }
            let _tx = sender.await.unwrap();
            latencies
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Run {
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
