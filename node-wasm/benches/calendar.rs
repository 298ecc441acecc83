//! Figures of the calendar state machine (`cargo xtask bench`), side by side
//! in one run: what the no-double-booking guarantee costs per command, what
//! a snapshot weighs per event in postcard against JSON, how long the UI's
//! two-week query takes, and .ics import speed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use node_wasm::calendar::*;
use node_wasm::machine::{Machine, Proposal};

fn base() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2027, 1, 4)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap()
}

fn stamp() -> Stamp {
    Stamp {
        author: "bench".into(),
        at_ms: (base() - chrono::Duration::days(1)).and_utc().timestamp_millis(),
    }
}

/// `n` one-hour events, back to back, optionally all in one room, and
/// optionally each repeating weekly for ever (then spread over distinct
/// hours of the week so none collide).
fn events(n: usize, room: bool, weekly: bool) -> Vec<Command> {
    (0..n)
        .map(|i| {
            let start = if weekly {
                base() + chrono::Duration::hours(i as i64 % 168) + chrono::Duration::weeks(i as i64 / 168 * 520)
            } else {
                base() + chrono::Duration::hours(i as i64)
            };
            // Series in UTC: in a zone with daylight saving, the skipped
            // hour's occurrence moves onto the next hour's (as it should).
            let zone = if weekly { "UTC" } else { "Europe/Berlin" };
            let mut details = Details::timed(format!("Event {i}"), start, start + chrono::Duration::hours(1), zone);
            details.description = "Quarterly planning with the whole team; bring numbers.".into();
            details.resource = room.then(|| "Room 1".to_string());
            Command::CreateEvent {
                event: NewEvent {
                    id: format!("{}-{i:06}", if weekly { "series" } else { "event" }),
                    calendar: DEFAULT_CALENDAR.into(),
                    details,
                    recurrence: weekly.then(|| Recurrence::new("FREQ=WEEKLY")),
                },
                stamp: stamp(),
            }
        })
        .collect()
}

fn apply_all(commands: &[Command]) -> (Store, Duration) {
    let mut store = Store::default();
    let started = Instant::now();
    for c in commands {
        store.apply(c.clone()).expect("bench commands apply");
    }
    (store, started.elapsed())
}

fn per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

/// Create `n` events without a resource and, side by side, `n` booked in
/// one room; returns the booked store.
fn booking_cost(n: usize, weekly: bool) -> Store {
    let (_, free) = apply_all(&events(n, false, weekly));
    let (store, booked) = apply_all(&events(n, true, weekly));
    let what = if weekly {
        "weekly series (for ever; checked 2 years ahead)"
    } else {
        "single events"
    };
    println!(
        "create {n} {what}: {:.1} µs each without a resource, {:.1} µs booked in one room ({:.1}x)",
        per(free, n),
        per(booked, n),
        booked.as_secs_f64() / free.as_secs_f64()
    );
    store
}

fn main() {
    let n = 2_000;
    booking_cost(n, false);
    let s = 168;
    let series_store = booking_cost(s, true);

    // Snapshot weight.
    let mut m = Machine::default();
    for (i, c) in events(n, true, false).into_iter().enumerate() {
        let bytes = Proposal {
            client: 1,
            seq: i as u64 + 1,
            command: c,
        }
        .encode();
        m.apply(i as u64 + 1, &bytes);
    }
    let postcard = m.snapshot().len();
    let json = serde_json::to_vec(m.store()).unwrap().len();
    println!(
        "snapshot of {n} events: {:.0} bytes per event in postcard, {:.0} in JSON ({:.2}x)",
        postcard as f64 / n as f64,
        json as f64 / n as f64,
        postcard as f64 / json as f64
    );
    let started = Instant::now();
    let restored = Machine::restore(&m.snapshot()).unwrap();
    println!("restore that snapshot: {:.2} ms", started.elapsed().as_secs_f64() * 1e3);
    black_box(restored);

    // The UI's query: two weeks of a store with single events and series.
    let mut store = series_store;
    for c in events(n, false, false) {
        store.apply(c).unwrap();
    }
    let from = base() + chrono::Duration::weeks(20);
    let to = from + chrono::Duration::days(14);
    let runs = 20;
    let started = Instant::now();
    let mut shown = 0;
    for _ in 0..runs {
        shown = black_box(store.occurrences_between(from, to, chrono_tz::Europe::Berlin)).len();
    }
    println!(
        "two-week agenda over {} events ({s} weekly series): {:.2} ms per query, {shown} occurrences",
        store.events().len(),
        started.elapsed().as_secs_f64() * 1e3 / runs as f64
    );

    // .ics import.
    let text = ics::export(&store, None);
    let started = Instant::now();
    let plan = ics::parse(&text, DEFAULT_CALENDAR).unwrap();
    let parsed = started.elapsed();
    let count = plan.events.len();
    let mut fresh = Store::default();
    let started = Instant::now();
    for b in ics::batches(plan.events, DEFAULT_CALENDAR, &stamp()) {
        fresh.apply(b).unwrap();
    }
    let applied = started.elapsed();
    println!(
        ".ics of {count} events ({} KiB): parse {:.0} events/ms, apply as import batches {:.0} events/ms",
        text.len() / 1024,
        count as f64 / (parsed.as_secs_f64() * 1e3),
        count as f64 / (applied.as_secs_f64() * 1e3)
    );
}
