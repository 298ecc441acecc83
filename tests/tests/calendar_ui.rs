//! The calendar's promises, through real tabs: a room cannot be double
//! booked, a stale edit is refused and the person is told, and an .ics file
//! imports through the page with a report of what was not imported.

use std::time::Duration;

use e2e::{sorted_titles, App, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_stale_edits_and_import_in_real_tabs() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch().await?;
    let url = app.room_url("calendar");
    let (tabs, _) = browser.open_cluster(&url, 3).await?;
    let (a, b, c) = (tabs[0].clone(), tabs[1].clone(), tabs[2].clone());
    let wait = Duration::from_secs(30);

    // Tab A books Room 1 for the default slot (the next full hour).
    browser.fill(&a, "#resource", "Room 1").await?;
    browser.create_event(&a, "Planning").await?;
    browser
        .wait_for(&tabs, wait, "the booking in every tab", |s| {
            s.iter().all(|t| t.titles == ["Planning"])
        })
        .await?;

    // Tab B tries the same slot in the same room (spelled differently).
    browser.fill(&b, "#resource", "room 1").await?;
    browser.create_event(&b, "Clash").await?;
    let refusal = browser
        .wait_for_text(&b, "#form-error", wait, |t| !t.is_empty())
        .await?;
    assert!(
        refusal.contains("already booked") && refusal.contains("Planning"),
        "{refusal}"
    );
    // The refused event comes back to the form, to pick another time or room.
    assert_eq!(browser.value(&b, "#title").await?.as_deref(), Some("Clash"));
    assert_eq!(browser.value(&b, "#resource").await?.as_deref(), Some("room 1"));
    // Another room is free: the fixed event is saved.
    browser.fill(&b, "#resource", "Room 2").await?;
    browser.click(&b, "#add").await?;
    browser
        .wait_for(&tabs, wait, "both bookings in every tab", |s| {
            s.iter().all(|t| sorted_titles(t) == ["Clash", "Planning"])
        })
        .await?;

    // A and B both open the event; B saves first, then A's save is refused.
    browser.open_event(&a, "Planning").await?;
    browser.open_event(&b, "Planning").await?;
    browser.fill(&b, "#title", "Planning (B)").await?;
    browser.click(&b, "#save").await?;
    browser
        .wait_for(&tabs, wait, "B's edit in every tab", |s| {
            s.iter().all(|t| sorted_titles(t) == ["Clash", "Planning (B)"])
        })
        .await?;
    browser.fill(&a, "#title", "Planning (A)").await?;
    browser.click(&a, "#save").await?;
    let stale = browser
        .wait_for_text(&a, "#form-error", wait, |t| !t.is_empty())
        .await?;
    assert!(stale.starts_with("Changed by someone else"), "{stale}");

    // Tab C imports a file: two events in the visible fortnight, one broken.
    let tomorrow = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        / 86_400
        + 1)
        * 86_400;
    let day = |secs: u64| {
        let days = secs / 86_400;
        // Civil date from days since 1970 (Howard Hinnant's algorithm).
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}{m:02}{d:02}")
    };
    let d1 = day(tomorrow + 86_400);
    let d2 = day(tomorrow + 2 * 86_400);
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\n\
         BEGIN:VEVENT\r\nUID:imp-1\r\nSUMMARY:Imported one\r\nDTSTART:{d1}T100000Z\r\nDTEND:{d1}T110000Z\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:imp-2\r\nSUMMARY:Imported two\r\nDTSTART;VALUE=DATE:{d2}\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:imp-3\r\nSUMMARY:Broken\r\nDTSTART;TZID=Mars/Olympus:{d2}T090000\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    );
    let file = std::env::temp_dir().join(format!("raftcal-e2e-{}.ics", std::process::id()));
    std::fs::write(&file, ics)?;
    browser.choose_file(&c, "#import", &file).await?;
    let report = browser
        .wait_for_text(&c, "#import-progress", wait, |t| t.starts_with("Imported"))
        .await?;
    let _ = std::fs::remove_file(&file);
    assert!(report.contains("Imported 2 of 3 items"), "{report}");
    assert!(report.contains("Broken") && report.contains("Mars/Olympus"), "{report}");
    browser
        .wait_for(&tabs, wait, "the imported events in every tab", |s| {
            s.iter()
                .all(|t| sorted_titles(t) == ["Clash", "Imported one", "Imported two", "Planning (B)"])
        })
        .await?;
    browser.screenshot_if_asked(&c, "calendar-after-import").await?;
    browser.quit().await
}
