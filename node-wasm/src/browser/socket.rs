//! The WebSocket to the relay. It only moves bytes: every event becomes an
//! [`Input`](super::driver::Input) for the driver, and reconnecting (with
//! jittered backoff) is the driver's decision.

use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::driver::Input;

pub(crate) struct Socket {
    ws: WebSocket,
    // Kept alive for as long as the socket can fire them.
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Start connecting; the outcome arrives as `Input::Connected` or `Input::Disconnected`.
    pub(crate) fn connect(url: &str, inputs: UnboundedSender<Input>) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("cannot open WebSocket to {url}: {e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let tx = inputs.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(Input::Connected);
        });
        let tx = inputs.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            match ev.data().dyn_into::<js_sys::ArrayBuffer>() {
                Ok(buf) => {
                    let _ = tx.unbounded_send(Input::Frame(js_sys::Uint8Array::new(&buf).to_vec()));
                }
                Err(_) => super::console_log("warn", "ignoring a non-binary frame from the relay"),
            }
        });
        let tx = inputs;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |ev: CloseEvent| {
            let _ = tx.unbounded_send(Input::Disconnected {
                code: ev.code(),
                reason: ev.reason(),
            });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Send if connected; otherwise drop. Raft retransmits what matters, and
    /// an unbounded queue while offline would only replay stale traffic.
    pub(crate) fn send(&self, frame: &[u8]) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_u8_array(frame).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
