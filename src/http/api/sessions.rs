//! `/api/v1/orgs/{org}/sessions`, `/api/v1/orgs/{org}/keys` (the published token-signing
//! keys and SAML signing certificates, `?kind=jwt|saml`) and
//! `/api/v1/orgs/{org}/keys/rotate` (`?kind=saml` for the SAML certificate, which signs at
//! once; otherwise the token-signing keys, `?immediate=true` to sign at once).

use super::org_call;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::core::saml_keys::SamlCertificate;
use crate::http::error::ApiError;
use crate::http::extract::{AppQuery, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs/{org}/sessions", get(list))
        .route("/api/v1/orgs/{org}/sessions/{id}", delete(end))
        .route("/api/v1/orgs/{org}/keys", get(keys))
        .route("/api/v1/orgs/{org}/keys/rotate", post(rotate))
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<super::ListQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let items = s.core.api_list_sessions(&call).await?;
    Ok(Json(crate::http::extract::paginate(
        items,
        q.limit,
        q.cursor.as_deref(),
    )?)
    .into_response())
}

async fn end(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    s.core.api_end_session(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Which keys: the token-signing keys of the JWKS or the SAML signing certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum KeyKind {
    Jwt,
    Saml,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysQuery {
    kind: Option<KeyKind>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn saml_json(c: &SamlCertificate) -> Value {
    json!({
        "id": c.id,
        "kind": "saml",
        "alg": "RS256",
        "state": c.state,
        "fingerprint_sha256": c.fingerprint_sha256,
        "not_before": rfc3339(c.not_before),
        "not_after": rfc3339(c.not_after),
        "published_until": c.published_until.map(rfc3339),
        "certificate": c.certificate,
    })
}

/// The keys published now (public parts only, as the JWKS and the SAML metadata show
/// them): token-signing keys first, then SAML certificates, each in their own order.
async fn keys(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<KeysQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    let mut items = Vec::new();
    if q.kind != Some(KeyKind::Saml) {
        for k in s.core.published_jwt_keys(&call.org).await? {
            items.push(
                json!({"id": k.id, "kind": "jwt", "alg": k.alg, "kty": k.kty, "state": k.state}),
            );
        }
    }
    if q.kind != Some(KeyKind::Jwt) {
        for c in s.core.saml_certificates(&call.org).await? {
            items.push(saml_json(&c));
        }
    }
    Ok(Json(crate::http::extract::paginate(
        items,
        q.limit,
        q.cursor.as_deref(),
    )?)
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateQuery {
    /// `saml`: the SAML signing certificate; otherwise the token-signing keys.
    kind: Option<KeyKind>,
    /// Sign with the new token-signing keys at once instead of after the JWKS caches
    /// caught up (a new SAML certificate always signs at once).
    immediate: Option<bool>,
}

async fn rotate(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    AppQuery(q): AppQuery<RotateQuery>,
) -> Result<Response, ApiError> {
    let call = org_call(&s, &caller, &org).await?;
    if q.kind == Some(KeyKind::Saml) {
        if q.immediate.is_some() {
            return Err(crate::error::Error::invalid(
                "invalid_immediate",
                "a new SAML certificate always signs at once; immediate applies to kind=jwt",
            )
            .into());
        }
        let cert = s.core.api_rotate_saml_key(&call).await?;
        return Ok(
            Json(json!({"keys": [cert.id.clone()], "certificate": saml_json(&cert)}))
                .into_response(),
        );
    }
    let ids = s
        .core
        .api_rotate_keys(&call, q.immediate.unwrap_or(false))
        .await?;
    Ok(Json(json!({"keys": ids})).into_response())
}
