//! `Idempotency-Key` on POST to the admin API (api.md): the first answer is kept for 24 h
//! and a retry gets the same status and resource, so a retried create never creates twice.
//! A response that showed a secret once (API key, enrolment link) is not shown again: the
//! replay answers 409 `idempotent_replay` with the resource id.
//!
//! Keys are scoped by tenant and by caller (a hash of the Authorization header, never the
//! credential itself). A placeholder row claims the key first, so two concurrent requests
//! with one key cannot both run.

use super::error::{error_body, ApiError};
use super::middleware::HostContext;
use crate::app::AppState;
use crate::error::Error;
use crate::store::apikeys as rows;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
const KEEP_SECONDS: i64 = 24 * 3600;
const MAX_BODY: usize = 4 * 1024 * 1024;

fn has_secret(v: &serde_json::Value) -> bool {
    let secret_str = |x: &serde_json::Value| x.as_str().is_some_and(|s| s.contains("tnt_"));
    ["key", "secret", "client_secret", "token", "enrolment_url"]
        .iter()
        .any(|k| secret_str(&v[*k]))
}

/// Whether a request is one idempotency keys apply to: a POST to the admin API.
pub fn applies(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path().starts_with("/api/v1/")
}

/// Called by the pipeline for requests that `applies` to, after the tenant is known;
/// `next` runs the request.
pub async fn layer<F, Fut>(state: AppState, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    if !applies(&req) {
        return next(req).await;
    }
    let Some(key) = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next(req).await;
    };
    if key.is_empty() || key.len() > 255 {
        return ApiError(Error::invalid(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        ))
        .into_response();
    }
    let Some(HostContext::Tenant(tenant)) = HostContext::of(req.extensions()).cloned() else {
        return next(req).await;
    };
    let caller = match req.headers().get(header::AUTHORIZATION) {
        Some(a) => hex::encode(Sha256::digest(a.as_bytes())),
        // Unauthenticated requests are refused by the handler; nothing to remember.
        None => return next(req).await,
    };
    // The query is part of the request (`keys/rotate?kind=saml` is not `keys/rotate`).
    let route = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let now = state.core.clock.now();
    let result = async {
        let mut conn = state.core.store.conn().await?;
        if rows::idempotent_claim(
            &mut conn,
            &tenant.id,
            &caller,
            &key,
            &route,
            now,
            now - KEEP_SECONDS,
        )
        .await?
        {
            return Ok::<_, Error>(None);
        }
        rows::idempotent_get(&mut conn, &tenant.id, &caller, &key, now - KEEP_SECONDS).await
    }
    .await;
    let stored = match result {
        Ok(None) => None,
        Ok(Some(row)) => Some(row),
        Err(e) => return ApiError(e).into_response(),
    };
    if let Some(row) = stored {
        return replay(row, &route);
    }

    let resp = next(req).await;
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "response too large",
            )
        }
    };
    let outcome = async {
        let mut conn = state.core.store.conn().await?;
        if status.is_server_error() {
            // Let the client retry a failure on our side.
            return rows::idempotent_release(&mut conn, &tenant.id, &caller, &key).await;
        }
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let secret = has_secret(&json);
        let row = rows::IdempotencyRow {
            route: route.clone(),
            status: i64::from(status.as_u16()),
            body: if secret {
                String::new()
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            },
            resource_id: json["id"].as_str().map(str::to_string),
            had_secret: i64::from(secret),
            created_at: now,
        };
        rows::idempotent_put(&mut conn, &tenant.id, &caller, &key, &row).await
    }
    .await;
    if let Err(e) = outcome {
        tracing::error!(error = %e, "idempotency record failed");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(row: rows::IdempotencyRow, route: &str) -> Response {
    if row.route != route {
        return error_body(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request",
        );
    }
    if row.status == 0 {
        return error_body(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still running; retry shortly",
        );
    }
    if row.had_secret != 0 {
        let body = serde_json::json!({"error": {
            "code": "idempotent_replay",
            "message": "this request already succeeded; the secret it returned is shown only once",
            "details": {"id": row.resource_id},
        }});
        return (StatusCode::CONFLICT, axum::Json(body)).into_response();
    }
    let status = StatusCode::from_u16(row.status as u16).unwrap_or(StatusCode::OK);
    let mut resp = (status, row.body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
