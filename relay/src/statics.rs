//! The built UI: `dist/` with correct types, compression, cache headers and
//! an index fallback (a deep link loads the app).

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{HeaderValue, CACHE_CONTROL};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::services::{ServeDir, ServeFile};

pub fn service(dist: &Path) -> ServeDir<ServeFile> {
    // ServeDir guesses types from extensions: .wasm is application/wasm,
    // which browsers require for streaming compilation.
    ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")))
}

/// Trunk names built assets `name-<16 hex digits>[_bg].ext`: their content
/// never changes under that name, so browsers may keep them for a year.
pub fn is_hashed_asset(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or("");
    let Some((_, tail)) = file.rsplit_once('-') else {
        return false;
    };
    let hash: String = tail.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    hash.len() == 16 && tail.len() > 16 && matches!(tail.as_bytes()[16], b'.' | b'_')
}

pub async fn cache_headers(req: Request, next: Next) -> Response {
    let immutable = is_hashed_asset(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() {
        let value = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            // index.html and friends: always revalidate, so a new build shows.
            "no-cache"
        };
        res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(is_hashed_asset("/ui-50bfbf66e497109a_bg.wasm"));
        assert!(is_hashed_asset("/ui-50bfbf66e497109a.js"));
        assert!(is_hashed_asset("/style-b61ef8f5cc489d23.css"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/"));
        assert!(!is_hashed_asset("/my-file.js"));
        assert!(!is_hashed_asset("/x-50bfbf66e497109a"));
    }
}
