//! Helpers for end-to-end tests, named for what a person does: open a tab,
//! add an event, close a tab. A test starts the real relay in-process (serving
//! the trunk-built `dist/`) and drives headless Chromium through chromedriver.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// The relay serving the built UI on a free port of 127.0.0.1.
pub struct App {
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl App {
    pub async fn start() -> Result<Self> {
        let dist = std::env::var_os("RAFTCAL_DIST")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("dist"));
        if !dist.join("index.html").is_file() {
            bail!(
                "{} has no built UI: run `cargo xtask test`, which builds it before the end-to-end tests",
                dist.display()
            );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = relay::Config {
            dist,
            ..Default::default()
        };
        tokio::spawn(relay::run(listener, config, async {
            let _ = stopped.await;
        }));
        Ok(Self { addr, _stop: stop })
    }

    /// The page URL for a room no other test uses (fresh locks and databases).
    pub fn room_url(&self, test: &str) -> String {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000)
            .unwrap_or(0);
        format!("http://{}/?room={test}-{nonce}", self.addr)
    }
}

/// One headless Chromium with its own profile, driven over WebDriver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: TempDir,
    /// The session's first window has been used for a tab.
    first_used: bool,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A Chrome DevTools Protocol command sent through chromedriver's
/// `goog/cdp/execute` endpoint, to the current window's page.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params }).to_string();
        (http::Method::POST, Some(body))
    }
}

/// The node state a tab shows, read from its DOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabState {
    pub node: Option<String>,
    pub role: Option<String>,
    pub term: Option<String>,
    pub leader: Option<String>,
    pub visible: bool,
    /// Committed events.
    pub titles: Vec<String>,
    /// This tab's edits still waiting for the cluster.
    pub pending: Vec<String>,
    pub read_only: bool,
    pub notice: Option<String>,
}

impl Browser {
    /// Chromium with chromedriver's anti-throttling switches, named
    /// explicitly: these tests are about consensus, not hidden tabs.
    pub async fn launch() -> Result<Self> {
        Self::launch_with(false).await
    }

    /// Chromium that throttles hidden tabs as a user's browser does:
    /// chromedriver's silent `--disable-background-timer-throttling` and
    /// `--disable-backgrounding-occluded-windows` are excluded.
    pub async fn launch_throttled() -> Result<Self> {
        Self::launch_with(true).await
    }

