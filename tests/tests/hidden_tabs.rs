//! Hidden tabs, with the browser throttling them as a user's browser does.

use std::time::{Duration, Instant};

use e2e::{App, Browser};

/// How long the leader's tab stays hidden: past the five minutes after which
/// Chrome throttles hidden-tab timers to once a minute.
fn hidden_for() -> Duration {
    let secs = std::env::var("RAFTCAL_HIDDEN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(330);
    Duration::from_secs(secs)
}

/// With background throttling on, the leader's tab hidden for several
/// minutes while a follower's tab is in front: no election happens (the term
/// never moves) and the visible tab always knows the leader — the node's
/// clock runs in a worker, which hidden-tab throttling leaves alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_leader_keeps_a_stable_cluster() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch_throttled().await?;
    let (tabs, states) = browser.open_cluster(&app.room_url("hidden"), 3).await?;
    let leader = states.iter().position(|s| s.role.as_deref() == Some("Leader")).unwrap();
    let (term, leader_node) = (states[leader].term.clone(), states[leader].node.clone());
    let front = tabs[(leader + 1) % 3].clone();

    // Reading the follower brings its tab to the front; the other two hide.
    let started = Instant::now();
    let mut polls = 0;
    while started.elapsed() < hidden_for() {
        let s = browser.read(&front).await?;
        assert!(s.visible, "the follower's tab should be the visible one");
        assert_eq!(
            s.term,
            term,
            "an election happened after {:?} hidden",
            started.elapsed()
        );
        assert_eq!(
            s.leader,
            leader_node,
            "the visible tab lost the leader after {:?}",
            started.elapsed()
        );
        polls += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let after = browser.read_all(&tabs).await?;
    assert!(after.iter().all(|s| s.term == term), "terms moved: {after:?}");
    eprintln!(
        "hidden leader: {polls} checks over {:?}, term stayed {term:?}",
        started.elapsed()
    );
    browser.quit().await
}

/// A frozen leader (its page put to sleep, its socket still open, so nobody
/// is told it left) is replaced by an election among the other two, which
/// keep committing; when it thaws it sees the newer term, steps down, and
/// catches up — one leader, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_is_replaced_and_steps_down_when_it_thaws() -> anyhow::Result<()> {
    let app = App::start().await?;
    let mut browser = Browser::launch().await?;
    let (tabs, states) = browser.open_cluster(&app.room_url("frozen"), 3).await?;
    let leader = states.iter().position(|s| s.role.as_deref() == Some("Leader")).unwrap();
    let old_leader = states[leader].node.clone();
    let others: Vec<_> = (0..3).filter(|&i| i != leader).map(|i| tabs[i].clone()).collect();

    browser.freeze(&tabs[leader], &others[0]).await?;
    browser
        .wait_for(
            &others,
            Duration::from_secs(30),
            "a new leader among the other two",
            |s| e2e::one_leader(s) && s.iter().all(|t| t.leader != old_leader),
        )
        .await?;
    browser.create_event(&others[0], "While frozen").await?;
    browser
        .wait_for(&others, Duration::from_secs(30), "the event committed by two", |s| {
            s.iter().all(|t| t.titles == ["While frozen"])
        })
        .await?;

    browser.thaw(&tabs[leader]).await?;
    let after = browser
        .wait_for(
            &tabs,
            Duration::from_secs(30),
            "one leader again, and the old one caught up",
            |s| e2e::one_leader(s) && s.iter().all(|t| t.titles == ["While frozen"]),
        )
        .await?;
    assert_eq!(
        after[leader].role.as_deref(),
        Some("Follower"),
        "the thawed leader stepped down"
    );
    browser.quit().await
}
