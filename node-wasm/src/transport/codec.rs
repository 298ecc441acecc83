//! The relay envelope and the Raft message encoding.
//!
//! Envelope (every WebSocket frame is binary):
//!
//! ```text
//! peer → relay   0x01 to:u16be payload…      to = 0 means every other peer in the room
//! relay → peer   0x01 from:u16be payload…    a frame from `from` (stamped by the relay)
//!                0x02 n:u16be (id:u16be)×n   presence: who is in the room now
//!                0x03 utf-8 text             notice: why the relay refused your last frame
//! ```
//!
//! The relay reads the header only; `payload` is opaque to it. For Raft
//! traffic the payload is `MESSAGE_VERSION` followed by a postcard `Message`.

use crate::raft::Message;

pub const TAG_FRAME: u8 = 0x01;
pub const TAG_PRESENCE: u8 = 0x02;
pub const TAG_NOTICE: u8 = 0x03;

/// Node ids on the wire are 16-bit; 0 is "everyone".
pub type WireId = u16;
pub const BROADCAST: WireId = 0;

/// First byte of every Raft payload, so an incompatible peer is recognised
/// instead of misread.
pub const MESSAGE_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("empty frame")]
    Empty,
    #[error("unknown frame tag {0:#04x}")]
    UnknownTag(u8),
    #[error("frame too short for its header")]
    Truncated,
    #[error("presence list has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("notice is not UTF-8")]
    BadText,
    #[error("unsupported message version {0}")]
    Version(u8),
    #[error("undecodable Raft message: {0}")]
    Message(String),
}

/// A frame a peer sends to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound<'a> {
    pub to: WireId,
    pub payload: &'a [u8],
}

/// A frame the relay sends to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<'a> {
    Frame { from: WireId, payload: &'a [u8] },
    Presence(Vec<WireId>),
    Notice(&'a str),
}

fn header(tag: u8, id: WireId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + payload.len());
    out.push(tag);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn split_id(bytes: &[u8]) -> Result<(WireId, &[u8]), CodecError> {
    match bytes {
        [hi, lo, rest @ ..] => Ok((u16::from_be_bytes([*hi, *lo]), rest)),
        _ => Err(CodecError::Truncated),
    }
}

pub fn encode_outbound(to: WireId, payload: &[u8]) -> Vec<u8> {
    header(TAG_FRAME, to, payload)
}

pub fn decode_outbound(frame: &[u8]) -> Result<Outbound<'_>, CodecError> {
    match frame.split_first() {
        None => Err(CodecError::Empty),
        Some((&TAG_FRAME, rest)) => {
            let (to, payload) = split_id(rest)?;
            Ok(Outbound { to, payload })
        }
        Some((&tag, _)) => Err(CodecError::UnknownTag(tag)),
    }
}

/// The relay re-uses the sender's frame buffer: swap the header, keep the payload.
pub fn encode_frame(from: WireId, payload: &[u8]) -> Vec<u8> {
    header(TAG_FRAME, from, payload)
}

pub fn encode_presence(members: &[WireId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + 2 * members.len());
    out.push(TAG_PRESENCE);
    out.extend_from_slice(&(members.len() as u16).to_be_bytes());
    for id in members {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out
}

pub fn encode_notice(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + text.len());
    out.push(TAG_NOTICE);
    out.extend_from_slice(text.as_bytes());
    out
}

pub fn decode_inbound(frame: &[u8]) -> Result<Inbound<'_>, CodecError> {
    match frame.split_first() {
        None => Err(CodecError::Empty),
        Some((&TAG_FRAME, rest)) => {
            let (from, payload) = split_id(rest)?;
            Ok(Inbound::Frame { from, payload })
        }
        Some((&TAG_PRESENCE, rest)) => {
            let (n, mut rest) = split_id(rest)?;
            let mut members = Vec::with_capacity(usize::from(n).min(rest.len() / 2));
            for _ in 0..n {
                let (id, tail) = split_id(rest)?;
                members.push(id);
                rest = tail;
            }
            if !rest.is_empty() {
                return Err(CodecError::TrailingBytes(rest.len()));
            }
            Ok(Inbound::Presence(members))
        }
        Some((&TAG_NOTICE, rest)) => std::str::from_utf8(rest)
            .map(Inbound::Notice)
            .map_err(|_| CodecError::BadText),
        Some((&tag, _)) => Err(CodecError::UnknownTag(tag)),
    }
}

pub fn encode_message(m: &Message) -> Vec<u8> {
    let mut out = vec![MESSAGE_VERSION];
    // Serializing plain data into a Vec cannot fail.
    out.extend(postcard::to_allocvec(m).expect("messages always serialize"));
    out
}

pub fn decode_message(bytes: &[u8]) -> Result<Message, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&MESSAGE_VERSION, body)) => postcard::from_bytes(body).map_err(|e| CodecError::Message(e.to_string())),
        Some((&v, _)) => Err(CodecError::Version(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{Body, Message};

    #[test]
    fn envelopes_round_trip() {
        let out = encode_outbound(3, b"hello");
        assert_eq!(
            decode_outbound(&out),
            Ok(Outbound {
                to: 3,
                payload: b"hello"
            })
        );
        let frame = encode_frame(2, b"hi");
        assert_eq!(
            decode_inbound(&frame),
            Ok(Inbound::Frame {
                from: 2,
                payload: b"hi"
            })
        );
        assert_eq!(
            decode_inbound(&encode_presence(&[1, 3])),
            Ok(Inbound::Presence(vec![1, 3]))
        );
        assert_eq!(decode_inbound(&encode_notice("no")), Ok(Inbound::Notice("no")));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        assert_eq!(decode_outbound(&[]), Err(CodecError::Empty));
        assert_eq!(decode_outbound(&[0x01, 0x00]), Err(CodecError::Truncated));
        assert_eq!(decode_outbound(&[0x7f, 0, 1]), Err(CodecError::UnknownTag(0x7f)));
        assert_eq!(decode_inbound(&[0x02, 0, 2, 0, 1]), Err(CodecError::Truncated));
        assert_eq!(decode_inbound(&[0x02, 0, 0, 9]), Err(CodecError::TrailingBytes(1)));
        assert_eq!(decode_inbound(&[0x02, 0xff, 0xff]), Err(CodecError::Truncated));
        assert_eq!(decode_inbound(&[0x03, 0xff]), Err(CodecError::BadText));
        assert!(matches!(
            decode_message(&[1, 0xff, 0xff, 0xff]),
            Err(CodecError::Message(_))
        ));
        assert_eq!(decode_message(&[9]), Err(CodecError::Version(9)));
        // Every prefix of a valid message fails cleanly.
        let bytes = encode_message(&Message {
            from: 1,
            to: 2,
            term: 3,
            body: Body::Heartbeat { commit: 4, read_seq: 0 },
        });
        for cut in 0..bytes.len() {
            assert!(decode_message(&bytes[..cut]).is_err());
        }
    }
}
