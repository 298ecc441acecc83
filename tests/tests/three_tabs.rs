//! User stories with three real tabs.

use std::time::Duration;

use e2e::{one_leader, App, Browser};

/// Three tabs form a cluster with exactly one leader; an event added in a
/// follower tab is committed through Raft and appears in all three; a
/// reloaded tab resumes its node from IndexedDB and still shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tabs_elect_one_leader_and_share_an_event() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch().await?;
    let url = app.room_url("three-tabs");
    let mut tabs = Vec::new();
    for _ in 0..3 {
        tabs.push(browser.open_tab(&url).await?);
    }

    let states = browser
        .wait_for(&tabs, Duration::from_secs(60), "exactly one leader", one_leader)
        .await?;
    let mut slots: Vec<_> = states.iter().filter_map(|s| s.node.clone()).collect();
    slots.sort();
    assert_eq!(slots, ["1", "2", "3"], "each tab claims its own node slot");

    let follower = tabs[states
        .iter()
        .position(|s| s.role.as_deref() == Some("Follower"))
        .unwrap()]
    .clone();
    browser.create_event(&follower, "Design review").await?;
    browser
        .wait_for(&tabs, Duration::from_secs(30), "the event in every tab", |states| {
            states.iter().all(|s| s.titles == ["Design review"])
        })
        .await?;

    let reloaded = tabs[0].clone();
    let before = browser.read(&reloaded).await?.node;
    browser.reload(&reloaded).await?;
    let after = browser
        .wait_for(
            std::slice::from_ref(&reloaded),
            Duration::from_secs(30),
            "the reloaded tab to show the event",
            |s| s[0].titles == ["Design review"],
        )
        .await?;
    assert_eq!(after[0].node, before, "a reloaded tab resumes the same node");

    browser.quit().await
}
