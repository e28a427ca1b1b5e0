//! `/portal/keys[?org=]`: the organization's token signing keys as its JWKS publishes
//! them (key id, algorithm, whether it signs now), and "Rotate", the same calls as
//! `POST /api/v1/orgs/{org}/keys/rotate` (org full, then `Core::rotate_keys`): a new key
//! per algorithm, published at once, signing after the JWKS caches caught up (or at once
//! when asked); old keys stay published until their tokens expired.

use super::kit::{back, error_at, get_call, hidden, org_chooser, orgs_of, post_call, table};
use super::layout::{self, notice, Nav};
use super::{describe, field, form, Ctx};
use crate::app::AppState;
use crate::core::manage::OrgCall;
use crate::core::Core;
use crate::error::Error;
use crate::http::escape_html as esc;
use crate::http::middleware::{CurrentTenant, RequestId};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::Value;

const PATH: &str = "/portal/keys";

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
    let news =
        (field(&q, "done") == Some("rotated")).then_some("New signing keys created and published.");
    render(&s.core, &ctx, &call, StatusCode::OK, news, None).await
}

/// The published keys: (kid, alg, kty, signs now).
async fn published(
    core: &Core,
    call: &OrgCall,
) -> Result<Vec<(String, String, String, bool)>, Error> {
    let keys = core.tenant_keys(&call.org).await?;
    let jwks: Value =
        serde_json::from_slice(&keys.jwks).map_err(|e| Error::internal(format!("jwks: {e}")))?;
    let signing: Vec<&str> = keys.signers.values().map(|(kid, _)| kid.as_str()).collect();
    Ok(jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            let kid = k["kid"].as_str().unwrap_or_default().to_string();
            let signs = signing.contains(&kid.as_str());
            (
                kid,
                k["alg"].as_str().unwrap_or_default().to_string(),
                k["kty"].as_str().unwrap_or_default().to_string(),
                signs,
            )
        })
        .collect())
}

async fn render(
    core: &Core,
    ctx: &Ctx,
    call: &OrgCall,
    status: StatusCode,
    news: Option<&str>,
    error: Option<&str>,
) -> Response {
    let orgs = orgs_of(core, ctx).await;
    let listing = match published(core, call).await {
        Ok(keys) => {
            let mut rows = String::new();
            for (kid, alg, kty, signs) in &keys {
                rows.push_str(&format!(
                    "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(kid),
                    esc(alg),
                    esc(kty),
                    if *signs { "signs now" } else { "published (next or retiring)" },
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
    };
    let rotate = if call.is_org_full() {
        format!(
            "<section aria-labelledby=\"rotate-h\"><h2 id=\"rotate-h\">Rotate</h2>{err}\
             <form method=\"post\" action=\"{PATH}\">{hidden}\
             <p><label for=\"rotate-now\"><input id=\"rotate-now\" name=\"immediate\" type=\"checkbox\" value=\"1\"> \
             Sign with the new keys at once (relying parties that cache the JWKS may briefly reject new tokens)</label></p>\
             <p><button type=\"submit\">Rotate signing keys</button></p></form></section>",
            err = error_at(error.map(|e| ("rotate", e)), "rotate"),
            hidden = hidden(ctx, call),
        )
    } else {
        error_at(error.map(|e| ("rotate", e)), "rotate")
    };
    let body = format!(
        "<h1>Signing keys of {org}</h1>{chooser}{news}\
         <p class=\"hint\">The JWKS document: <code>{jwks}</code></p>{listing}{rotate}",
        org = esc(&call.org.display_name),
        chooser = org_chooser(ctx, &orgs, PATH, call),
        news = news.map(|n| notice(false, n)).unwrap_or_default(),
        jwks = esc(&format!(
            "{}/.well-known/jwks.json",
            core.issuer(&call.org.name)
        )),
    );
    layout::page(ctx, &orgs, status, Nav::Keys, "Signing keys", &body)
}

/// POST `/portal/keys`: `api_rotate_keys` (org full, then `rotate_keys`), as the API.
pub async fn rotate(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let (ctx, call) = match post_call(&s, &t, &headers, &rid, &f).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let result = s
        .core
        .api_rotate_keys(&call, field(&f, "immediate").is_some())
        .await;
    match result {
        Ok(_) => back(PATH, &call, &[("done", "rotated")]),
        Err(e) => {
            let (status, message) = describe(&e);
            render(&s.core, &ctx, &call, status, None, Some(&message)).await
        }
    }
}
