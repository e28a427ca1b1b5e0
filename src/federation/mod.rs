//! Inbound federation (issue 7 part 4): the tenant's admins sign in through their own
//! company's IdP. `routes` drives the browser (home-realm discovery, the way upstream and
//! back), `oidc` is the openidconnect adapter, `fetch` the guarded outgoing HTTP client.
//! Core (`core::federation`, `core::federation_login`) decides about accounts, roles and
//! sessions and sees only our own types. Must not import store.
//!
//! `saml_sp` is the samael adapter with us as SP (an IdP's metadata pasted or fetched
//! once by URL), `saml_routes` its endpoints, `dns` the hickory-resolver adapter that
//! looks up the TXT records verifying a connection's domains.

pub mod dns;
pub mod fetch;
pub mod oidc;
mod routes;
mod saml_routes;
pub mod saml_sp;

use crate::app::AppState;
use crate::core::federation::Connection;
use crate::core::federation_login::UpstreamUser;
use crate::http::escape_html;
use crate::http::middleware::RequestId;
use crate::tenancy::Tenant;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/federation/start", get(routes::start))
        .route("/federation/{connection}/callback", get(routes::callback))
        .route("/saml/sp/metadata", get(saml_routes::metadata_doc))
        .route("/saml/sp/acs", axum::routing::post(saml_routes::acs))
}

/// The address a request came from (the TCP peer), `unknown` without one.
pub(crate) struct ClientAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string()),
        ))
    }
}

/// Marks a refusal the browser's side caused (a bad state, a forged or refused answer),
/// which counts toward the per-address failure limit; an unreachable or misconfigured
/// upstream does not.
#[derive(Clone, Copy, Debug)]
struct CountsAsFailure;

/// Mark `resp`, the page of a refusal with `code`, as a failure of the client's address.
pub(crate) fn counted(mut resp: Response, code: &str) -> Response {
    let ours = matches!(
        code,
        "upstream_unreachable" | "bad_configuration" | "upstream_unusable" | "internal"
    );
    if !ours && !resp.status().is_server_error() {
        resp.extensions_mut().insert(CountsAsFailure);
    }
    resp
}

/// The per-address failure limit of sign-in (shared with passkey sign-in, security.md):
/// an address that used up its failures is refused (429, audited) before anything else;
/// a refused step counts one more.
pub(crate) async fn limited(
    s: &AppState,
    tenant: &Tenant,
    client: &str,
    rid: &RequestId,
    step: impl std::future::Future<Output = Response>,
) -> Response {
    match s.core.client_rate_limited(tenant, client).await {
        Ok(false) => {}
        Ok(true) => {
            let audited = s
                .core
                .audit_refusal(
                    tenant,
                    "login.rate_limited",
                    None,
                    "client_address",
                    Some(rid.as_str()),
                )
                .await;
            if let Err(e) = audited {
                tracing::error!(error = %e, "auditing a rate-limited federated sign-in");
            }
            return error_page(
                &tenant.display_name,
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed attempts from your network; try again in 15 minutes",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "federated sign-in rate limit");
            return error_page(
                &tenant.display_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side",
            );
        }
    }
    let resp = step.await;
    if resp.extensions().get::<CountsAsFailure>().is_some() {
        if let Err(e) = s.core.count_client_failure(tenant, client).await {
            tracing::error!(error = %e, "counting a refused federated sign-in");
        }
    }
    resp
}

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A refused sign-in: the status, and the reason after `error:` in `#status`.
pub(crate) fn error_page(org: &str, status: StatusCode, message: &str) -> Response {
    let org = escape_html(org);
    let mut resp = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Sign-in error · {org}</title></head><body><header><p>{org}</p></header>\
             <main><h1>This sign-in cannot continue</h1>\
             <p id=\"status\" role=\"status\">error: {}</p>\
             <p><a href=\"/login\">Back to sign-in</a></p></main></body></html>",
            escape_html(message)
        )),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    crate::oidc::no_store(h);
    resp
}

/// A pending request id as authorize.rs and saml issue them; anything else is dropped.
pub(crate) fn pending_id(p: Option<&str>) -> Option<&str> {
    p.filter(|p| {
        !p.is_empty()
            && p.len() <= 100
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// The upstream's answer was verified: sign in (core decides about the account), set the
/// session cookie and resume the pending request, as the passkey login does.
async fn signed_in(
    s: &AppState,
    t: &Tenant,
    rid: &RequestId,
    connection: &Connection,
    upstream: UpstreamUser,
    pending: Option<String>,
) -> Response {
    let done = s
        .core
        .finish_federated_sign_in(t, connection, upstream, Some(rid.as_str()))
        .await;
    let (session, secret) = match done {
        Ok(x) => x,
        Err(e) => {
            let (status, msg) = match &e {
                crate::error::Error::Internal(_) => {
                    tracing::error!(error = %e, "federated sign-in");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "something went wrong on our side".to_string(),
                    )
                }
                crate::error::Error::Invalid { message, .. } => {
                    (StatusCode::BAD_REQUEST, message.clone())
                }
                other => (StatusCode::FORBIDDEN, other.to_string()),
            };
            if let Err(err) = s
                .core
                .federation_refused(t, Some(connection), e.code(), Some(rid.as_str()))
                .await
            {
                tracing::error!(error = %err, "auditing a refused federated sign-in");
            }
            return counted(error_page(&t.display_name, status, &msg), e.code());
        }
    };
    let next = pending_id(pending.as_deref())
        .map(|p| match p.starts_with(crate::core::saml::PENDING_PREFIX) {
            true => format!("/saml/sso?pending={p}"),
            false => format!("/oauth2/authorize?pending={p}"),
        })
        .unwrap_or_else(|| "/account".into());
    let max_age = (session.expires_at - s.core.clock.now()).max(0);
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&next) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&s.core.session_cookie(&secret, max_age)) {
        h.append(header::SET_COOKIE, v);
    }
    crate::oidc::no_store(h);
    resp
}
