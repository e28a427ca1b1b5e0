//! `/api/v1/staff...` on MSP hosts (api.md): MSP staff roles and scopes; DELETE offboards
//! the user everywhere. Any other host answers 404 (decided in core). Thin handlers over
//! `core::staff`.

use super::ListQuery;
use crate::app::AppState;
use crate::core::staff::{StaffChange, StaffSpec};
use crate::http::error::ApiError;
use crate::http::extract::{
    check_if_match, paginate, resource, to_value, AppJson, AppQuery, Caller,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff", get(list).post(create))
        .route(
            "/api/v1/staff/{id}",
            get(get_one).patch(update).delete(offboard),
        )
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let items = s
        .core
        .api_list_staff(&caller.principal, q.q.as_deref())
        .await?;
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<StaffSpec>,
) -> Result<Response, ApiError> {
    let (res, url, expires) = s
        .core
        .api_create_staff(&caller.principal, caller.request_id.clone(), body)
        .await?;
    let mut v = to_value(&res);
    v["enrolment_url"] = json!(url);
    v["enrolment_expires_at"] = json!(expires);
    Ok(resource(StatusCode::CREATED, v))
}

async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let res = s.core.api_staff(&caller.principal, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&res)))
}

/// If-Match, when given, must name the staff member as they are now.
async fn precondition(
    s: &AppState,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if headers.contains_key(axum::http::header::IF_MATCH) {
        let current = s.core.api_staff(&caller.principal, id).await?;
        check_if_match(headers, &to_value(&current))?;
    }
    Ok(())
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    AppJson(body): AppJson<StaffChange>,
) -> Result<Response, ApiError> {
    precondition(&s, &caller, &id, &headers).await?;
    let res = s
        .core
        .api_update_staff(&caller.principal, caller.request_id.clone(), &id, body)
        .await?;
    Ok(resource(StatusCode::OK, to_value(&res)))
}

/// Offboarding answers what it revoked.
async fn offboard(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    precondition(&s, &caller, &id, &headers).await?;
    let report = s
        .core
        .api_offboard_staff(&caller.principal, caller.request_id.clone(), &id)
        .await?;
    Ok(Json(report).into_response())
}
