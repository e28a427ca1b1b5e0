//! `/api/v1/orgs/{org}/delegations...` (api.md): list and create, one delegation, approve,
//! revoke. Thin handlers over `core::delegations`.

use super::org_call;
use crate::app::AppState;
use crate::core::delegations::{DelegationFilter, DelegationSpec};
use crate::http::error::ApiError;
use crate::http::extract::{
    check_if_match, paginate, resource, to_value, AppJson, AppQuery, Caller,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/delegations", get(list).post(create))
        .route(
            "/api/v1/orgs/{org}/delegations/{id}",
            get(get_one).delete(revoke),
        )
        .route("/api/v1/orgs/{org}/delegations/{id}/approve", post(approve))
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(f): AppQuery<DelegationFilter>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_delegations(&call, &f).await?;
    Ok(Json(paginate(items, f.limit, f.cursor.as_deref())?).into_response())
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<DelegationSpec>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let d = s.core.api_create_delegation(&call, body).await?;
    Ok(resource(StatusCode::CREATED, to_value(&d)))
}

async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let d = s.core.api_delegation(&call, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&d)))
}

async fn approve(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let d = s.core.api_approve_delegation(&call, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&d)))
}

async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    if headers.contains_key(axum::http::header::IF_MATCH) {
        let current = s.core.api_delegation(&call, &id).await?;
        check_if_match(&headers, &to_value(&current))?;
    }
    s.core.api_revoke_delegation(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
