//! User stories with three real tabs.

use std::time::Duration;

use e2e::{one_leader, sorted_titles, App, Browser};

/// Three tabs form a cluster with exactly one leader; an event added in a
/// follower tab is committed through Raft and appears in all three; a fourth
/// tab becomes a read-only observer that shows it too; a reloaded tab
/// resumes its node from IndexedDB and still shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tabs_elect_one_leader_and_share_an_event() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch().await?;
    let tabs_url = app.room_url("three-tabs");
    let (tabs, states) = browser.open_cluster(&tabs_url, 3).await?;
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

    browser.screenshot_if_asked(&follower, "follower-after-adding").await?;

    // A fourth tab finds every node taken: it observes, read-only.
    let fourth = browser.open_tab(&tabs_url).await?;
    browser
        .wait_for(
            std::slice::from_ref(&fourth),
            Duration::from_secs(30),
            "an observer tab",
            |s| s[0].role.as_deref() == Some("Observer") && s[0].titles == ["Design review"],
        )
        .await?;
    browser.close_tab(&fourth).await?;
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

/// Closing the leader's tab: the two tabs left elect a new leader (the relay's
/// presence tells them at once, and the closing tab hands over), keep every
/// committed event and accept new ones; a reopened tab takes the freed node
/// and catches up from its own IndexedDB plus the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_leader_tab_fails_over_and_a_reopened_tab_catches_up() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch().await?;
    let url = app.room_url("failover");
    let (mut tabs, states) = browser.open_cluster(&url, 3).await?;
    let leader_at = states.iter().position(|s| s.role.as_deref() == Some("Leader")).unwrap();
    let old_leader = states[leader_at].node.clone();
    browser.create_event(&tabs[leader_at], "Before").await?;
    browser
        .wait_for(&tabs, Duration::from_secs(30), "the first event everywhere", |s| {
            s.iter().all(|t| t.titles == ["Before"])
        })
        .await?;

    let closed = tabs.remove(leader_at);
    let started = std::time::Instant::now();
    browser.close_tab(&closed).await?;
    let states = browser
        .wait_for(&tabs, Duration::from_secs(30), "a new leader among the two left", |s| {
            one_leader(s) && s.iter().all(|t| t.leader != old_leader)
        })
        .await?;
    eprintln!(
        "failover: a new leader {:?} after the leader's tab closed",
        started.elapsed()
    );
    assert!(
        states.iter().all(|s| s.titles == ["Before"]),
        "a committed event was lost"
    );

    browser.create_event(&tabs[0], "After").await?;
    let both = vec!["After".to_string(), "Before".to_string()];
    browser
        .wait_for(&tabs, Duration::from_secs(30), "the new event in both tabs", |s| {
            s.iter().all(|t| sorted_titles(t) == both)
        })
        .await?;

    let reopened = browser.open_tab(&url).await?;
    tabs.push(reopened.clone());
    let states = browser
        .wait_for(&tabs, Duration::from_secs(60), "the reopened tab caught up", |s| {
            one_leader(s) && s.iter().all(|t| sorted_titles(t) == both)
        })
        .await?;
    assert_eq!(states[2].node, old_leader, "the reopened tab takes the freed node");
    browser.quit().await
}

/// Losing quorum is not a crash: the last tab stays readable, says it is
/// read-only and why, and keeps a new event as pending — durably, across a
/// reload — until the other nodes return; then it commits exactly once and
/// every tab shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_without_a_majority_commit_exactly_once_when_it_returns() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch().await?;
    let url = app.room_url("quorum");
    let (mut tabs, _) = browser.open_cluster(&url, 3).await?;
    browser.create_event(&tabs[0], "Before").await?;
    browser
        .wait_for(&tabs, Duration::from_secs(30), "the first event everywhere", |s| {
            s.iter().all(|t| t.titles == ["Before"])
        })
        .await?;

    let lone = tabs.pop().unwrap();
    for gone in tabs.drain(..) {
        browser.close_tab(&gone).await?;
    }
    let lone_only = [lone.clone()];
    browser
        .wait_for(
            &lone_only,
            Duration::from_secs(30),
            "the last tab to turn read-only",
            |s| s[0].read_only && s[0].role.as_deref() != Some("Leader") && s[0].titles == ["Before"],
        )
        .await?;
    browser.create_event(&lone, "Offline edit").await?;
    browser
        .wait_for(&lone_only, Duration::from_secs(10), "the edit shown as pending", |s| {
            s[0].pending == ["Offline edit (saving…)"] && s[0].titles == ["Before"]
        })
        .await?;
    browser.reload(&lone).await?;
    browser
        .wait_for(
            &lone_only,
            Duration::from_secs(30),
            "the pending edit to survive a reload",
            |s| s[0].pending == ["Offline edit (saving…)"] && s[0].titles == ["Before"],
        )
        .await?;

    let mut tabs = vec![lone];
    for _ in 0..2 {
        tabs.push(browser.open_tab(&url).await?);
    }
    let both = vec!["Before".to_string(), "Offline edit".to_string()];
    let states = browser
        .wait_for(
            &tabs,
            Duration::from_secs(60),
            "the edit committed once, everywhere",
            |s| one_leader(s) && s.iter().all(|t| sorted_titles(t) == both && t.pending.is_empty()),
        )
        .await?;
    assert!(
        states.iter().all(|s| s.notice.is_none()),
        "an edit was refused: {states:?}"
    );
    browser.quit().await
}
