//! Components and effects. The node is booted once by the root; everything
//! below it receives data and callbacks as props.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike};
use chrono_tz::Tz;
use node_wasm::browser::{start, BootOptions, NodeHandle, SubmitError};
use node_wasm::calendar::query::{Shown, When};
use node_wasm::calendar::recur::{from_utc, to_utc};
use node_wasm::calendar::{ics, Calendar, Command, Outcome, Rejection, Stamp, Store, DEFAULT_CALENDAR};
use node_wasm::view::View;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::state::{self, Action, AppState, Editing, FormData, Which, CLUSTER_SIZE};

/// Days the agenda shows at once.
const AGENDA_DAYS: i64 = 14;

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

fn now_utc() -> NaiveDateTime {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64)
        .unwrap_or_default()
        .naive_utc()
}

/// The browser's own IANA zone (UTC if it will not say).
fn browser_zone() -> String {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()
        .and_then(|v| v.as_string())
        .filter(|z| z.parse::<Tz>().is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// A new-event form: the next full hour in `tz`, an hour long.
fn blank_form(tz: &str, calendar: &str) -> FormData {
    let zone: Tz = tz.parse().unwrap_or(Tz::UTC);
    let now = from_utc(zone, now_utc());
    let start = now.date().and_hms_opt(now.hour(), 0, 0).unwrap_or(now) + Duration::hours(1);
    FormData {
        start: state::format_local(start),
        end: state::format_local(start + Duration::hours(1)),
        tz: tz.into(),
        calendar: calendar.into(),
        ..FormData::default()
    }
}

fn stamp(view: &View) -> Stamp {
    Stamp {
        author: format!("tab {} of {}", view.slot, view.room),
        at_ms: js_sys::Date::now() as i64,
    }
}

/// The value of the input, select or text area an event came from.
fn event_value(e: &Event) -> String {
    let Some(target) = e.target() else {
        return String::new();
    };
    if let Some(i) = target.dyn_ref::<HtmlInputElement>() {
        return i.value();
    }
    if let Some(s) = target.dyn_ref::<HtmlSelectElement>() {
        return s.value();
    }
    if let Some(t) = target.dyn_ref::<HtmlTextAreaElement>() {
        return t.value();
    }
    String::new()
}

/// Offer `text` as a file download.
fn download(name: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/calendar");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url)
}

fn confirm(message: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(message).ok())
        .unwrap_or(false)
}

fn prompt(message: &str, default: &str) -> Option<String> {
    web_sys::window()?
        .prompt_with_message_and_default(message, default)
        .ok()
        .flatten()
}

/// Sends commands to this tab's node and reports refusals to the form.
#[derive(Clone)]
struct Sender {
    node: Rc<RefCell<Option<NodeHandle>>>,
    dispatcher: UseReducerDispatcher<AppState>,
}

impl PartialEq for Sender {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.node, &other.node)
    }
}

impl Sender {
    /// Submit `command`; on success run `then`, on refusal show why.
    fn send(&self, command: Command, then: impl FnOnce(Outcome) + 'static) {
        self.send_form(command, then, None)
    }

    /// Like `send`, and if refused give `form` back to the form to fix.
    fn send_form(
        &self,
        command: Command,
        then: impl FnOnce(Outcome) + 'static,
        form: Option<(FormData, Option<Editing>)>,
    ) {
        let Some(handle) = self.node.borrow().clone() else {
            return self
                .dispatcher
                .dispatch(Action::SubmitFailed("The node is still starting.".into()));
        };
        self.dispatcher.dispatch(Action::Submitted);
        ask_for_persistent_storage();
        let dispatcher = self.dispatcher.clone();
        wasm_bindgen_futures::spawn_local(async move {
            // Shown as pending (from the node's outbox) until the cluster
            // applies it; this resolves then, or with the refusal.
            match handle.submit(command).await {
                Ok(outcome) => then(outcome),
                Err(SubmitError::Rejected(r)) => {
                    let stale = matches!(r, Rejection::StaleVersion { .. });
                    dispatcher.dispatch(Action::Refused {
                        message: state::rejection_message(&r),
                        restore: form.filter(|_| !stale).map(Box::new),
                    })
                }
                Err(e) => dispatcher.dispatch(Action::SubmitFailed(format!("Not saved: {e}."))),
            }
        });
    }

