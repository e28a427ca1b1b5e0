//! `/portal/keys[?org=]`: the organization's token signing keys as its JWKS publishes
//! them (key id, algorithm, whether it signs now) and its SAML signing certificates as its
//! metadata publishes them (fingerprint, validity, the one signing now and those still in
//! the overlap), each with its own form:
//! - "Rotate signing keys", the same calls as `POST /api/v1/orgs/{org}/keys/rotate` (org
//!   full, then `Core::rotate_keys`): a new key per algorithm, published at once, signing
//!   after the JWKS caches caught up (or at once when asked); old keys stay published until
//!   their tokens expired.
//! - "Rotate SAML certificate" (`kind=saml`), as `POST .../keys/rotate?kind=saml` (org
//!   full, then `Core::rotate_saml_key` audited with the caller): the new certificate signs
//!   at once, the previous one stays in the metadata for the overlap.

use super::kit::{back, error_at, get_call, hidden, org_chooser, orgs_of, table, PortalPost};
use super::layout::{self, notice, Nav};
use super::{describe, field, Ctx};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::core::manage::OrgCall;
use crate::core::saml_keys::SAML_OVERLAP;
use crate::core::Core;
use crate::http::escape_html as esc;
use crate::http::middleware::CurrentTenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

const PATH: &str = "/portal/keys";
/// The forms' ids, where their errors are shown.
const JWT_FORM: &str = "rotate";
const SAML_FORM: &str = "rotate-saml";

pub async fn list(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (ctx, q, call) = match get_call(&s, &t, &headers, raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let news = match field(&q, "done") {
        Some("rotated") => Some("New signing keys created and published.".to_string()),
        Some("saml-rotated") => Some(format!(
            "New SAML signing certificate created; it signs now, and the previous one stays in the metadata for {} days.",
            SAML_OVERLAP / 86_400
        )),
        _ => None,
    };
    render(&s.core, &ctx, &call, StatusCode::OK, news.as_deref(), None).await
}

/// The token-signing keys' table.
async fn jwt_listing(core: &Core, call: &OrgCall) -> String {
    match core.published_jwt_keys(&call.org).await {
        Ok(keys) => {
            let mut rows = String::new();
            for k in &keys {
                rows.push_str(&format!(
                    "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&k.id),
                    esc(&k.alg),
                    esc(&k.kty),
                    if k.state == "active" { "signs now" } else { "published (next or retiring)" },
                ));
            }
            table(
                &format!(
                    "Published signing keys of {} ({})",
                    call.org.display_name,
                    keys.len()
                ),
                &["Key id", "Algorithm", "Key type", "State"],
                &rows,
                "No keys yet.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    }
}

/// The SAML certificates' table.
async fn saml_listing(core: &Core, call: &OrgCall) -> String {
    match core.saml_certificates(&call.org).await {
        Ok(certs) => {
            let mut rows = String::new();
            for c in &certs {
                let state = match c.published_until {
                    None => "signs now".to_string(),
                    Some(until) => format!("in the metadata until {}", rfc3339(until)),
                };
                rows.push_str(&format!(
                    "<tr><th scope=\"row\"><code>{}</code></th><td><code class=\"fingerprint\">{}</code></td>\
                     <td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&c.id),
                    esc(&c.fingerprint_sha256),
                    esc(&rfc3339(c.not_before)),
                    esc(&rfc3339(c.not_after)),
                    esc(&state),
                ));
            }
            table(
                &format!(
                    "SAML signing certificates of {} ({})",
                    call.org.display_name,
                    certs.len()
                ),
                &[
                    "Key id",
                    "SHA-256 fingerprint",
                    "Valid from",
                    "Valid until",
                    "State",
                ],
                &rows,
                "No SAML certificate yet: one is made when the SAML metadata is first fetched.",
            )
        }
        Err(e) => notice(true, &describe(&e).1),
    }
}

async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    status: StatusCode,
    news: Option<&str>,
    error: Option<(&str, &str)>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let jwt = jwt_listing(core, call).await;
    let saml = saml_listing(core, call).await;
    let (rotate, rotate_saml) = if call.is_org_full() {
        (
            format!(
                "<section aria-labelledby=\"rotate-h\"><h3 id=\"rotate-h\">Rotate</h3>{err}\
                 <form method=\"post\" action=\"{PATH}\">{hidden}\
                 <p><label for=\"rotate-now\"><input id=\"rotate-now\" name=\"immediate\" type=\"checkbox\" value=\"1\"> \
                 Sign with the new keys at once (relying parties that cache the JWKS may briefly reject new tokens)</label></p>\
                 <p><button type=\"submit\">Rotate signing keys</button></p></form></section>",
                err = error_at(error, JWT_FORM),
                hidden = hidden(ctx, call),
            ),
            format!(
                "<section aria-labelledby=\"rotate-saml-h\"><h3 id=\"rotate-saml-h\">Rotate the SAML certificate</h3>{err}\
                 <p class=\"hint\">The new certificate signs at once; the previous one stays in the metadata for {days} days, \
                 so service providers that refresh the metadata meanwhile accept both.</p>\
                 <form method=\"post\" action=\"{PATH}\">{hidden}<input type=\"hidden\" name=\"kind\" value=\"saml\">\
                 <p><button type=\"submit\">Rotate SAML certificate</button></p></form></section>",
                err = error_at(error, SAML_FORM),
                days = SAML_OVERLAP / 86_400,
                hidden = hidden(ctx, call),
            ),
        )
    } else {
        (error_at(error, JWT_FORM), error_at(error, SAML_FORM))
    };
    let body = format!(
        "<h1>Signing keys of {org}</h1>{chooser}{news}\
         <h2>Token signing keys</h2>\
         <p class=\"hint\">The JWKS document: <code>{jwks}</code></p>{jwt}{rotate}\
         <h2>SAML signing certificates</h2>\
         <p class=\"hint\">The SAML metadata: <code>{metadata}</code></p>{saml}{rotate_saml}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        jwks = esc(&format!(
            "{}/.well-known/jwks.json",
            core.issuer(&call.org.name)
        )),
        metadata = esc(&format!("{}/saml/metadata", core.issuer(&call.org.name))),
    );
    layout::page(ctx, &orgs, status, Nav::Keys, "Signing keys", &body)
}

/// POST `/portal/keys`: with `kind=saml` `api_rotate_saml_key` (org full, then
/// `rotate_saml_key`), otherwise `api_rotate_keys` (org full, then `rotate_keys`), as the
/// API; a refusal is shown at the form that asked.
pub async fn rotate(
    State(s): State<AppState>,
    PortalPost { ctx, call, form: f }: PortalPost,
) -> Response {
    let (result, at, done) = if field(&f, "kind") == Some("saml") {
        let r = s.core.api_rotate_saml_key(&call).await.map(|_| ());
        (r, SAML_FORM, "saml-rotated")
    } else {
        let r = s
            .core
            .api_rotate_keys(&call, field(&f, "immediate").is_some())
            .await
            .map(|_| ());
        (r, JWT_FORM, "rotated")
    };
    match result {
        Ok(()) => back(PATH, &call, &[("done", done)]),
        Err(e) => {
            let (status, message) = describe(&e);
            render(&s.core, &ctx, &call, status, None, Some((at, &message))).await
        }
    }
}
