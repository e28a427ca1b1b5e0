//! `/api/v1/orgs/{org}/settings`: login policy, branding, require-approval.

use super::org_call;
use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{check_if_match, resource, AppJson, Caller};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/orgs/{org}/settings",
        get(get_settings).patch(update),
    )
}

async fn get_settings(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(resource(StatusCode::OK, s.core.api_settings(&call).await?))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    headers: HeaderMap,
    AppJson(patch): AppJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    check_if_match(&headers, &s.core.api_settings(&call).await?)?;
    Ok(resource(
        StatusCode::OK,
        s.core.api_update_settings(&call, patch).await?,
    ))
}
