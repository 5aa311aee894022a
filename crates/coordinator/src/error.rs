//! HTTP errors, mapped once at the edge: a status, a message a user can act on, and the field
//! when one is to blame. Internals stay in the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_backend::BackendError;
use tessera_kinds::KindError;
use tessera_types::FieldError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a field is invalid (400).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The body is over the size limit (413).
    #[error("body: {0}")]
    TooLarge(String),
    /// No such job, task or file (404).
    #[error("{0}")]
    NotFound(String),
    /// The request does not fit the current state, e.g. a result before the job is done (409).
    #[error("{0}")]
    Conflict(String),
    /// Missing or wrong token (401).
    #[error("a valid token is required: send `Authorization: Bearer <token>` or `?token=`")]
    Unauthorized,
    /// Something broke on our side (500); the detail is logged, not sent.
    #[error("internal error; see the coordinator's log")]
    Internal(String),
}

impl ApiError {
    /// HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The field to blame, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid(f) => Some(&f.field),
            ApiError::TooLarge(_) => Some("body"),
            _ => None,
        }
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::NotFound(what) => ApiError::NotFound(format!("not found: {what}")),
            BackendError::Conflict(what) => ApiError::Conflict(what),
            BackendError::Storage(what) => ApiError::Internal(what),
        }
    }
}

impl From<KindError> for ApiError {
    fn from(e: KindError) -> Self {
        match e {
            KindError::Invalid(f) => ApiError::Invalid(f),
            KindError::UnknownKind(..) => {
                ApiError::Invalid(FieldError::new("kind", e.to_string().trim_start_matches("kind: ")))
            }
            KindError::Backend(b) => b.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let body = serde_json::json!({ "error": self.to_string(), "field": self.field() });
        (self.status(), axum::Json(body)).into_response()
    }
}

/// The field a JSON parse error is in (`scene.shapes[1].radius`), found by scanning `text` up
/// to the error's line and column; empty at the top level. serde_json reports only a position,
/// and a value such as `1e999` (JSON's nearest thing to infinity) should still name its field.
pub(crate) fn json_error_path(text: &[u8], e: &serde_json::Error) -> String {
    enum Frame {
        Obj(Option<String>),
        Arr(usize),
    }
    let mut offset = 0;
    for _ in 1..e.line() {
        match text[offset..].iter().position(|&b| b == b'\n') {
            Some(p) => offset += p + 1,
            None => break,
        }
    }
    let end = (offset + e.column().saturating_sub(1)).min(text.len());
    let (mut stack, mut key_next, mut i) = (Vec::new(), false, 0);
    while i < end {
        match text[i] {
            b'{' => {
                stack.push(Frame::Obj(None));
                key_next = true;
            }
            b'[' => stack.push(Frame::Arr(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Arr(n)) => *n += 1,
                Some(Frame::Obj(k)) => {
                    *k = None;
                    key_next = true;
                }
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < end && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                if key_next {
                    if let Some(Frame::Obj(k)) = stack.last_mut() {
                        *k = Some(String::from_utf8_lossy(&text[start..i.min(end)]).into_owned());
                    }
                    key_next = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for f in &stack {
        match f {
            Frame::Obj(Some(k)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Obj(None) => break,
            Frame::Arr(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}
