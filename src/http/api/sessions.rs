//! `/api/v1/orgs/{org}/sessions` and `/api/v1/orgs/{org}/keys/rotate`.

use super::org_call;
use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AppQuery, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/sessions", get(list))
        .route("/api/v1/orgs/{org}/sessions/{id}", delete(end))
        .route("/api/v1/orgs/{org}/keys/rotate", post(rotate))
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<super::ListQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_sessions(&call).await?;
    Ok(Json(crate::http::extract::paginate(
        items,
        q.limit,
        q.cursor.as_deref(),
    )?)
    .into_response())
}

async fn end(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_end_session(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateQuery {
    /// Sign with the new keys at once instead of after the JWKS caches caught up.
    immediate: Option<bool>,
}

async fn rotate(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<RotateQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let ids = s
        .core
        .api_rotate_keys(&call, q.immediate.unwrap_or(false))
        .await?;
    Ok(Json(serde_json::json!({"keys": ids})).into_response())
}