    /// Read an .ics file and send it as import batches, one after another,
    /// reporting progress and every item that was not imported.
    fn import(&self, text: String, calendar: String, stamp: Stamp) {
        let plan = match ics::parse(&text, &calendar) {
            Ok(plan) => plan,
            Err(e) => {
                return self
                    .dispatcher
                    .dispatch(Action::SubmitFailed(format!("Nothing was imported: {e}.")))
            }
        };
        let skipped = plan
            .report
            .iter()
            .filter_map(|r| match &r.status {
                ics::ItemStatus::Skipped(why) => Some(format!("{} ({}): {why}", r.summary, r.uid)),
                ics::ItemStatus::Imported { .. } => None,
            })
            .collect();
        let names: Vec<(String, String)> = plan
            .events
            .iter()
            .map(|e| (e.id.clone(), e.details.title.clone()))
            .collect();
        let total = plan.report.len(); // one line per item of the file
        self.dispatcher.dispatch(Action::ImportStarted { total, skipped });
        let Some(handle) = self.node.borrow().clone() else {
            return self
                .dispatcher
                .dispatch(Action::SubmitFailed("The node is still starting.".into()));
        };
        let dispatcher = self.dispatcher.clone();
        let batches = ics::batches(plan.events, &calendar, &stamp);
        wasm_bindgen_futures::spawn_local(async move {
            let mut names = names.into_iter();
            for batch in batches {
                let outcome = handle.submit(batch).await;
                let (mut created, mut refused) = (0, Vec::new());
                match outcome {
                    Ok(Outcome::Imported { results }) => {
                        for result in results {
                            let (id, title) = names.next().unwrap_or_default();
                            match result {
                                Ok(_) => created += 1,
                                Err(r) => refused.push(format!("{title} ({id}): {}", state::rejection_message(&r))),
                            }
                        }
                    }
                    Ok(other) => refused.push(format!("unexpected answer {other:?}")),
                    Err(e) => {
                        dispatcher.dispatch(Action::SubmitFailed(format!("Import stopped: {e}.")));
                        break;
                    }
                }
                dispatcher.dispatch(Action::ImportBatch { created, refused });
            }
            dispatcher.dispatch(Action::ImportFinished);
        });
    }
}

