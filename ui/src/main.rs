//! The UI's entry point: render `App` into the page.

#[cfg(target_arch = "wasm32")]
fn main() {
    yew::Renderer::<ui::app::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The RaftCal UI runs in a browser: start it with `cargo xtask run`.");
    std::process::exit(2);
}
