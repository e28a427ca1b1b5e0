//! The outer request pipeline: request id, host -> tenant resolution, logging and metrics.
//!
//! Logs carry the route template, never the path (paths may hold tokens, product.md).

use super::error::ApiError;
use crate::app::AppState;
use crate::tenancy::{classify_host, HostKind, Tenant};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// The request's id: the caller's if it is 1-64 chars of `[A-Za-z0-9_-]`, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(crate::ids::request_id)
}

/// What the Host header designates.
#[derive(Debug, Clone)]
pub enum HostContext {
    /// The bare base host or an IP literal.
    Base,
    Tenant(Arc<Tenant>),
    Unknown,
}

impl HostContext {
    fn kind_label(&self) -> &'static str {
        match self {
            HostContext::Base => "none",
            HostContext::Unknown => "unknown",
            HostContext::Tenant(t) => t.kind.as_str(),
        }
    }
}

/// Routes that answer on any host.
fn any_host(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

pub async fn pipeline(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = request_id(&req);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let ctx = match classify_host(host, state.core.public_url.base_domain()) {
        HostKind::Base => HostContext::Base,
        HostKind::Other => HostContext::Unknown,
        HostKind::Label(label) => match state.core.tenants.by_name(&label).await {
            Ok(Some(t)) => HostContext::Tenant(t),
            Ok(None) => HostContext::Unknown,
            Err(e) => {
                tracing::error!(error = %e, request_id = %rid, "tenant lookup failed");
                let mut resp = super::error::error_body(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is temporarily unavailable.",
                );
                set_request_id(&mut resp, &rid);
                return resp;
            }
        },
    };
    // MatchedPath is reference-counted: no allocation per request.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let kind = ctx.kind_label();
    let path_allowed = any_host(req.uri().path())
        || match &ctx {
            HostContext::Tenant(_) => true,
            HostContext::Base => req.uri().path() == "/",
            HostContext::Unknown => false,
        };
    let span = tracing::info_span!("request", request_id = %rid, method = %req.method(), route = %route, tenant_kind = kind);
    let mut resp = if path_allowed {
        req.extensions_mut().insert(RequestId(rid.clone()));
        req.extensions_mut().insert(ctx);
        // Idempotency runs here rather than as a layer of its own: it needs the tenant,
        // and one layer less is one boxed clone of the router less per request.
        if super::idempotency::applies(&req) {
            super::idempotency::layer(State(state.clone()), req, next)
                .instrument(span)
                .await
        } else {
            next.run(req).instrument(span).await
        }
    } else {
        // Unknown host, or a tenant path on the bare host: reveal nothing.
        ApiError::not_found().into_response()
    };
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics.record(route, status, kind, elapsed);
    tracing::info!(
        request_id = %rid,
        route = %route,
        tenant_kind = kind,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    set_request_id(&mut resp, &rid);
    resp
}

fn set_request_id(resp: &mut Response, rid: &str) {
    if let Ok(v) = HeaderValue::from_str(rid) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
}

/// The tenant this host resolves to; any other host answers 404.
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Arc<Tenant>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<HostContext>() {
            Some(HostContext::Tenant(t)) => Ok(CurrentTenant(t.clone())),
            _ => Err(ApiError::not_found()),
        }
    }
}
