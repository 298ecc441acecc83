//! Components and effects. The node is booted once by the root; everything
//! below it receives data and callbacks as props.

use std::cell::RefCell;
use std::rc::Rc;

use node_wasm::browser::{start, BootOptions, NodeHandle};
use node_wasm::calendar::{Command, Event};
use node_wasm::view::View;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::{self, Action, AppState, CLUSTER_SIZE};

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new((*self).clone().reduce(action))
    }
}

fn relay_url() -> String {
    let location = web_sys::window().expect("a window").location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss:",
        _ => "ws:",
    };
    let host = location.host().unwrap_or_else(|_| "127.0.0.1:8080".into());
    format!("{scheme}//{host}/ws")
}

fn new_event_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // Extremely unlikely; fall back to time + Math.random, still unique enough.
        let t = js_sys::Date::now().to_bits().to_le_bytes();
        let r = (js_sys::Math::random() * 1e16) as u64;
        bytes[..8].copy_from_slice(&t);
        bytes[8..].copy_from_slice(&r.to_le_bytes()[..4]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Ask the browser not to evict this origin's IndexedDB under storage
/// pressure (`navigator.storage.persist()`); browsers grant it on a user
/// gesture, so this runs when the user adds an event. Best effort.
fn ask_for_persistent_storage() {
    use js_sys::{Function, Reflect};
    let Some(window) = web_sys::window() else { return };
    let storage = Reflect::get(&window.navigator(), &"storage".into()).unwrap_or_default();
    if let Some(persist) = Reflect::get(&storage, &"persist".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
    {
        let _ = persist.call0(&storage);
    }
}

/// The next full hour in the browser's local time, and an hour after it.
fn default_times() -> (String, String) {
    let now = js_sys::Date::new_0();
    let start = chrono::NaiveDate::from_ymd_opt(now.get_full_year() as i32, now.get_month() + 1, now.get_date())
        .and_then(|d| d.and_hms_opt(now.get_hours(), 0, 0))
        .map(|t| t + chrono::TimeDelta::hours(1));
    match start {
        Some(s) => (
            state::format_local(s),
            state::format_local(s + chrono::TimeDelta::hours(1)),
        ),
        None => (String::new(), String::new()),
    }
}

#[function_component]
pub fn App() -> Html {
    let state = use_reducer(AppState::default);
    let node: Rc<RefCell<Option<NodeHandle>>> = use_mut_ref(|| None);

    {
        let dispatcher = state.dispatcher();
        let node = node.clone();
        use_effect_with((), move |_| {
            let search = web_sys::window()
                .and_then(|w| w.location().search().ok())
                .unwrap_or_default();
            match state::parse_query(&search) {
                Err(e) => dispatcher.dispatch(Action::BootFailed(e)),
                Ok(query) => wasm_bindgen_futures::spawn_local(async move {
                    let opts = BootOptions {
                        room: query.room,
                        wanted_slot: query.node,
                        cluster_size: CLUSTER_SIZE,
                        relay_url: relay_url(),
                        token: query.token,
                        tick_ms: node_wasm::browser::driver::TICK_MS,
                    };
                    let on_change = {
                        let dispatcher = dispatcher.clone();
                        move |view: Rc<View>| dispatcher.dispatch(Action::NodeChanged(view))
                    };
                    match start(opts, on_change).await {
                        Ok(handle) => *node.borrow_mut() = Some(handle),
                        Err(e) => dispatcher.dispatch(Action::BootFailed(e.to_string())),
                    }
                }),
            }
        });
    }

    let on_create = {
        let dispatcher = state.dispatcher();
        let node = node.clone();
        Callback::from(move |(title, start, end): (String, String, String)| {
            let command = match state::command_from_form(new_event_id(), &title, &start, &end) {
                Ok(c) => c,
                Err(message) => return dispatcher.dispatch(Action::SubmitFailed(message)),
            };
            let Some(handle) = node.borrow().clone() else {
                return dispatcher.dispatch(Action::SubmitFailed("The node is still starting.".into()));
            };
            dispatcher.dispatch(Action::Submitted);
            ask_for_persistent_storage();
            let dispatcher = dispatcher.clone();
            wasm_bindgen_futures::spawn_local(async move {
                // Shown as pending (from the node's outbox) until the cluster
                // applies it; this resolves then, or with the refusal.
                if let Err(e) = handle.submit(command).await {
                    dispatcher.dispatch(Action::SubmitFailed(format!("Not saved: {e}.")));
                }
            });
        })
    };

    if let Some(error) = &state.boot_error {
        return html! {
            <div class="app">
                <header><h1>{ "RaftCal" }</h1></header>
                <div id="boot-error" class="banner error">{ error.clone() }</div>
            </div>
        };
    }
    let Some(view) = state.view.clone() else {
        return html! {
            <div class="app">
                <header><h1>{ "RaftCal" }</h1></header>
                <div class="banner info">{ "Starting this tab's node…" }</div>
            </div>
        };
    };
    html! {
        <div class="app">
            <header>
                <h1>{ "RaftCal" }</h1>
                <span class="room">{ "room " }<b id="room">{ view.room.clone() }</b></span>
            </header>
            <ClusterPanel view={view.clone()} />
            if view.observer {
                <div id="observer" class="banner info">
                    { "All three nodes of this room are open in other tabs, so this tab is an observer: it shows what they have committed and cannot edit. Close one of them and reload this tab to take its node." }
                </div>
            }
            if let Some(reason) = state::read_only_reason(&view) {
                <div id="read-only" class="banner warn">
                    { format!("Read-only for now: {reason}. New events are kept in this tab and sent once a majority of the nodes is back.") }
                </div>
            }
            if let Some(notice) = view.notice.clone() {
                <div id="notice" class="banner info">{ notice }</div>
            }
            if let Some(fault) = view.fault.clone() {
                <div id="fault" class="banner error">{ format!("This node stopped: {fault}. Nothing new is saved here; reload the tab.") }</div>
            }
            if !view.observer {
                <section class="card">
                    <EventForm on_create={on_create} error={state.form_error.clone()} />
                </section>
            }
            <section class="card">
                <EventList events={view.events.clone()} pending={view.pending.clone()} />
            </section>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ClusterProps {
    view: Rc<View>,
}

#[function_component]
fn ClusterPanel(props: &ClusterProps) -> Html {
    let v = &props.view;
    let s = &v.status;
    let role = if v.observer {
        "Observer"
    } else {
        state::role_label(s.role)
    };
    let role_class = format!("role {}", role.to_lowercase());
    let leader = s.leader.map_or("none".to_string(), |l| l.to_string());
    let online = if v.online.is_empty() {
        "—".to_string()
    } else {
        v.online.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
    };
    html! {
        <section id="cluster" class="card cluster">
            if !v.observer {
                <span><span class="label">{ "node " }</span><b id="node-id">{ v.slot }</b></span>
            }
            <span id="role" class={role_class}>{ role }</span>
            <span><span class="label">{ "term " }</span><b id="term">{ s.term }</b></span>
            <span><span class="label">{ "leader " }</span><b id="leader">{ leader }</b></span>
            <span><span class="label">{ "commit " }</span><b id="commit">{ s.commit }</b></span>
            <span><span class="label">{ "online " }</span><b id="online">{ online }</b></span>
            if !v.pending.is_empty() {
                <span id="pending">{ format!("{} waiting for the cluster", plural(v.pending.len(), "edit", "edits")) }</span>
            }
            if v.observer {
                <span id="connection">{ "following the other tabs" }</span>
            } else if v.connected {
                <span id="connection">{ "relay connected" }</span>
            } else {
                <span id="connection" class="offline">{ "relay offline — reconnecting" }</span>
            }
        </section>
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[derive(Properties, PartialEq)]
struct FormProps {
    on_create: Callback<(String, String, String)>,
    error: Option<String>,
}

#[function_component]
fn EventForm(props: &FormProps) -> Html {
    let title = use_node_ref();
    let start = use_node_ref();
    let end = use_node_ref();
    let defaults = use_memo((), |_| default_times());
    let onsubmit = {
        let (title, start, end) = (title.clone(), start.clone(), end.clone());
        let on_create = props.on_create.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let read = |r: &NodeRef| r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            on_create.emit((read(&title), read(&start), read(&end)));
            if let Some(input) = title.cast::<HtmlInputElement>() {
                input.set_value("");
                let _ = input.unchecked_ref::<web_sys::HtmlElement>().focus();
            }
        })
    };
    html! {
        <form id="new-event" {onsubmit}>
            <label>{ "Title" }<input id="title" ref={title} type="text" placeholder="What is happening?" maxlength="200" required=true /></label>
            <label>{ "Starts" }<input id="start" ref={start} type="datetime-local" value={defaults.0.clone()} required=true /></label>
            <label>{ "Ends" }<input id="end" ref={end} type="datetime-local" value={defaults.1.clone()} required=true /></label>
            <button id="add" type="submit">{ "Add event" }</button>
            <p id="form-error" class="form-error" role="alert">{ props.error.clone().unwrap_or_default() }</p>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct ListProps {
    events: Vec<Event>,
    pending: Vec<Command>,
}

fn when(start: chrono::NaiveDateTime, end: chrono::NaiveDateTime) -> String {
    if start.date() == end.date() {
        format!("{} – {}", start.format("%a %e %b %Y, %H:%M"), end.format("%H:%M"))
    } else {
        format!(
            "{} – {}",
            start.format("%a %e %b, %H:%M"),
            end.format("%a %e %b %Y, %H:%M")
        )
    }
}

#[function_component]
fn EventList(props: &ListProps) -> Html {
    if props.events.is_empty() && props.pending.is_empty() {
        return html! { <p class="empty">{ "No events yet. Add one above: every tab of this room sees it once the cluster agrees." }</p> };
    }
    html! {
        <ul id="events" class="events">
            { for props.events.iter().map(|e| html! {
                <li key={e.id.clone()} data-id={e.id.clone()} class="event">
                    <span class="when">{ when(e.start, e.end) }</span>
                    <span class="title">{ e.title.clone() }</span>
                </li>
            }) }
            { for props.pending.iter().filter_map(|c| match c {
                Command::CreateEvent { id, title, start, end } => Some(html! {
                    <li key={format!("pending-{id}")} class="event pending" title="Saved in this tab; waiting for the cluster to agree">
                        <span class="when">{ when(*start, *end) }</span>
                        <span class="title">{ format!("{title} (saving…)") }</span>
                    </li>
                }),
                Command::DeleteEvent { .. } => None,
            }) }
        </ul>
    }
}
