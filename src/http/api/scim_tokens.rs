//! `/api/v1/orgs/{org}/scim-tokens...` (api.md "integrations"): SCIM bearer tokens. The
//! token appears only in the POST response, as `token`. Org read-only access lists them,
//! org full access creates and revokes them.

use super::{org_call, ListQuery};
use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{paginate, resource, to_value, AppJson, AppQuery, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/scim-tokens", get(list).post(create))
        .route(
            "/api/v1/orgs/{org}/scim-tokens/{id}",
            delete(revoke).get(get_one),
        )
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default = "default_name")]
    pub name: String,
}

fn default_name() -> String {
    "directory".into()
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let mut items = s.core.api_list_scim_tokens(&call).await?;
    if let Some(q) = q.q.as_deref().map(str::to_lowercase) {
        items.retain(|t| t.name.to_lowercase().contains(&q));
    }
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let t = s.core.api_get_scim_token(&call, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&t)))
}

/// 201 with the token (shown once) and the SCIM base URL to configure in the directory.
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<NewToken>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    call.require_org_full("create SCIM tokens")?;
    let view = s
        .core
        .create_scim_token(
            &call.org,
            &body.name,
            &call.actor(),
            call.request_id.as_deref(),
        )
        .await?;
    let mut v = to_value(&view);
    v["scim_base_url"] = serde_json::json!(s.core.scim_base(&call.org));
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    call.require_org_full("revoke SCIM tokens")?;
    s.core
        .revoke_scim_token(&call.org, &id, &call.actor(), call.request_id.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
