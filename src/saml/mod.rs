//! The SAML 2.0 identity provider of each tenant (product.md "Directory and federation",
//! issue 7): `/saml/metadata`, SSO at `/saml/sso` over HTTP-Redirect and HTTP-POST
//! (saml-bindings-2.0-os §3.4, §3.5), responses posted to the SP's ACS by an
//! auto-submitting form; single logout at `/saml/slo`; IdP-initiated SSO from the user's
//! app list (`/account/apps/saml/{id}`, launch.rs). samael and xmlsec types stay in this module; core sees
//! our own types. Must not import store.
//!
//! Cross-site POSTs to `/saml/sso` arrive without the `SameSite=Lax` session cookie, so a
//! validated request is stored server-side and the browser is sent on by a GET (which
//! carries the cookie) to `/saml/sso?pending=ID`, or to `/login?pending=ID` when nobody is
//! signed in; the passkey login resumes it there.

mod encrypt;
mod keycache;
mod launch;
mod metadata;
mod metadata_url;
mod request;
mod response;
mod slo;
mod sso;
pub mod xml;

pub use launch::launch;
pub use metadata::parse_sp_metadata;
pub use metadata_url::fetch_sp_metadata;
/// For benches/saml_sign.rs: the Response builder and signer the SSO endpoint uses.
pub use response::{signed_response, Context as ResponseContext};

use crate::app::AppState;
use crate::http::escape_html;
use crate::http::middleware::CurrentTenant;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/saml/metadata", get(metadata_doc))
        .route("/saml/sso", get(sso::get).post(sso::post))
        .route("/saml/slo", get(slo::get).post(slo::post))
        .route("/saml/autosubmit.js", get(script))
}

async fn metadata_doc(State(s): State<AppState>, CurrentTenant(t): CurrentTenant) -> Response {
    let key = match s.core.saml_key(&t).await {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "SAML key");
            return (StatusCode::INTERNAL_SERVER_ERROR, "try again later\n").into_response();
        }
    };
    let body = metadata::idp_metadata(&s.core.issuer(&t.name), &key.published);
    let mut resp = (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        body,
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// A page; `body` is already escaped HTML. `form_action` widens CSP `form-action` to the
/// one origin a response form posts to.
fn page(
    status: StatusCode,
    org: &str,
    title: &str,
    body: &str,
    form_action: Option<&str>,
) -> Response {
    let org = escape_html(org);
    let mut resp = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · {org}</title></head>\
             <body><header><p>{org}</p></header><main>{body}</main></body></html>",
            title = escape_html(title),
        )),
    )
        .into_response();
    let csp = format!(
        "default-src 'self'; base-uri 'none'; form-action {}; frame-ancestors 'none'",
        form_action.unwrap_or("'self'")
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    crate::oidc::no_store(h);
    resp
}

/// A refused request: 400 and a status element starting with `error:`.
fn error_page(org: &str, message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        org,
        "Sign-in error",
        &format!(
            "<h1>This sign-in request cannot continue</h1>\
             <p id=\"status\" role=\"status\">error: {}</p>",
            escape_html(message)
        ),
        None,
    )
}

const SCRIPT: &str = "\"use strict\";\n(function () {\n  var f = document.getElementById(\"saml-response\");\n  if (f) { f.submit(); }\n})();\n";

async fn script() -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