#[function_component]
pub fn App() -> Html {
    let state = use_reducer(AppState::default);
    let node: Rc<RefCell<Option<NodeHandle>>> = use_mut_ref(|| None);
    let zone = use_state(browser_zone);
    let first_day = use_state(|| from_utc(browser_zone().parse().unwrap_or(Tz::UTC), now_utc()).date());

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
    let sender = Sender {
        node: node.clone(),
        dispatcher: state.dispatcher(),
    };
    let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
    let calendars: Vec<Calendar> = view.store.calendars().cloned().collect();
    let default_calendar = calendars
        .iter()
        .find(|c| c.id == DEFAULT_CALENDAR)
        .or(calendars.first())
        .map(|c| c.id.clone())
        .unwrap_or_default();

    let on_save = {
        let sender = sender.clone();
        let editing = state.editing.clone();
        let view = view.clone();
        Callback::from(move |(form, which): (FormData, Which)| {
            let command = match &editing {
                None => state::create_command(new_event_id(), &form, stamp(&view)),
                Some((e, _)) => state::update_command(e, which, &form, stamp(&view), new_event_id()),
            };
            match command {
                Ok(c) => {
                    sender.dispatcher.dispatch(Action::StopEditing);
                    let restore = (form, editing.as_ref().map(|(e, _)| e.clone()));
                    sender.send_form(c, |_| {}, Some(restore));
                }
                Err(message) => sender.dispatcher.dispatch(Action::SubmitFailed(message)),
            }
        })
    };
    let on_delete = {
        let sender = sender.clone();
        let editing = state.editing.clone();
        let view = view.clone();
        Callback::from(move |which: Which| {
            if let Some((e, _)) = &editing {
                let command = state::delete_command(e, which, stamp(&view));
                sender.dispatcher.dispatch(Action::StopEditing);
                sender.send(command, |_| {});
            }
        })
    };
    let on_edit = {
        let dispatcher = state.dispatcher();
        let store = view.store.clone();
        let observer = view.observer;
        Callback::from(move |shown: Shown| {
            if observer {
                return;
            }
            if let Some((form, editing)) = state::form_for(&store, &shown) {
                dispatcher.dispatch(Action::Edit(Box::new((editing, form))));
            }
        })
    };
    let on_cancel = {
        let dispatcher = state.dispatcher();
        Callback::from(move |_| dispatcher.dispatch(Action::StopEditing))
    };
    let on_zone = {
        let zone = zone.clone();
        Callback::from(move |z: String| {
            if z.parse::<Tz>().is_ok() {
                zone.set(z)
            }
        })
    };
    let on_move = {
        let first_day = first_day.clone();
        let today = from_utc(tz, now_utc()).date();
        Callback::from(move |days: Option<i64>| {
            first_day.set(match days {
                Some(d) => *first_day + Duration::days(d),
                None => today,
            })
        })
    };
    let on_search = {
        let dispatcher = state.dispatcher();
        Callback::from(move |text: String| dispatcher.dispatch(Action::Search(text)))
    };
    let form_initial = match (&state.editing, &state.draft) {
        (Some((_, form)), _) | (None, Some(form)) => form.clone(),
        (None, None) => blank_form(&zone, &default_calendar),
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
                    <EventForm
                        key={state.form_generation.to_string()}
                        initial={form_initial}
                        editing={state.editing.as_ref().map(|(e, _)| e.clone())}
                        calendars={calendars.clone()}
                        error={state.form_error.clone()}
                        on_save={on_save}
                        on_delete={on_delete}
                        on_cancel={on_cancel}
                    />
                </section>
            }
            <section class="card">
                <Toolbar zone={(*zone).clone()} first_day={*first_day} search={state.search.clone()}
                    on_zone={on_zone} on_move={on_move} on_search={on_search} />
                if !state.search.trim().is_empty() {
                    <SearchResults store={view.store.clone()} text={state.search.clone()} tz={tz} />
                }
                <Agenda store={view.store.clone()} pending={view.pending.clone()} first_day={*first_day} tz={tz}
                    calendars={calendars.clone()} on_edit={on_edit} />
            </section>
            <section class="card side">
                <Calendars store={view.store.clone()} sender={sender.clone()} view={view.clone()}
                    import={state.import.clone()} />
                <Resources store={view.store.clone()} first_day={*first_day} tz={tz} />
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
    initial: FormData,
    editing: Option<Editing>,
    calendars: Vec<Calendar>,
    error: Option<String>,
    on_save: Callback<(FormData, Which)>,
    on_delete: Callback<Which>,
    on_cancel: Callback<()>,
}

