//! `cargo xtask <command>` — the project's two set-up commands and helpers.
//!
//! - `run`  installs what is missing, builds the UI, starts the relay serving it.
//! - `test` installs what is missing (Chromium too), then runs every test:
//!   formatting and lints, native unit and simulation tests, the
//!   wasm-bindgen-test suite in headless Chromium, and the end-to-end tests.
//! - `sim`  runs a longer simulation campaign than `test` does.
//! - `bench` prints benchmark figures.
//!
//! Every install step checks first and skips what is already there, so the
//! commands are cheap to repeat and work the same on a bare machine and in CI.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// trunk 0.22 needs a newer rustc than these machines have (see TOOLCHAIN.md).
const TRUNK_VERSION: &str = "0.21.14";
/// Debian's binaryen (108) and the wasm-opt crate (116) cannot parse current
/// rustc output; npm's binaryen 132 can.
const BINARYEN_VERSION: &str = "132.0.0";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run [relay flags]   install what is missing, build the UI, start the relay
                      (e.g. `cargo xtask run --listen 0.0.0.0:8080`)
  test                install what is missing, then run every test
  sim [--seeds N] [--ticks M] [--first-seed S]
                      a long deterministic-simulation campaign (release build)
  bench               benchmarks (release build); figures, not pass/fail";

fn main() {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("run") => run(args.collect()),
        Some("test") => test(),
        Some("sim") => sim(args.collect()),
        Some("bench") => bench(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where tools installed outside cargo (binaryen from npm) live, shared by
/// every clone on this machine.
fn tools_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("raftcal").join("tools")
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// PATH with our tool directories first, so trunk finds the right wasm-opt.
fn tool_path() -> OsString {
    let mut dirs = vec![tools_dir().join("node_modules").join(".bin")];
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        dirs.push(home.join("bin"));
    }
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).unwrap_or_default()
}

fn cmd(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.current_dir(root()).env("PATH", tool_path());
    c
}

/// Run to completion; fail with the command line if it fails.
fn run_cmd(c: &mut Command) -> Result<()> {
    let line = format!("{c:?}");
    let status = c.status().with_context(|| format!("cannot start {line}"))?;
    if !status.success() {
        bail!("{line} failed ({status})");
    }
    Ok(())
}

/// The first line a tool prints for `--version`, if it runs at all.
fn version_of(program: &str, arg: &str) -> Option<String> {
    let out = cmd(program).arg(arg).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

fn step(name: &str) {
    println!("\nxtask: == {name}");
}

// ----- installing -----------------------------------------------------------

fn ensure_wasm_target() -> Result<()> {
    let out = cmd("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm32 target")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    step("installing the wasm32-unknown-unknown target");
    run_cmd(cmd("rustup").args(["target", "add", WASM_TARGET]))
}

/// The wasm-bindgen version Cargo.lock resolved (pinned with `=` in Cargo.toml).
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = ")) {
                return Ok(v.trim_matches('"').to_owned());
            }
        }
    }
    bail!("Cargo.lock has no wasm-bindgen entry")
}

fn ensure_wasm_bindgen() -> Result<()> {
    let wanted = locked_wasm_bindgen()?;
    let have = version_of("wasm-bindgen", "--version");
    let runner = version_of("wasm-bindgen-test-runner", "--version");
    let expected = format!("wasm-bindgen {wanted}");
    if have.as_deref() == Some(expected.as_str()) && runner.is_some() {
        return Ok(());
    }
    step(&format!("installing wasm-bindgen-cli {wanted} (about 5 minutes, once)"));
    // Not --locked: the registry mirror lacks one version the CLI's lock file
    // pins (TOOLCHAIN.md).
    run_cmd(cmd(cargo()).args(["install", "wasm-bindgen-cli", "--version", &wanted, "--force"]))
}

fn ensure_trunk() -> Result<()> {
    if version_of("trunk", "--version").as_deref() == Some(&format!("trunk {TRUNK_VERSION}")) {
        return Ok(());
    }
    step(&format!("installing trunk {TRUNK_VERSION} (about 11 minutes, once)"));
    run_cmd(cmd(cargo()).args(["install", "trunk", "--version", TRUNK_VERSION, "--locked", "--force"]))
}

fn ensure_wasm_opt() -> Result<()> {
    let dir = tools_dir();
    let wasm_opt = dir.join("node_modules").join(".bin").join("wasm-opt");
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    if version_of(&wasm_opt.to_string_lossy(), "--version").is_some_and(|v| v.contains(&format!("version {major}"))) {
        return Ok(());
    }
    if version_of("npm", "--version").is_none() {
        step("installing npm (for binaryen's wasm-opt)");
        apt_install(&["npm"]).context("npm is needed to install binaryen's wasm-opt")?;
    }
    step(&format!(
        "installing binaryen {BINARYEN_VERSION} (wasm-opt) into {}",
        dir.display()
    ));
    std::fs::create_dir_all(&dir)?;
    run_cmd(
        cmd("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )
}

fn apt_install(packages: &[&str]) -> Result<()> {
    if version_of("apt-get", "--version").is_none() {
        bail!("apt-get is not available: install {} by hand", packages.join(" "));
    }
    run_cmd(cmd("apt-get").arg("update").arg("-q"))
        .and_then(|()| run_cmd(cmd("apt-get").args(["install", "-y", "-q"]).args(packages)))
        .with_context(|| format!("installing {} with apt-get (this needs root)", packages.join(" ")))
}

fn ensure_chromium() -> Result<()> {
    if version_of("chromium", "--version").is_some() && version_of("chromedriver", "--version").is_some() {
        return Ok(());
    }
    step("installing Chromium and chromedriver from Debian's packages");
    apt_install(&["chromium", "chromium-driver"])
}

fn ensure_build_tools() -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_trunk()?;
    ensure_wasm_opt()
}

// ----- building and running -------------------------------------------------

fn build_ui() -> Result<()> {
    step("building the UI (trunk build --release)");
    run_cmd(cmd("trunk").args(["build", "--release"]))
}

fn run(relay_args: Vec<String>) -> Result<()> {
    let started = Instant::now();
    ensure_build_tools()?;
    build_ui()?;
    step("starting the relay");
    println!("xtask: ready after {:.0?}", started.elapsed());
    run_cmd(
        cmd(cargo())
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "relay",
                "--bin",
                "raftcal-relay",
                "--",
                "--dist",
                "dist",
            ])
            .args(relay_args),
    )
}