    async fn launch_with(throttled: bool) -> Result<Self> {
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port()?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("cannot start {chromedriver} (install chromium-driver, or run `cargo xtask test`)")
            })?;
        let profile = TempDir(std::env::temp_dir().join(format!("raftcal-e2e-{port}")));
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("--user-data-dir={}", profile.0.display()));
        let throttling_switches = [
            "disable-background-timer-throttling",
            "disable-backgrounding-occluded-windows",
        ];
        let mut options = json!({ "binary": chromium });
        if throttled {
            options["excludeSwitches"] = json!(throttling_switches);
        } else {
            args.extend(throttling_switches.iter().map(|s| format!("--{s}")));
            args.push("--disable-renderer-backgrounding".into());
        }
        options["args"] = json!(args);
        let caps = json!({ "goog:chromeOptions": options });
        let Value::Object(caps) = caps else { unreachable!() };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    bail!("chromedriver did not start a session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Ok(Self {
            client,
            driver,
            _profile: profile,
            first_used: false,
        })
    }

    /// Open `url` in a new tab (the first call uses the initial one).
    pub async fn open_tab(&mut self, url: &str) -> Result<WindowHandle> {
        let handle = if !self.first_used {
            self.first_used = true;
            self.client.window().await?
        } else {
            let handle = self.client.new_window(true).await?.handle;
            self.client.switch_to_window(handle.clone()).await?;
            handle
        };
        self.client.goto(url).await?;
        Ok(handle)
    }

    pub async fn read(&mut self, tab: &WindowHandle) -> Result<TabState> {
        self.client.switch_to_window(tab.clone()).await?;
        let v = self
            .client
            .execute(
                r#"const t = (s) => document.querySelector(s)?.textContent ?? null;
                   return {
                     node: t('#node-id'), role: t('#role'), term: t('#term'), leader: t('#leader'),
                     visible: document.visibilityState === 'visible',
                     titles: [...document.querySelectorAll('#events li.event:not(.pending) .title')].map(e => e.textContent),
                     pending: [...document.querySelectorAll('#events li.pending .title')].map(e => e.textContent),
                     read_only: !!document.querySelector('#read-only'),
                     notice: t('#notice'),
                   };"#,
                vec![],
            )
            .await?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(TabState {
            node: s("node"),
            role: s("role"),
            term: s("term"),
            leader: s("leader"),
            visible: v.get("visible").and_then(Value::as_bool).unwrap_or(false),
            titles: strings(&v, "titles"),
            pending: strings(&v, "pending"),
            read_only: v.get("read_only").and_then(Value::as_bool).unwrap_or(false),
            notice: s("notice"),
        })
    }

    /// Open `url` in `n` tabs and wait until they agree on one leader.
    pub async fn open_cluster(&mut self, url: &str, n: usize) -> Result<(Vec<WindowHandle>, Vec<TabState>)> {
        let mut tabs = Vec::with_capacity(n);
        for _ in 0..n {
            tabs.push(self.open_tab(url).await?);
        }
        let states = self
            .wait_for(&tabs, Duration::from_secs(60), "exactly one leader", one_leader)
            .await?;
        Ok((tabs, states))
    }

    pub async fn read_all(&mut self, tabs: &[WindowHandle]) -> Result<Vec<TabState>> {
        let mut out = Vec::with_capacity(tabs.len());
        for t in tabs {
            out.push(self.read(t).await?);
        }
        Ok(out)
    }

    /// Type a title and press "Add event" (start and end keep their defaults).
    pub async fn create_event(&mut self, tab: &WindowHandle, title: &str) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        let input = self.client.find(fantoccini::Locator::Css("#title")).await?;
        input.send_keys(title).await?;
        self.client
            .find(fantoccini::Locator::Css("#add"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Set a form field (input, select or text area) as if typed.
    pub async fn fill(&mut self, tab: &WindowHandle, css: &str, value: &str) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        let found = self
            .client
            .execute(
                r#"const [css, value] = arguments;
                   const el = document.querySelector(css);
                   if (!el) return false;
                   el.value = value;
                   el.dispatchEvent(new Event('input', { bubbles: true }));
                   el.dispatchEvent(new Event('change', { bubbles: true }));
                   return true;"#,
                vec![json!(css), json!(value)],
            )
            .await?;
        if found != Value::Bool(true) {
            bail!("no {css} on the page");
        }
        Ok(())
    }

    pub async fn click(&mut self, tab: &WindowHandle, css: &str) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        self.client.find(fantoccini::Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Click the committed event titled `title` (opens it in the form).
    pub async fn open_event(&mut self, tab: &WindowHandle, title: &str) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        let found = self
            .client
            .execute(
                r#"const li = [...document.querySelectorAll('#events li.event:not(.pending)')]
                     .find(li => li.querySelector('.title')?.textContent === arguments[0]);
                   if (!li) return false;
                   li.click();
                   return true;"#,
                vec![json!(title)],
            )
            .await?;
        if found != Value::Bool(true) {
            bail!("no event titled {title:?} to open");
        }
        Ok(())
    }

    /// The text of the first element matching `css`, if any.
    pub async fn text(&mut self, tab: &WindowHandle, css: &str) -> Result<Option<String>> {
        self.property(tab, css, "textContent").await
    }

    /// The value of the form field matching `css`, if any.
    pub async fn value(&mut self, tab: &WindowHandle, css: &str) -> Result<Option<String>> {
        self.property(tab, css, "value").await
    }

    async fn property(&mut self, tab: &WindowHandle, css: &str, name: &str) -> Result<Option<String>> {
        self.client.switch_to_window(tab.clone()).await?;
        let v = self
            .client
            .execute(
                "return document.querySelector(arguments[0])?.[arguments[1]] ?? null;",
                vec![json!(css), json!(name)],
            )
            .await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Poll `tab` until the text at `css` satisfies `pred`.
    pub async fn wait_for_text(
        &mut self,
        tab: &WindowHandle,
        css: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text(tab, css).await?.unwrap_or_default();
            if pred(&text) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting on {css}; it says {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Choose a file in a file input.
    pub async fn choose_file(&mut self, tab: &WindowHandle, css: &str, path: &std::path::Path) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        let input = self.client.find(fantoccini::Locator::Css(css)).await?;
        input.send_keys(&path.display().to_string()).await?;
        Ok(())
    }

    /// Save a PNG of `tab` into `$RAFTCAL_SCREENSHOTS/<name>.png`, if that
    /// variable is set (for looking at the UI; never needed by a test).
    pub async fn screenshot_if_asked(&mut self, tab: &WindowHandle, name: &str) -> Result<()> {
        let Some(dir) = std::env::var_os("RAFTCAL_SCREENSHOTS") else {
            return Ok(());
        };
        self.client.switch_to_window(tab.clone()).await?;
        self.client.set_window_size(1100, 1500).await?;
        let png = self.client.screenshot().await?;
        std::fs::create_dir_all(&dir)?;
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// Freeze a tab's page (Page Lifecycle "frozen": no timers, no event
    /// handling — a tab the browser or the OS put to sleep), then bring
    /// `front` to the front. Do not read a frozen tab.
    pub async fn freeze(&mut self, tab: &WindowHandle, front: &WindowHandle) -> Result<()> {
        self.client.switch_to_window(front.clone()).await?;
        self.client.switch_to_window(tab.clone()).await?;
        self.set_lifecycle("frozen").await?;
        self.client.switch_to_window(front.clone()).await?;
        Ok(())
    }

    /// Wake a frozen tab up.
    pub async fn thaw(&mut self, tab: &WindowHandle) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        self.set_lifecycle("active").await
    }

    async fn set_lifecycle(&mut self, state: &str) -> Result<()> {
        let cmd = Cdp {
            cmd: "Page.setWebLifecycleState",
            params: json!({ "state": state }),
        };
        self.client.issue_cmd(cmd).await?;
        Ok(())
    }

    /// Close a tab, as a person does (the page gets `pagehide`).
    pub async fn close_tab(&mut self, tab: &WindowHandle) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        self.client.close_window().await?;
        // WebDriver needs a current window again before the next command.
        if let Some(other) = self.client.windows().await?.into_iter().next() {
            self.client.switch_to_window(other).await?;
        }
        Ok(())
    }

    pub async fn reload(&mut self, tab: &WindowHandle) -> Result<()> {
        self.client.switch_to_window(tab.clone()).await?;
        self.client.refresh().await?;
        Ok(())
    }

    /// Poll every tab until `pred` holds for their states, or fail with the
    /// last states seen.
    pub async fn wait_for(
        &mut self,
        tabs: &[WindowHandle],
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[TabState]) -> bool,
    ) -> Result<Vec<TabState>> {
        let deadline = Instant::now() + timeout;
        loop {
            let states = self.read_all(tabs).await?;
            if pred(&states) {
                return Ok(states);
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {what}; tabs show {states:#?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn quit(mut self) -> Result<()> {
        let result = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        result.map_err(Into::into)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The titles a tab shows, sorted (events with equal start times may list
/// in either order).
pub fn sorted_titles(state: &TabState) -> Vec<String> {
    let mut t = state.titles.clone();
    t.sort();
    t
}

/// Exactly one tab says "Leader", every other says "Follower", and all name
/// the same leader.
pub fn one_leader(states: &[TabState]) -> bool {
    let leaders: Vec<_> = states.iter().filter(|s| s.role.as_deref() == Some("Leader")).collect();
    let [leader] = leaders.as_slice() else {
        return false;
    };
    states
        .iter()
        .all(|s| (s.role.as_deref() == Some("Follower") || std::ptr::eq(s, *leader)) && s.leader == leader.node)
}
