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

/// Parses JSON, naming on failure the field the error is in (`scene.shapes[1].radius`;
/// empty at the top level), so a value such as `1e999` (JSON's nearest thing to infinity)
/// names its field and not just a line and column.
pub(crate) fn parse_json(text: &[u8]) -> Result<serde_json::Value, (String, serde_json::Error)> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        use serde_path_to_error::Segment;
        let mut path = String::new();
        // Stop at an unknown segment (an error before the next key was read): the known
        // prefix is the field to blame.
        for seg in e.path().iter() {
            match seg {
                Segment::Seq { index } => path.push_str(&format!("[{index}]")),
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Segment::Unknown => break,
            }
        }
        (path, e.into_inner())
    })?;
    de.end().map_err(|e| (String::new(), e))?;
    Ok(value)
}
