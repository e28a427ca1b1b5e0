//! `/api/v1/orgs/{org}/admins...`, API keys, explanations, and `/api/v1/me`.

use super::org_call;
use crate::app::AppState;
use crate::authz::{Grant, OrgAccess};
use crate::core::admins::AdminSpec;
use crate::core::manage::{AdminChange, AdminFilter, UpdateOutcome};
use crate::http::error::ApiError;
use crate::http::extract::{
    check_if_match, etag_of, paginate, resource, to_value, AppJson, AppQuery, Caller,
};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// POST /admins body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    pub email: String,
    pub name: Option<String>,
    pub org_access: Option<OrgAccess>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(f): AppQuery<AdminFilter>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.list_org_admins(&call, &f).await?;
    Ok(Json(paginate(items, f.limit, f.cursor.as_deref())?).into_response())
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(body): AppJson<NewAdmin>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let spec = AdminSpec::new(
        &body.email,
        body.name.as_deref(),
        body.org_access,
        body.grants,
    )?;
    let created = s.core.api_add_admin(&call, spec).await?;
    let mut conn = s.core.store.conn().await?;
    let (_, res, _) = s
        .core
        .find_admin(&mut conn, &call, &created.membership_id)
        .await?;
    let mut v = to_value(&res);
    v["enrolment_url"] = json!(created.enrolment_url);
    v["enrolment_expires_at"] = json!(created.enrolment_expires_at);
    Ok(resource(StatusCode::CREATED, v))
}

pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let mut conn = s.core.store.conn().await?;
    let (_, res, eff) = s.core.find_admin(&mut conn, &call, &id).await?;
    let mut v = to_value(&res);
    // The full picture only for one admin: visible networks with their accesses.
    v["effective"]["networks"] = json!(eff.networks);
    Ok(resource(StatusCode::OK, v))
}

async fn current(
    s: &AppState,
    call: &crate::core::manage::OrgCall,
    id: &str,
) -> Result<serde_json::Value, ApiError> {
    let mut conn = s.core.store.conn().await?;
    let (_, res, eff) = s.core.find_admin(&mut conn, call, id).await?;
    let mut v = to_value(&res);
    v["effective"]["networks"] = json!(eff.networks);
    Ok(v)
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    AppJson(body): AppJson<AdminChange>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    check_if_match(&headers, &current(&s, &call, &id).await?)?;
    match s.core.api_update_admin(&call, &id, body).await? {
        UpdateOutcome::Updated(_) => Ok(resource(StatusCode::OK, current(&s, &call, &id).await?)),
        UpdateOutcome::Removed { id } => {
            Ok(Json(json!({"id": id, "removed": true})).into_response())
        }
    }
}

pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    check_if_match(&headers, &current(&s, &call, &id).await?)?;
    s.core.api_delete_admin(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unlock(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_unlock_admin(&call, &id).await?;
    Ok(resource(StatusCode::OK, current(&s, &call, &id).await?))
}

pub async fn resend(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let (_, url, expires) = s.core.api_resend_enrolment(&call, &id).await?;
    let mut v = current(&s, &call, &id).await?;
    v["enrolment_url"] = json!(url);
    v["enrolment_expires_at"] = json!(expires);
    Ok(Json(v).into_response())
}

/// POST /admins/{id}/recover (rule 6, like unlock): the admin resource, with its ETag,
/// plus the new enrolment link and how many passkeys went.
pub async fn recover(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let done = s.core.api_recover_admin(&call, &id).await?;
    let v = current(&s, &call, &id).await?;
    let etag = etag_of(&v);
    let mut v = v;
    v["enrolment_url"] = json!(done.enrolment_url);
    v["enrolment_expires_at"] = json!(done.enrolment_expires_at);
    v["passkeys_removed"] = json!(done.passkeys_removed);
    let mut resp = Json(v).into_response();
    if let Ok(h) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, h);
    }
    Ok(resp)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
}

pub async fn create_key(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    AppJson(body): AppJson<NewKey>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let key = s.core.api_create_key(&call, &id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

pub async fn list_keys(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let keys = s.core.api_list_keys(&call, &id).await?;
    Ok(Json(json!({"items": keys, "next_cursor": null})).into_response())
}

pub async fn revoke_key(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_revoke_key(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    pub admin: String,
    pub network: Option<String>,
    pub capability: String,
}

pub async fn explain(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<ExplainQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(Json(
        s.core
            .explain(&call, &q.admin, q.network.as_deref(), &q.capability)
            .await?,
    )
    .into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoCanQuery {
    pub capability: String,
    pub network: Option<String>,
}

pub async fn who_can(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<WhoCanQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(Json(
        s.core
            .who_can(&call, &q.capability, q.network.as_deref())
            .await?,
    )
    .into_response())
}

pub async fn me(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(s.core.me(&caller.principal).await?).into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeQuery {
    pub org: Option<String>,
}

pub async fn my_privileges(
    State(s): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<MeQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(
        s.core
            .my_privileges(&caller.principal, q.org.as_deref())
            .await?,
    )
    .into_response())
}
