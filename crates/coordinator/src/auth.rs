//! Token check (DESIGN 6). With a token configured every request needs it, as a bearer
//! header, a `token` query parameter (WebSocket clients cannot set headers) or the cookie the
//! page gets when it was opened with `?token=`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const COOKIE: &str = "tessera_token";

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_token(req: &Request) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| kv.strip_prefix("token=").map(str::to_string))
}

fn presented(req: &Request) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(t) = v.strip_prefix("Bearer ") {
            out.push(t.trim().to_string());
        }
    }
    if let Some(t) = query_token(req) {
        out.push(t);
    }
    for v in req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()) {
        for c in v.split(';') {
            if let Some(t) = c.trim().strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')) {
                out.push(t.to_string());
            }
        }
    }
    out
}

/// Middleware refusing requests without the configured token.
pub(crate) async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.config().token.clone() else { return next.run(req).await };
    if !presented(&req).iter().any(|t| same(t, &token)) {
        return ApiError::Unauthorized.into_response();
    }
    let set_cookie = query_token(&req).is_some();
    let mut resp = next.run(req).await;
    if set_cookie {
        // The page's own scripts and images then authenticate without the query string.
        if let Ok(v) = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict").parse() {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    resp
}
