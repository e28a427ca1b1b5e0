//! `/api/v1/orgs/{org}/audit` and verification.

use super::org_call;
use crate::app::AppState;
use crate::core::insight::AuditQuery;
use crate::http::error::ApiError;
use crate::http::extract::{AppQuery, Caller};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(Json(s.core.audit_entries(&call, &q).await?).into_response())
}

pub async fn verify(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    Ok(Json(s.core.audit_verify(&call).await?).into_response())
}

/// `/api/v1/audit/verify`: the host tenant's own chain.
pub async fn verify_host(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let name = caller.host.name.clone();
    let call = org_call(&s, &caller, &name).await?;
    Ok(Json(s.core.audit_verify(&call).await?).into_response())
}
