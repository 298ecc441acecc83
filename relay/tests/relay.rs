//! The relay against real WebSocket clients on 127.0.0.1:0.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use node_wasm::transport::codec::{self, Inbound};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Relay {
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dist: std::path::PathBuf,
}

async fn start_relay() -> Relay {
    let dist = std::env::temp_dir().join(format!("raftcal-relay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<html>RaftCal</html>").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = relay::Config {
        dist: dist.clone(),
        ..Default::default()
    };
    tokio::spawn(relay::run(listener, config, async {
        let _ = stopped.await;
    }));
    Relay {
        addr,
        _stop: stop,
        _dist: dist,
    }
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

async fn send(ws: &mut Ws, to: u16, payload: &[u8]) {
    ws.send(Message::Binary(codec::encode_outbound(to, payload).into()))
        .await
        .unwrap();
}

async fn expect_close(ws: &mut Ws, code: CloseCode) -> String {
    loop {
        match next(ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, code, "close reason: {}", frame.reason);
                return frame.reason.to_string();
            }
            Message::Close(None) => panic!("closed without a code"),
            _ => continue,
        }
    }
}

/// A frame reaches only its addressee, stamped with the real sender, even
/// when the payload claims otherwise (the relay never reads payloads).
#[tokio::test]
async fn forwards_to_the_addressee_and_stamps_the_sender() {
    let relay = start_relay().await;
    let mut a = connect(&relay, "r1", 1).await;
    let mut b = connect(&relay, "r1", 2).await;
    let mut c = connect(&relay, "r1", 3).await;
    assert_eq!(next_presence(&mut c).await, vec![1, 2, 3]);
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
    send(&mut a, 2, b"ping").await;
    assert_eq!(
        codec::decode_inbound(&next_non_presence(&mut b).await).unwrap(),
        Inbound::Frame {
            from: 1,
            payload: b"ping"
        }
    );
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
    send(&mut other, 1, b"still there?").await;
    let got = next_non_presence(&mut first).await;
    assert_eq!(
        codec::decode_inbound(&got).unwrap(),
        Inbound::Frame {
            from: 2,
            payload: b"still there?"
        }
    );
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
    send(&mut again, 1, b"ok").await;
    let got = next_non_presence(&mut good).await;
    assert_eq!(
        codec::decode_inbound(&got).unwrap(),
        Inbound::Frame {
            from: 2,
            payload: b"ok"
        }
    );
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

/// The UI is served, with an index fallback, and /healthz answers.
#[tokio::test]
async fn serves_the_ui_and_health() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = start_relay().await;
    for (path, needle) in [("/healthz", "ok"), ("/", "RaftCal"), ("/some/deep/link", "RaftCal")] {
        let mut s = TcpStream::connect(relay.addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{path}: {out}");
        assert!(out.contains(needle), "{path}: {out}");
    }
}
