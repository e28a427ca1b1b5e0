//! `/api/v1/orgs/{org}/networks...`: networks, tags, port privileges.

use super::{org_call, ListQuery};
use crate::app::AppState;
use crate::core::networks::{NetworkChange, NewNetwork, NewPortPrivilege};
use crate::http::error::ApiError;
use crate::http::extract::{
    check_if_match, paginate, resource, to_value, AppJson, AppQuery, Caller,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_networks(&call, q.q.as_deref()).await?;
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<NewNetwork>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let n = s.core.api_create_network(&call, body).await?;
    Ok(resource(StatusCode::CREATED, to_value(&n)))
}

pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(resource(
        StatusCode::OK,
        to_value(&s.core.api_get_network(&call, &id).await?),
    ))
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    AppJson(body): AppJson<NetworkChange>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    check_if_match(
        &headers,
        &to_value(&s.core.api_get_network(&call, &id).await?),
    )?;
    Ok(resource(
        StatusCode::OK,
        to_value(&s.core.api_update_network(&call, &id, body).await?),
    ))
}

pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    check_if_match(
        &headers,
        &to_value(&s.core.api_get_network(&call, &id).await?),
    )?;
    s.core.api_delete_network(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_ports(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let n = s.core.api_get_network(&call, &id).await?;
    Ok(Json(serde_json::json!({"items": n.port_privileges, "next_cursor": null})).into_response())
}

pub async fn add_port(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    AppJson(body): AppJson<NewPortPrivilege>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(resource(
        StatusCode::CREATED,
        to_value(&s.core.api_add_port_privilege(&call, &id, body).await?),
    ))
}

pub async fn remove_port(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_delete_port_privilege(&call, &id, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
