//! `/api/v1/orgs/{org}/federation...` (api.md conventions): upstream identity providers of
//! the organization (issue 7 part 4). Org read-only access lists them, org full access
//! creates and deletes them (privileges.md rule 1). The client secret is write-only. A
//! SAML IdP's metadata is given inline (`metadata`) or fetched once (`metadata_url`).
//!
//! `POST .../federation/{id}/domains/{domain}/verify` (org full) asks the server to look
//! up the domain's TXT record `_tenantry.{domain}` (its expected value is in the
//! connection's `domains[].dns_record`) and answers the domain as it now is; a missing or
//! different record, or DNS not answering, is 409 (`dns_record_missing`,
//! `dns_record_mismatch`, `dns_unavailable`) and changes nothing.

use super::org_call;
use crate::app::AppState;
use crate::core::federation::NewConnection;
use crate::http::error::ApiError;
use crate::http::extract::{paginate, resource, to_value, AppJson, AppQuery, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/federation", get(list).post(create))
        .route(
            "/api/v1/orgs/{org}/federation/{id}",
            get(show).delete(remove),
        )
        .route(
            "/api/v1/orgs/{org}/federation/{id}/domains/{domain}/verify",
            post(verify_domain),
        )
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<Page>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_connections(&call).await?;
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?).into_response())
}

pub async fn show(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let c = s.core.api_get_connection(&call, &id).await?;
    Ok(resource(StatusCode::OK, to_value(&c)))
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppJson(mut body): AppJson<NewConnection>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    // Privileges first: a caller who may not create learns nothing from parsing, and
    // makes us fetch nothing.
    call.require_org_full("change federation settings")?;
    crate::federation::saml_sp::prepare_idp_metadata(&mut body, s.core.allow_insecure_fetch)
        .await?;
    let c = s.core.api_create_connection(&call, body).await?;
    Ok(resource(StatusCode::CREATED, to_value(&c)))
}

pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_delete_connection(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn verify_domain(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id, domain)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let server = s.core.dns_server;
    let d = s
        .core
        .api_verify_domain_by_dns(&call, &id, &domain, |name| {
            crate::federation::dns::txt_records(server, name)
        })
        .await?;
    Ok(resource(StatusCode::OK, to_value(&d)))
}
