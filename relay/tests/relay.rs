//! The relay against real WebSocket clients on 127.0.0.1:0: forwarding,
//! presence, every limit (each closes only the offender), token, TLS,
//! static files, metrics and graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use node_wasm::transport::codec::{self, Inbound};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Relay {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    _dist: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dist() -> TempDir {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("raftcal-relay-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<html>RaftCal</html>").unwrap();
    std::fs::write(dir.join("ui-50bfbf66e497109a_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("ui-50bfbf66e497109a.js"), "export const x = 1;\n".repeat(200)).unwrap();
    TempDir(dir)
}

async fn start_with(configure: impl FnOnce(&mut relay::Config)) -> Relay {
    let dist = dist();
    let mut config = relay::Config {
        dist: dist.0.clone(),
        ..Default::default()
    };
    configure(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(relay::run(listener, config, async {
        let _ = stopped.await;
    }));
    Relay {
        addr,
        stop: Some(stop),
        done,
        _dist: dist,
    }
}

async fn start_relay() -> Relay {
    start_with(|_| {}).await
}

async fn connect(relay: &Relay, room: &str, node: u16) -> Ws {
    let url = format!("ws://{}/ws?room={room}&node={node}", relay.addr);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next message, or panic after a few seconds.
async fn next(ws: &mut Ws) -> Message {
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("timed out waiting for a frame")
        .expect("stream ended")
        .expect("read error")
}

/// The next relay frame that is not a presence update.
async fn next_non_presence(ws: &mut Ws) -> Vec<u8> {
    loop {
        match next(ws).await {
            Message::Binary(b) if matches!(codec::decode_inbound(&b), Ok(Inbound::Presence(_))) => continue,
            Message::Binary(b) => return b.to_vec(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The next presence update.
async fn next_presence(ws: &mut Ws) -> Vec<u16> {
    loop {
        if let Message::Binary(b) = next(ws).await {
            if let Ok(Inbound::Presence(m)) = codec::decode_inbound(&b) {
                return m;
            }
        }
    }
}

/// Read presence updates until the room is `want`. Peers that connect at
/// nearly the same time may be registered in either order, so a reader can
/// see an intermediate room first.
async fn presence_reaches(ws: &mut Ws, want: &[u16]) {
    loop {
        if next_presence(ws).await == want {
            return;
        }
    }
}

async fn send(ws: &mut Ws, to: u16, payload: &[u8]) {
    ws.send(Message::Binary(codec::encode_outbound(to, payload).into()))
        .await
        .unwrap();
}

async fn expect_close(ws: &mut Ws, code: CloseCode) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no close in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, code, "close reason: {}", frame.reason);
                return frame.reason.to_string();
            }
            Some(Ok(Message::Close(None))) => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame with {code:?}, got {other:?}"),
        }
    }
}

/// `from` can still reach `to` (frames sent earlier may arrive first).
async fn assert_flows(from: &mut Ws, from_id: u16, to: &mut Ws, payload: &[u8]) {
    send(from, 0, payload).await; // broadcast: whoever else is there
    loop {
        let got = next_non_presence(to).await;
        if codec::decode_inbound(&got).unwrap() == (Inbound::Frame { from: from_id, payload }) {
            return;
        }
    }
}

/// The connection ends: with a close frame (its reason returned) or, if the
/// relay's close raced our own writes, with the socket shut.
async fn expect_closed(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("still open")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.reason.to_string()),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// A raw HTTP/1.1 GET: (status code, lower-cased head, body).
async fn get(relay: &Relay, path: &str, extra_headers: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(relay.addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra_headers}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

async fn metric(relay: &Relay, line_start: &str) -> u64 {
    let (_, _, body) = get(relay, "/metrics", "").await;
    let body = String::from_utf8(body).unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(line_start).map(|v| v.trim().parse().unwrap()))
        .unwrap_or_else(|| panic!("no metric {line_start} in\n{body}"))
}

/// A frame reaches only its addressee, stamped with the real sender, even
/// when the payload claims otherwise (the relay never reads payloads).
#[tokio::test]
async fn forwards_to_the_addressee_and_stamps_the_sender() {
    let relay = start_relay().await;
    let mut a = connect(&relay, "r1", 1).await;
    let mut b = connect(&relay, "r1", 2).await;
    let mut c = connect(&relay, "r1", 3).await;
    presence_reaches(&mut c, &[1, 2, 3]).await;
    send(&mut a, 2, b"from 3, honest").await;
    let got = next_non_presence(&mut b).await;
    assert_eq!(
        codec::decode_inbound(&got).unwrap(),
        Inbound::Frame {
            from: 1,
            payload: b"from 3, honest"
        }
    );
    // Broadcast reaches everyone else, not the sender.
    send(&mut c, 0, b"all").await;
    for ws in [&mut a, &mut b] {
        let got = next_non_presence(ws).await;
        assert_eq!(
            codec::decode_inbound(&got).unwrap(),
            Inbound::Frame {
                from: 3,
                payload: b"all"
            }
        );
    }
}

/// Rooms are separate: a frame never crosses into another room.
#[tokio::test]
async fn rooms_do_not_leak_into_each_other() {
    let relay = start_relay().await;
    let mut a = connect(&relay, "left", 1).await;
    let mut other = connect(&relay, "right", 2).await;
    send(&mut a, 2, b"x").await;
    let notice = next_non_presence(&mut a).await;
    assert!(matches!(codec::decode_inbound(&notice), Ok(Inbound::Notice(t)) if t.contains("not connected")));
    assert_eq!(next_presence(&mut other).await, vec![2]);
    assert!(tokio::time::timeout(Duration::from_millis(300), other.next())
        .await
        .is_err());
}

/// Presence: everyone learns who joined and who left.
#[tokio::test]
async fn presence_follows_joins_and_leaves() {
    let relay = start_relay().await;
    let mut a = connect(&relay, "p", 1).await;
    assert_eq!(next_presence(&mut a).await, vec![1]);
    let b = connect(&relay, "p", 2).await;
    assert_eq!(next_presence(&mut a).await, vec![1, 2]);
    drop(b);
    assert_eq!(next_presence(&mut a).await, vec![1]);
}

/// A second connection for a live node is refused with a reason; the first
/// keeps working.
#[tokio::test]
async fn duplicate_node_is_refused_and_the_first_keeps_working() {
    let relay = start_relay().await;
    let mut first = connect(&relay, "d", 1).await;
    let mut other = connect(&relay, "d", 2).await;
    let mut dup = connect(&relay, "d", 1).await;
    let reason = expect_close(&mut dup, CloseCode::Policy).await;
    assert!(reason.contains("already connected"), "{reason}");
    assert_flows(&mut other, 2, &mut first, b"still there?").await;
}

/// Malformed envelopes and text frames close only the offender.
#[tokio::test]
async fn bad_frames_close_only_the_offender() {
    let relay = start_relay().await;
    let mut good = connect(&relay, "b", 1).await;
    let mut bad = connect(&relay, "b", 2).await;
    let mut texty = connect(&relay, "b", 3).await;
    bad.send(Message::Binary(vec![0x7f].into())).await.unwrap();
    let reason = expect_close(&mut bad, CloseCode::Protocol).await;
    assert!(reason.contains("malformed envelope"), "{reason}");
    texty.send(Message::Text("hello".into())).await.unwrap();
    expect_close(&mut texty, CloseCode::Unsupported).await;
    let mut again = connect(&relay, "b", 2).await;
    assert_flows(&mut again, 2, &mut good, b"ok").await;
}

/// A frame over the size limit closes its sender with 1009; the room goes on.
#[tokio::test]
async fn oversized_frame_closes_with_1009() {
    let relay = start_with(|c| c.limits.max_frame_bytes = 4096).await;
    let mut a = connect(&relay, "big", 1).await;
    let mut b = connect(&relay, "big", 2).await;
    let mut c = connect(&relay, "big", 3).await;
    send(&mut a, 2, &vec![7u8; 8192]).await;
    let reason = expect_close(&mut a, CloseCode::Size).await;
    assert!(reason.contains("4096"), "{reason}");
    assert_flows(&mut b, 2, &mut c, b"fine").await;
    assert_eq!(
        metric(&relay, "raftcal_relay_limit_hits_total{limit=\"frame_size\"}").await,
        1
    );
}

/// A peer sending faster than the rate limit is closed with 1008; others
/// keep flowing.
#[tokio::test]
async fn rate_limit_closes_the_flooder_only() {
    let relay = start_with(|c| {
        c.limits.rate_per_second = 20;
        c.limits.rate_burst = 20;
    })
    .await;
    let mut flooder = connect(&relay, "rate", 1).await;
    let mut b = connect(&relay, "rate", 2).await;
    let mut c = connect(&relay, "rate", 3).await;
    for _ in 0..100 {
        if flooder
            .send(Message::Binary(codec::encode_outbound(3, b"spam").into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let reason = expect_close(&mut flooder, CloseCode::Policy).await;
    assert!(reason.contains("messages per second"), "{reason}");
    assert_flows(&mut b, 2, &mut c, b"calm").await;
}

/// Peers per room, rooms, and connections are bounded.
#[tokio::test]
async fn room_room_count_and_connection_limits() {
    let relay = start_with(|c| {
        c.limits.peers_per_room = 2;
        c.limits.rooms = 2;
        c.limits.connections = 6;
    })
    .await;
    let mut a = connect(&relay, "one", 1).await;
    let mut b = connect(&relay, "one", 2).await;
    let mut third = connect(&relay, "one", 3).await;
    assert!(expect_close(&mut third, CloseCode::Policy).await.contains("full"));
    let _two = connect(&relay, "two", 1).await;
    let mut three = connect(&relay, "three", 1).await;
    assert!(expect_close(&mut three, CloseCode::Again).await.contains("rooms"));
    assert_flows(&mut a, 1, &mut b, b"still fine").await;
    // Fill the connection limit with idle sockets: the next gets HTTP 503.
    let mut idle = vec![];
    for _ in 0..3 {
        idle.push(TcpStream::connect(relay.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut s = TcpStream::connect(relay.addr).await.unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_string(&mut out)).await;
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    drop(idle);
    assert_flows(&mut b, 2, &mut a, b"and again").await;
}

/// A connection that answers nothing (not even pings) is closed as idle; one
/// that only answers pings stays.
#[tokio::test]
async fn idle_peers_are_closed_but_listening_ones_stay() {
    let relay = start_with(|c| {
        c.limits.idle_timeout = Duration::from_millis(600);
        c.limits.ping_interval = Duration::from_millis(150);
    })
    .await;
    let mut silent = connect(&relay, "idle", 1).await;
    let mut listening = connect(&relay, "idle", 2).await;
    // `listening` keeps reading (tungstenite answers pings while reading).
    let keep = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            if let Ok(Some(Ok(Message::Close(_)))) =
                tokio::time::timeout(Duration::from_millis(50), listening.next()).await
            {
                panic!("a peer answering pings was closed");
            }
        }
        listening
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    if let Some(reason) = expect_closed(&mut silent).await {
        assert!(reason.contains("idle"), "{reason}");
    }
    assert_eq!(
        metric(&relay, "raftcal_relay_limit_hits_total{limit=\"idle\"}").await,
        1
    );
    let mut listening = keep.await.unwrap();
    let mut a = connect(&relay, "idle", 3).await;
    assert_flows(&mut a, 3, &mut listening, b"awake").await;
}

/// A client that never finishes its request head is cut off.
#[tokio::test]
async fn slow_handshakes_are_cut_off() {
    let relay = start_with(|c| c.limits.handshake_timeout = Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(relay.addr).await.unwrap();
    s.write_all(b"GET /ws?room=a&node=1 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the connection was kept open"
    );
}

/// A peer that never reads loses frames; it never stalls the others: the
/// sender is never held up, and the room keeps flowing around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_does_not_stall_the_room() {
    let relay = start_with(|c| {
        c.limits.peer_queue = 16;
        c.limits.rate_per_second = 100_000;
        c.limits.rate_burst = 100_000;
    })
    .await;
    let _stuck = connect(&relay, "slow", 1).await; // never reads
    let mut sender = connect(&relay, "slow", 2).await;
    let mut reader = connect(&relay, "slow", 3).await;
    presence_reaches(&mut reader, &[1, 2, 3]).await;
    // Far more than the stuck peer's socket buffers and queue can hold.
    let big = vec![1u8; 200 * 1024];
    let started = Instant::now();
    for _ in 0..300 {
        send(&mut sender, 1, &big).await;
    }
    assert!(started.elapsed() < Duration::from_secs(10), "the sender was held up");
    for i in 0..50u32 {
        send(&mut sender, 3, &i.to_be_bytes()).await;
        let got = next_non_presence(&mut reader).await;
        assert_eq!(
            codec::decode_inbound(&got).unwrap(),
            Inbound::Frame {
                from: 2,
                payload: &i.to_be_bytes()
            }
        );
    }
    assert!(metric(&relay, "raftcal_relay_frames_dropped_total{reason=\"queue_full\"}").await > 0);
}

/// With a token set, connections need it.
#[tokio::test]
async fn access_token_is_required() {
    let relay = start_with(|c| c.token = Some("s3cret".into())).await;
    for query in ["", "&token=wrong"] {
        let url = format!("ws://{}/ws?room=t&node=1{query}", relay.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
            other => panic!("expected 401, got {other:?}"),
        }
    }
    let url = format!("ws://{}/ws?room=t&node=1&token=s3cret", relay.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(next_presence(&mut ws).await, vec![1]);
}

/// Missing or bad parameters are refused before the upgrade, with a reason.
#[tokio::test]
async fn bad_connect_parameters_get_http_400() {
    let relay = start_relay().await;
    for query in ["", "?room=r", "?node=1", "?room=bad%20room&node=1", "?room=r&node=0"] {
        let url = format!("ws://{}/ws{query}", relay.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 400, "{query}");
                let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string();
                assert!(body.contains("room") || body.contains("node"), "{query}: {body}");
            }
            other => panic!("{query}: expected HTTP 400, got {other:?}"),
        }
    }
}

/// WSS with a certificate made for the test: two TLS peers talk.
#[tokio::test]
async fn tls_with_a_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = dist();
    let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let tls = relay::tls::server_config(&cert_path, &key_path).unwrap();
    let relay = start_with(|c| c.tls = Some(tls)).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let mut peers = vec![];
    for node in [1, 2] {
        let tcp = TcpStream::connect(relay.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let url = format!("wss://localhost/ws?room=tls&node={node}");
        let (ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
        peers.push(ws);
    }
    let (mut a, mut b) = (peers.remove(0), peers.remove(0));
    a.send(Message::Binary(codec::encode_outbound(2, b"secret").into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), b.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Binary(bytes) => match codec::decode_inbound(&bytes).unwrap() {
                Inbound::Presence(_) => continue,
                frame => {
                    assert_eq!(
                        frame,
                        Inbound::Frame {
                            from: 1,
                            payload: b"secret"
                        }
                    );
                    break;
                }
            },
            _ => continue,
        }
    }
    // Plain HTTP to a TLS port gets nowhere.
    let mut plain = TcpStream::connect(relay.addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), plain.read_to_end(&mut out)).await;
    assert!(!String::from_utf8_lossy(&out).contains("RaftCal"));
}

/// The UI is served with the right types, cache headers and compression,
/// with an index fallback; /healthz and /metrics answer.
#[tokio::test]
async fn serves_the_ui_health_and_metrics() {
    let relay = start_relay().await;
    let (status, head, body) = get(&relay, "/", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("RaftCal"));
    let (status, _, body) = get(&relay, "/calendar/some/deep/link", "").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("RaftCal"));
    let (status, head, _) = get(&relay, "/ui-50bfbf66e497109a_bg.wasm", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains("immutable"), "{head}");
    let (status, head, body) = get(&relay, "/ui-50bfbf66e497109a.js", "Accept-Encoding: gzip\r\n").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(body.len() < 4000, "not compressed: {} bytes", body.len());
    let (status, _, body) = get(&relay, "/healthz", "").await;
    assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));
    let _a = connect(&relay, "m", 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(metric(&relay, "raftcal_relay_rooms").await, 1);
    assert_eq!(metric(&relay, "raftcal_relay_peers").await, 1);
}

/// Shutdown closes every peer with 1001 and `run` returns.
#[tokio::test]
async fn graceful_shutdown_closes_peers_with_1001() {
    let mut relay = start_relay().await;
    let mut a = connect(&relay, "bye", 1).await;
    let mut b = connect(&relay, "bye", 2).await;
    assert_eq!(next_presence(&mut b).await.len(), 2);
    relay.stop.take().unwrap().send(()).unwrap();
    assert!(expect_close(&mut a, CloseCode::Away).await.contains("shutting down"));
    expect_close(&mut b, CloseCode::Away).await;
    tokio::time::timeout(Duration::from_secs(6), &mut relay.done)
        .await
        .expect("run returns after shutdown")
        .unwrap()
        .unwrap();
}

mod property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// The envelope decoders never panic, whatever the bytes.
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = codec::decode_outbound(&bytes);
            let _ = codec::decode_inbound(&bytes);
            let _ = codec::decode_message(&bytes);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Arbitrary bytes where an HTTP request / WebSocket handshake should
        /// be (sometimes after a valid-looking request line): the relay
        /// answers or hangs up, never crashes, and keeps no connection.
        #[test]
        fn arbitrary_handshake_bytes_are_survived(
            prefix in proptest::sample::select(vec!["", "GET /ws?room=a&node=1 HTTP/1.1\r\n", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"]),
            junk in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let relay = start_with(|c| c.limits.handshake_timeout = Duration::from_millis(200)).await;
                let mut s = TcpStream::connect(relay.addr).await.unwrap();
                let _ = s.write_all(prefix.as_bytes()).await;
                let _ = s.write_all(&junk).await;
                let mut out = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
                drop(s);
                let deadline = Instant::now() + Duration::from_secs(5);
                while metric(&relay, "raftcal_relay_connections").await > 1 {
                    assert!(Instant::now() < deadline, "a connection was kept");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let mut a = connect(&relay, "after", 1).await;
                let mut b = connect(&relay, "after", 2).await;
                assert_flows(&mut a, 1, &mut b, b"alive").await;
            });
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Arbitrary frame sequences from several peers: the relay survives,
        /// and once everyone leaves no room state is left behind.
        #[test]
        fn arbitrary_frames_leave_no_state_behind(
            frames in proptest::collection::vec((0u16..3, proptest::collection::vec(any::<u8>(), 0..16)), 1..40)
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let relay = start_relay().await;
                let mut peers = vec![];
                for node in 1..=3 {
                    peers.push(connect(&relay, "fuzz", node).await);
                }
                for (who, bytes) in frames {
                    let _ = peers[who as usize].send(Message::Binary(bytes.into())).await;
                }
                drop(peers);
                let deadline = Instant::now() + Duration::from_secs(5);
                while metric(&relay, "raftcal_relay_rooms").await != 0 {
                    assert!(Instant::now() < deadline, "room state left behind");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                assert_eq!(metric(&relay, "raftcal_relay_peers").await, 0);
                // And it still works.
                let mut a = connect(&relay, "after", 1).await;
                let mut b = connect(&relay, "after", 2).await;
                assert_flows(&mut a, 1, &mut b, b"alive").await;
            });
        }
    }
}
