//! `/api/v1/orgs/{org}/role-mappings...`: directory and federation role mappings
//! (api.md routes; the rules live in core::mappings).

use super::{org_call, ListQuery};
use crate::app::AppState;
use crate::core::mappings::MappingChange;
use crate::http::error::ApiError;
use crate::http::extract::{
    check_if_match, paginate, resource, to_value, AppJson, AppQuery, Caller,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/role-mappings", get(list).post(create))
        .route(
            "/api/v1/orgs/{org}/role-mappings/{id}",
            get(get_one).patch(update).delete(remove),
        )
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_mappings(&call, q.q.as_deref()).await?;
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<MappingChange>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let m = s.core.api_create_mapping(&call, body).await?;
    Ok(resource(StatusCode::CREATED, to_value(&m)))
}

async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let m = s.core.api_get_mapping(&call, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&m)))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    AppJson(body): AppJson<MappingChange>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let m = s
        .core
        .api_update_mapping(&call, &id, body, |m| check_if_match(&headers, &to_value(m)))
        .await?;
    Ok(resource(StatusCode::OK, to_value(&m)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core
        .api_delete_mapping(&call, &id, |m| check_if_match(&headers, &to_value(m)))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
