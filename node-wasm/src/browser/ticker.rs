//! The node's clock. Browsers clamp main-thread timers in hidden tabs to
//! once a second, and after five minutes hidden to once a minute ("intensive
//! throttling"); a leader in such a tab would send heartbeats minutes apart
//! while a visible follower times out every half second. Timers in a
//! dedicated worker are not throttled that way, so a tiny worker (made from
//! an inline script, no extra file to serve) posts a message every tick and
//! the node runs on that. If a worker cannot be made, a main-thread interval
//! stands in.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, MessageEvent, Url, Worker};

pub enum Ticker {
    Worker {
        worker: Worker,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        url: String,
    },
    Interval {
        _timer: Interval,
    },
}

impl Ticker {
    /// Call `on_tick` every `every_ms` milliseconds until dropped.
    pub fn start(every_ms: u32, on_tick: impl FnMut() + 'static) -> Self {
        let on_tick = Rc::new(RefCell::new(on_tick));
        match Self::worker(every_ms, on_tick.clone()) {
            Ok(t) => t,
            Err(e) => {
                super::console_log(
                    "warn",
                    &format!("no worker clock ({e:?}); hidden tabs will tick slowly"),
                );
                Ticker::Interval {
                    _timer: Interval::new(every_ms, move || (on_tick.borrow_mut())()),
                }
            }
        }
    }

    /// Whether the clock runs in a worker (and so survives hidden tabs).
    pub fn in_worker(&self) -> bool {
        matches!(self, Ticker::Worker { .. })
    }

    fn worker(every_ms: u32, on_tick: Rc<RefCell<impl FnMut() + 'static>>) -> Result<Self, wasm_bindgen::JsValue> {
        let script = format!("setInterval(function () {{ postMessage(0); }}, {every_ms});");
        let parts = js_sys::Array::of1(&script.into());
        let options = BlobPropertyBag::new();
        options.set_type("text/javascript");
        let blob = Blob::new_with_str_sequence_and_options(&parts, &options)?;
        let url = Url::create_object_url_with_blob(&blob)?;
        let worker = Worker::new(&url)?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |_| (on_tick.borrow_mut())());
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(Ticker::Worker {
            worker,
            _on_message: on_message,
            url,
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Ticker::Worker { worker, url, .. } = self {
            worker.set_onmessage(None);
            worker.terminate();
            let _ = Url::revoke_object_url(url);
        }
    }
}
