//! The admin API's error format `{"error":{"code","message"}}` (api.md), as an axum
//! response. Internal detail is logged under the request's span, never sent.

use crate::error::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError(Error::NotFound)
    }
}

pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self.0 {
            Error::NotFound => error_body(StatusCode::NOT_FOUND, "not_found", "Not found."),
            Error::Conflict { code, message } => error_body(StatusCode::CONFLICT, code, message),
            Error::Forbidden { code, message } => error_body(StatusCode::FORBIDDEN, code, message),
            Error::Invalid { code, message } => error_body(StatusCode::BAD_REQUEST, code, message),
            Error::Stale => error_body(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The resource changed since you read it; fetch it again and retry.",
            ),
            Error::Unauthenticated { code, message } => {
                let mut resp = error_body(StatusCode::UNAUTHORIZED, code, message);
                let challenge = if *code == "missing_credentials" {
                    "Bearer realm=\"tenantry\"".to_string()
                } else {
                    format!("Bearer realm=\"tenantry\", error=\"{code}\"")
                };
                if let Ok(v) = axum::http::HeaderValue::from_str(&challenge) {
                    resp.headers_mut()
                        .insert(axum::http::header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side; quote the X-Request-Id when reporting it.",
                )
            }
        }
    }
}