fn test() -> Result<()> {
    let started = Instant::now();
    ensure_build_tools()?;
    ensure_chromium()?;
    let chromedriver = which("chromedriver").unwrap_or_else(|| PathBuf::from("chromedriver"));
    let mut timings = Vec::new();
    let mut timed = |name: &str, c: &mut Command| -> Result<()> {
        step(name);
        let t = Instant::now();
        run_cmd(c)?;
        timings.push((name.to_owned(), t.elapsed()));
        Ok(())
    };

    timed(
        "formatting (cargo fmt --check)",
        cmd(cargo()).args(["fmt", "--all", "--", "--check"]),
    )?;
    timed(
        "lints (cargo clippy, native)",
        cmd(cargo()).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    )?;
    timed(
        "lints (cargo clippy, wasm32)",
        cmd(cargo()).args([
            "clippy",
            "-p",
            "node-wasm",
            "-p",
            "ui",
            "--all-targets",
            "--target",
            WASM_TARGET,
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    timed(
        "native tests: core, simulation (300 seeds), calendar, relay, UI state",
        cmd(cargo()).args(["test", "--workspace", "--exclude", "e2e"]),
    )?;
    timed(
        "browser tests: wasm-bindgen-test in headless Chromium",
        &mut wasm_tests(&chromedriver, false, &["idb", "ticker", "calendar"]),
    )?;
    timed(
        "UI build (trunk build --release)",
        cmd("trunk").args(["build", "--release"]),
    )?;
    timed(
        "end-to-end tests: relay + three Chromium tabs",
        cmd(cargo())
            .args(["test", "-p", "e2e"])
            .env("CHROMEDRIVER", &chromedriver)
            .env("RAFTCAL_DIST", root().join("dist")),
    )?;

    println!("\nxtask: every test passed in {:.0?}", started.elapsed());
    for (name, took) in timings {
        println!("xtask:   {took:>8.1?}  {name}");
    }
    Ok(())
}

/// Benchmarks: speed and cost figures, measured side by side in one run.
fn bench() -> Result<()> {
    ensure_build_tools()?;
    step("Raft core: messages and throughput on an in-memory 3-node cluster");
    run_cmd(cmd(cargo()).args(["bench", "-p", "node-wasm", "--bench", "raft"]))?;
    step("Calendar state machine: the cost of bookings, snapshot weight, queries, .ics");
    run_cmd(cmd(cargo()).args(["bench", "-p", "node-wasm", "--bench", "calendar"]))?;
    step("relay vs a bare tokio-tungstenite echo server, each in its own process");
    run_cmd(cmd(cargo()).args(["bench", "-p", "relay", "--bench", "relay"]))?;
    step("IndexedDB in headless Chromium: strict vs relaxed writes, batching");
    ensure_chromium()?;
    let chromedriver = which("chromedriver").unwrap_or_else(|| PathBuf::from("chromedriver"));
    run_cmd(wasm_tests(&chromedriver, true, &["idb_bench"]).args(["--", "--nocapture"]))
}

/// `cargo test` of node-wasm's browser test files in headless Chromium.
fn wasm_tests(chromedriver: &Path, release: bool, tests: &[&str]) -> Command {
    let mut c = cmd(cargo());
    c.arg("test");
    if release {
        c.arg("--release");
    }
    c.args(["--target", WASM_TARGET, "-p", "node-wasm"]);
    for t in tests {
        c.args(["--test", t]);
    }
    c.env("CHROMEDRIVER", chromedriver)
        // Bounds a whole test binary, not one test (TOOLCHAIN.md).
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300");
    c
}

/// A simulation campaign of any size: `--seeds`, `--ticks`, `--first-seed`.
fn sim(args: Vec<String>) -> Result<()> {
    let mut c = cmd(cargo());
    c.args([
        "test",
        "--release",
        "-p",
        "node-wasm",
        "--test",
        "simulation",
        "--",
        "campaign",
        "--nocapture",
    ]);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let var = match flag.as_str() {
            "--seeds" => "RAFTCAL_SIM_SEEDS",
            "--ticks" => "RAFTCAL_SIM_TICKS",
            "--first-seed" => "RAFTCAL_SIM_FIRST_SEED",
            other => bail!("unknown sim flag `{other}`\n\n{USAGE}"),
        };
        let value = it.next().with_context(|| format!("{flag} needs a number"))?;
        value
            .parse::<u64>()
            .with_context(|| format!("{flag} needs a whole number, not `{value}`"))?;
        c.env(var, value);
    }
    run_cmd(&mut c)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&tool_path())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
