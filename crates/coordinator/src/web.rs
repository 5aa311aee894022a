//! The web app, embedded in the binary at build time (release) or read from `web/` (debug),
//! so `cargo run` needs no Node.

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/"]
#[exclude = "tests/*"]
#[exclude = "node_modules/*"]
#[exclude = "scripts/*"]
#[exclude = "package*.json"]
struct Assets;

/// Serves `path` from the embedded app (`index.html` for the root).
pub(crate) fn asset(path: &str) -> Response {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match Assets::get(path) {
        Some(file) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_string()),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                file.data,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// Fallback handler for every non-API path.
pub(crate) async fn static_file(uri: Uri) -> Response {
    asset(uri.path())
}
