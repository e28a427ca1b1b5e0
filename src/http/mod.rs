//! HTTP: the error type, the request pipeline, health/readiness/metrics, and the neutral
//! pages. Handlers are thin: they take the tenant, call core, and map the result.

pub mod api;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod middleware;

use crate::app::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use middleware::HostContext;
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(home))
        .merge(api::routes())
        .merge(crate::oidc::routes())
        .merge(crate::webauthn::routes())
        .merge(crate::saml::routes())
        .merge(crate::federation::routes())
        .merge(crate::portal::routes())
        .merge(crate::scim::routes::routes())
        .fallback(not_found)
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers `SELECT 1` within 1 s.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.core.store.ping(Duration::from_secs(1)).await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(state.core.store.pool_stats());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found()
}

/// `/`: a neutral landing page on the bare host, the tenant's page on a tenant host.
async fn home(
    State(state): State<AppState>,
    ctx: HostContext,
    headers: axum::http::HeaderMap,
) -> Response {
    match ctx {
        HostContext::Tenant(t) => {
            let issuer = state.core.issuer(&t.name);
            // An MSP user switched in lands here: the customer always sees who acts.
            let banner = crate::webauthn::msp_banner_for(&state.core, &t, &headers).await;
            page(
                &t.display_name,
                &format!(
                    "{banner}<h1>{}</h1><p>Organization <code>{}</code> ({}).</p><p>Issuer: <code>{}</code></p>",
                    escape_html(&t.display_name),
                    escape_html(&t.name),
                    t.kind.as_str(),
                    escape_html(&issuer)
                ),
            )
        }
        HostContext::Base => page(
            "tenantry",
            "<h1>tenantry</h1><p>This identity provider serves each organization at its own \
             address. Open the address your administrator gave you.</p>",
        ),
        _ => error::ApiError::not_found().into_response(),
    }
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>{body}</body></html>",
        escape_html(title)
    ))
    .into_response()
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
