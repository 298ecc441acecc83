//! Bytes on the wire. `codec` is pure (shared with the relay, tested
//! natively); the browser socket lives in `crate::browser`.

pub mod codec;