#[function_component]
fn EventForm(props: &FormProps) -> Html {
    let data = use_state(|| props.initial.clone());
    let which = use_state(|| Which::This);
    let set = |f: fn(&mut FormData, String)| {
        let data = data.clone();
        Callback::from(move |e: Event| {
            let mut d = (*data).clone();
            f(&mut d, event_value(&e));
            data.set(d);
        })
    };
    let typed = |f: fn(&mut FormData, String)| {
        let set = set(f);
        Callback::from(move |e: InputEvent| set.emit(e.into()))
    };
    let on_all_day = {
        let data = data.clone();
        Callback::from(move |e: Event| {
            let checked = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .is_some_and(|i| i.checked());
            let mut d = (*data).clone();
            if checked != d.all_day {
                // Keep the dates, drop or add the time of day.
                let date = |v: &str| v.get(..10).unwrap_or_default().to_owned();
                if checked {
                    d.start = date(&d.start);
                    d.end = date(&d.end);
                } else {
                    d.start = format!("{}T09:00", date(&d.start));
                    d.end = format!("{}T10:00", date(&d.end));
                }
                d.all_day = checked;
            }
            data.set(d);
        })
    };
    let series = props.editing.as_ref().is_some_and(|e| e.occurrence.is_some());
    let on_which = {
        let which = which.clone();
        Callback::from(move |e: Event| {
            which.set(match event_value(&e).as_str() {
                "all" => Which::All,
                "following" => Which::Following,
                _ => Which::This,
            })
        })
    };
    let onsubmit = {
        let data = data.clone();
        let which = which.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            on_save.emit(((*data).clone(), *which));
        })
    };
    let on_delete = {
        let which = which.clone();
        let on_delete = props.on_delete.clone();
        Callback::from(move |_| on_delete.emit(*which))
    };
    let on_cancel = props.on_cancel.reform(|_: MouseEvent| ());
    let d = &*data;
    let kind = if d.all_day { "date" } else { "datetime-local" };
    let custom_repeat = !["", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"].contains(&d.repeat.as_str());
    // One occurrence keeps its series' zone and resource.
    let series_only = series && *which == Which::This;
    html! {
        <form id="new-event" class="event-form" {onsubmit}>
            <label class="wide">{ "Title" }<input id="title" type="text" placeholder="What is happening?" maxlength="200" required=true
                value={d.title.clone()} oninput={typed(|d, v| d.title = v)} /></label>
            <label class="check"><input id="all-day" type="checkbox" checked={d.all_day} onchange={on_all_day} />{ "All day" }</label>
            <label>{ "Starts" }<input id="start" type={kind} value={d.start.clone()} required=true oninput={typed(|d, v| d.start = v)} /></label>
            <label>{ if d.all_day { "Last day" } else { "Ends" } }<input id="end" type={kind} value={d.end.clone()} required=true oninput={typed(|d, v| d.end = v)} /></label>
            <label>{ "Time zone" }<input id="tz" list="zones" value={d.tz.clone()} disabled={series_only} oninput={typed(|d, v| d.tz = v)} /></label>
            <label>{ "Calendar" }
                <select id="calendar" onchange={set(|d, v| d.calendar = v)} disabled={props.editing.is_some()}>
                    { for props.calendars.iter().map(|c| html! {
                        <option value={c.id.clone()} selected={c.id == d.calendar}>{ c.name.clone() }</option>
                    }) }
                </select>
            </label>
            <label>{ "Repeats" }
                <select id="repeat" onchange={set(|d, v| d.repeat = if v == "CUSTOM" { "FREQ=WEEKLY;COUNT=10".into() } else { v })} disabled={series_only}>
                    <option value="" selected={d.repeat.is_empty()}>{ "Does not repeat" }</option>
                    <option value="DAILY" selected={d.repeat == "DAILY"}>{ "Every day" }</option>
                    <option value="WEEKLY" selected={d.repeat == "WEEKLY"}>{ "Every week" }</option>
                    <option value="MONTHLY" selected={d.repeat == "MONTHLY"}>{ "Every month" }</option>
                    <option value="YEARLY" selected={d.repeat == "YEARLY"}>{ "Every year" }</option>
                    <option value="CUSTOM" selected={custom_repeat}>{ "Custom rule…" }</option>
                </select>
            </label>
            if custom_repeat {
                <label class="wide">{ "Rule (RFC 5545 RRULE)" }<input id="rule" value={d.repeat.clone()} disabled={series_only} oninput={typed(|d, v| d.repeat = v)} /></label>
            }
            <label>{ "Room or resource" }<input id="resource" placeholder="e.g. Room 2" maxlength="100" value={d.resource.clone()} disabled={series_only} oninput={typed(|d, v| d.resource = v)} /></label>
            <label>{ "Location" }<input id="location" maxlength="200" value={d.location.clone()} oninput={typed(|d, v| d.location = v)} /></label>
            <label class="wide">{ "Description" }<textarea id="description" maxlength="4000" value={d.description.clone()} oninput={typed(|d, v| d.description = v)} /></label>
            <datalist id="zones">
                { for chrono_tz::TZ_VARIANTS.iter().map(|z| html! { <option value={z.name()} /> }) }
            </datalist>
            if series {
                <label>{ "Change" }
                    <select id="which" onchange={on_which}>
                        <option value="this" selected={*which == Which::This}>{ "This event" }</option>
                        <option value="following" selected={*which == Which::Following}>{ "This and following events" }</option>
                        <option value="all" selected={*which == Which::All}>{ "All events" }</option>
                    </select>
                </label>
            }
            <div class="buttons">
                if props.editing.is_some() {
                    <button id="save" type="submit">{ "Save" }</button>
                    <button id="delete" type="button" class="danger" onclick={on_delete}>{ "Delete" }</button>
                    <button id="cancel" type="button" class="plain" onclick={on_cancel}>{ "Cancel" }</button>
                } else {
                    <button id="add" type="submit">{ "Add event" }</button>
                }
            </div>
            <p id="form-error" class="form-error" role="alert">{ props.error.clone().unwrap_or_default() }</p>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct ToolbarProps {
    zone: String,
    first_day: NaiveDate,
    search: String,
    on_zone: Callback<String>,
    on_move: Callback<Option<i64>>,
    on_search: Callback<String>,
}

#[function_component]
fn Toolbar(props: &ToolbarProps) -> Html {
    let mv = |d: Option<i64>| props.on_move.reform(move |_: MouseEvent| d);
    let last = props.first_day + Duration::days(AGENDA_DAYS - 1);
    html! {
        <div class="toolbar">
            <button class="plain" id="prev" onclick={mv(Some(-7))}>{ "◀" }</button>
            <button class="plain" id="today" onclick={mv(None)}>{ "Today" }</button>
            <button class="plain" id="next" onclick={mv(Some(7))}>{ "▶" }</button>
            <span id="range">{ format!("{} – {}", props.first_day.format("%e %b"), last.format("%e %b %Y")) }</span>
            <label class="inline">{ "Shown in " }
                <input id="display-tz" list="zones" value={props.zone.clone()}
                    onchange={props.on_zone.reform(|e: Event| event_value(&e))} /></label>
            <input id="search" type="search" placeholder="Search" value={props.search.clone()}
                oninput={props.on_search.reform(|e: InputEvent| event_value(&e))} />
        </div>
    }
}

fn when_text(when: &When) -> String {
    match *when {
        When::AllDay { start, end } => {
            let last = end - Duration::days(1);
            if last == start {
                "all day".into()
            } else {
                format!("all day, {} – {}", start.format("%e %b"), last.format("%e %b"))
            }
        }
        When::Timed { start, end } if start.date() == end.date() => {
            format!("{} – {}", start.format("%H:%M"), end.format("%H:%M"))
        }
        When::Timed { start, end } => format!("{} – {}", start.format("%H:%M"), end.format("%a %e %b %H:%M")),
    }
}

#[derive(Properties, PartialEq)]
struct AgendaProps {
    store: Rc<Store>,
    pending: Vec<Command>,
    first_day: NaiveDate,
    tz: Tz,
    calendars: Vec<Calendar>,
    on_edit: Callback<Shown>,
}

#[function_component]
fn Agenda(props: &AgendaProps) -> Html {
    let days = state::agenda(&props.store, props.first_day, AGENDA_DAYS, props.tz);
    if days.is_empty() && props.pending.is_empty() {
        return html! { <p class="empty">{ "Nothing in these two weeks. Add an event above: every tab of this room sees it once the cluster agrees." }</p> };
    }
    let colour = |id: &str| {
        props
            .calendars
            .iter()
            .find(|c| c.id == id)
            .map_or("#999999".to_string(), |c| c.colour.clone())
    };
    html! {
        <ul id="events" class="events">
            { for days.into_iter().map(|(day, list)| html! {
                <>
                    <li class="day" key={format!("day-{day}")}>{ day.format("%A %e %B").to_string() }</li>
                    { for list.into_iter().map(|o| {
                        let key = format!("{}-{:?}", o.event, o.occurrence);
                        let on_edit = props.on_edit.clone();
                        let clicked = o.clone();
                        let style = format!("border-left-color: {}", colour(&o.calendar));
                        html! {
                            <li key={key} data-id={o.event.clone()} class="event" style={style}
                                onclick={Callback::from(move |_| on_edit.emit(clicked.clone()))}>
                                <span class="when">{ when_text(&o.when) }</span>
                                <span class="title">{ o.title.clone() }</span>
                                if o.occurrence.is_some() { <span class="tag" title="repeats">{ "↻" }</span> }
                                if o.changed { <span class="tag">{ "changed" }</span> }
                                if !o.location.is_empty() { <span class="where">{ o.location.clone() }</span> }
                                if let Some(r) = &o.resource { <span class="tag resource">{ r.clone() }</span> }
                            </li>
                        }
                    }) }
                </>
            }) }
            { for props.pending.iter().enumerate().map(|(i, c)| {
                let (label, creates) = state::pending_label(c);
                html! {
                    <li key={format!("pending-{i}")} class="event pending" title="Saved in this tab; waiting for the cluster to agree">
                        <span class="when">{ "saving" }</span>
                        <span class="title">{ if creates { format!("{label} (saving…)") } else { format!("Saving the {label}…") } }</span>
                    </li>
                }
            }) }
        </ul>
    }
}

#[derive(Properties, PartialEq)]
struct SearchProps {
    store: Rc<Store>,
    text: String,
    tz: Tz,
}

#[function_component]
fn SearchResults(props: &SearchProps) -> Html {
    let found = props.store.search(&props.text);
    html! {
        <div id="search-results" class="search-results">
            <p class="label">{ format!("{} for “{}”", plural(found.len(), "event", "events"), props.text.trim()) }</p>
            <ul>
                { for found.iter().map(|e| {
                    let start = match e.details.timing {
                        node_wasm::calendar::Timing::AllDay { start, .. } => start.format("%e %b %Y").to_string(),
                        node_wasm::calendar::Timing::Zoned { start, .. } => {
                            let zone: Tz = e.details.tz.parse().unwrap_or(Tz::UTC);
                            from_utc(props.tz, to_utc(zone, start)).format("%e %b %Y %H:%M").to_string()
                        }
                    };
                    html! { <li key={e.id.clone()}><b>{ e.title().to_string() }</b>{ format!(" — {start}") }
                        if e.recurrence.is_some() { { " ↻" } }</li> }
                }) }
            </ul>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct CalendarsProps {
    store: Rc<Store>,
    sender: Sender,
    view: Rc<View>,
    import: Option<state::ImportProgress>,
}

#[function_component]
fn Calendars(props: &CalendarsProps) -> Html {
    let name = use_state(String::new);
    let import_into = use_state(|| DEFAULT_CALENDAR.to_string());
    let editable = !props.view.observer;
    let count = |id: &str| props.store.events().iter().filter(|e| e.calendar == id).count();
    let add = {
        let name = name.clone();
        let sender = props.sender.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let id = new_event_id();
            sender.send(
                Command::CreateCalendar {
                    id,
                    name: (*name).clone(),
                    colour: "#7c3aed".into(),
                },
                |_| {},
            );
            name.set(String::new());
        })
    };
    let on_file = {
        let sender = props.sender.clone();
        let view = props.view.clone();
        let import_into = import_into.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else {
                return;
            };
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            input.set_value("");
            if file.size() > ics::MAX_FILE_BYTES as f64 {
                return sender
                    .dispatcher
                    .dispatch(Action::SubmitFailed(format!("{} is too large to import.", file.name())));
            }
            let sender = sender.clone();
            let stamp = stamp(&view);
            let calendar = (*import_into).clone();
            wasm_bindgen_futures::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => sender.import(text.as_string().unwrap_or_default(), calendar, stamp),
                    Err(_) => sender
                        .dispatcher
                        .dispatch(Action::SubmitFailed(format!("{} could not be read.", file.name()))),
                }
            });
        })
    };
    let export = |calendar: Option<String>| {
        let store = props.store.clone();
        let room = props.view.room.clone();
        Callback::from(move |_: MouseEvent| {
            let text = ics::export(&store, calendar.as_deref());
            let name = format!("raftcal-{room}-{}.ics", calendar.as_deref().unwrap_or("all"));
            if let Err(e) = download(&name, &text) {
                web_sys::console::error_2(&"export failed".into(), &e);
            }
        })
    };
    html! {
        <div id="calendars">
            <h2>{ "Calendars" }</h2>
            <ul class="calendars">
                { for props.store.calendars().map(|c| {
                    let n = count(&c.id);
                    let recolour = {
                        let sender = props.sender.clone();
                        let c = c.clone();
                        Callback::from(move |e: Event| sender.send(Command::UpdateCalendar {
                            id: c.id.clone(), version: c.version, name: c.name.clone(), colour: event_value(&e),
                        }, |_| {}))
                    };
                    let rename = {
                        let sender = props.sender.clone();
                        let c = c.clone();
                        Callback::from(move |_: MouseEvent| {
                            if let Some(name) = prompt("New name for the calendar", &c.name) {
                                sender.send(Command::UpdateCalendar { id: c.id.clone(), version: c.version, name, colour: c.colour.clone() }, |_| {});
                            }
                        })
                    };
                    let delete = {
                        let sender = props.sender.clone();
                        let c = c.clone();
                        Callback::from(move |_: MouseEvent| {
                            let ask = if n == 0 { format!("Delete the calendar “{}”?", c.name) }
                                else { format!("Delete the calendar “{}” and its {}?", c.name, plural(n, "event", "events")) };
                            if confirm(&ask) {
                                sender.send(Command::DeleteCalendar { id: c.id.clone(), version: c.version, cascade: n > 0 }, |_| {});
                            }
                        })
                    };
                    html! {
                        <li key={c.id.clone()} class="calendar">
                            <input type="color" value={c.colour.clone()} onchange={recolour} disabled={!editable} title="Colour" />
                            <span class="name">{ c.name.clone() }</span>
                            <span class="label">{ plural(n, "event", "events") }</span>
                            if editable {
                                <button class="plain" onclick={rename}>{ "Rename" }</button>
                                <button class="plain danger" onclick={delete}>{ "Delete" }</button>
                            }
                            <button class="plain" onclick={export(Some(c.id.clone()))}>{ "Export .ics" }</button>
                        </li>
                    }
                }) }
            </ul>
            if editable {
                <form class="inline-form" onsubmit={add}>
                    <input id="calendar-name" placeholder="New calendar" maxlength="100" value={(*name).clone()}
                        oninput={{ let name = name.clone(); Callback::from(move |e: InputEvent| name.set(event_value(&e))) }} />
                    <button type="submit" class="plain">{ "Add calendar" }</button>
                </form>
                <div class="inline-form">
                    <label class="inline">{ "Import .ics into " }
                        <select onchange={{ let i = import_into.clone(); Callback::from(move |e: Event| i.set(event_value(&e))) }}>
                            { for props.store.calendars().map(|c| html! {
                                <option value={c.id.clone()} selected={*import_into == c.id}>{ c.name.clone() }</option>
                            }) }
                        </select>
                    </label>
                    <input id="import" type="file" accept=".ics,text/calendar" onchange={on_file} />
                </div>
            }
            <button class="plain" onclick={export(None)}>{ "Export all as .ics" }</button>
            if let Some(p) = &props.import {
                <div id="import-progress" class="import">
                    if p.done {
                        <p>{ format!("Imported {} of {}.", p.created, plural(p.total, "item", "items")) }</p>
                    } else {
                        <p>{ format!("Importing… {} of {} so far.", p.created, plural(p.total, "item", "items")) }</p>
                    }
                    if !p.problems.is_empty() {
                        <p class="label">{ "Not imported:" }</p>
                        <ul class="problems">{ for p.problems.iter().map(|x| html! { <li>{ x.clone() }</li> }) }</ul>
                    }
                </div>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ResourcesProps {
    store: Rc<Store>,
    first_day: NaiveDate,
    tz: Tz,
}

fn busy_text(tz: Tz, start: NaiveDateTime, end: NaiveDateTime) -> String {
    let (s, e) = (from_utc(tz, start), from_utc(tz, end));
    if s.date() == e.date() {
        format!("{} {}–{}", s.format("%a %e %b"), s.format("%H:%M"), e.format("%H:%M"))
    } else {
        format!("{} – {}", s.format("%a %e %b %H:%M"), e.format("%a %e %b %H:%M"))
    }
}

/// Free/busy of every resource over the days shown.
#[function_component]
fn Resources(props: &ResourcesProps) -> Html {
    let mut names: Vec<String> = props
        .store
        .events()
        .iter()
        .filter_map(|e| e.details.resource.clone())
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by_key(|n| n.to_lowercase());
    if names.is_empty() {
        return html! {};
    }
    let from = to_utc(props.tz, props.first_day.and_hms_opt(0, 0, 0).unwrap_or_default());
    let to = from + Duration::days(AGENDA_DAYS);
    html! {
        <div id="resources">
            <h2>{ "Rooms and resources: busy" }</h2>
            <ul class="resources">
                { for names.iter().map(|name| {
                    let text = match props.store.free_busy(name, from, to) {
                        Err(e) => e.to_string(),
                        Ok(busy) if busy.is_empty() => "free all fortnight".to_string(),
                        Ok(busy) => busy.iter().map(|(s, e)| busy_text(props.tz, *s, *e)).collect::<Vec<_>>().join(", "),
                    };
                    html! { <li key={name.clone()}><b>{ name.clone() }</b>{ ": " }{ text }</li> }
                }) }
            </ul>
        </div>
    }
}
