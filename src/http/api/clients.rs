//! `/api/v1/orgs/{org}/clients...`: OAuth/OIDC client registrations (api.md
//! "integrations"). The secret appears only in the POST response, as `client_secret`.

use super::{org_call, ListQuery};
use crate::app::AppState;
use crate::core::clients::NewClient;
use crate::http::error::ApiError;
use crate::http::extract::{
    check_if_match, etag_of, paginate, resource, to_value, AppJson, AppQuery, Caller,
};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/clients", get(list).post(create))
        .route(
            "/api/v1/orgs/{org}/clients/{id}",
            get(get_one).delete(remove),
        )
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_clients(&call, q.q.as_deref()).await?;
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

/// 201 with the client and, for client_secret_basic/post, `client_secret` (once). The
/// ETag is the one a later GET answers, computed without the secret.
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<NewClient>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let (client, secret) = s.core.api_create_client(&call, body).await?;
    let mut v = to_value(&client);
    let etag = etag_of(&v);
    if let Some(secret) = secret {
        v["client_secret"] = json!(secret);
    }
    let mut resp = (StatusCode::CREATED, Json(v)).into_response();
    if let Ok(h) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, h);
    }
    Ok(resp)
}

pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let client = s.core.api_get_client(&call, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&client)))
}

pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    if headers.contains_key(header::IF_MATCH) {
        check_if_match(
            &headers,
            &to_value(&s.core.api_get_client(&call, &id).await?),
        )?;
    }
    s.core.api_delete_client(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
