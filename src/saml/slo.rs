//! `/saml/slo`: SP-initiated single logout (saml-profiles-2.0-os §4.4) over HTTP-Redirect
//! and HTTP-POST. A LogoutRequest is checked like an AuthnRequest (no DTDs or entities, an
//! issuer registered in THIS tenant, Destination equal to this tenant's SLO URL, a fresh
//! IssueInstant, an ID never seen before, a signature when the SP's metadata says its
//! requests are signed, a bad signature always refused). It then ends the user's sessions
//! named by its SessionIndexes and the browser's own session when it is the NameID's (a
//! signed request without SessionIndex ends all of that user's sessions here), clears the
//! session cookie, and answers a signed LogoutResponse at the SP's SingleLogoutService
//! from its metadata: HTTP-POST when it has one, else HTTP-Redirect with a query
//! signature. A refused request ends nothing.

use super::page;
use super::request::{self, refuse, Incoming, Refusal, MAX_XML, PROTOCOL_NS};
use super::response;
use super::sso::{current_session, post_page};
use super::xml::{check_plain, root_name, root_namespace};
use crate::app::AppState;
use crate::core::saml::{SamlSp, SloEndpoint, BINDING_POST, BINDING_REDIRECT};
use crate::http::middleware::CurrentTenant;
use crate::tenancy::Tenant;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use samael::signature::Signature;
use std::io::Write;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The parts of a LogoutRequest (saml-core-2.0-os §3.7.1) we read. samael's own type
/// reads SessionIndex as an attribute, so this one is ours.
#[derive(Debug, serde::Deserialize)]
struct LogoutRequestXml {
    #[serde(rename = "@ID", default)]
    id: String,
    #[serde(rename = "@Version", default)]
    version: String,
    #[serde(rename = "@IssueInstant", default)]
    issue_instant: String,
    #[serde(rename = "@Destination")]
    destination: Option<String>,
    #[serde(rename = "@NotOnOrAfter")]
    not_on_or_after: Option<String>,
    #[serde(rename = "Issuer")]
    issuer: Option<Text>,
    #[serde(rename = "Signature")]
    signature: Option<Signature>,
    #[serde(rename = "NameID")]
    name_id: Option<Text>,
    #[serde(rename = "SessionIndex", default)]
    session_index: Vec<Text>,
}

#[derive(Debug, serde::Deserialize)]
struct Text {
    #[serde(rename = "$text", default)]
    value: String,
}

/// A refused logout: 400 and a status element starting with `error:`.
fn logout_error(org: &str, message: &str) -> Response {
    page(
        axum::http::StatusCode::BAD_REQUEST,
        org,
        "Sign-out error",
        &format!(
            "<h1>This sign-out request cannot continue</h1>\
             <p id=\"status\" role=\"status\">error: {}</p>",
            crate::http::escape_html(message)
        ),
        None,
    )
}

fn has_param(query: &str, name: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name)
}

fn not_expected(t: &Tenant) -> Response {
    logout_error(
        &t.display_name,
        "this organization started no logout, so a LogoutResponse is not expected here",
    )
}

pub async fn get(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    if has_param(&q, "SAMLResponse") {
        return not_expected(&t);
    }
    match request::from_redirect(&q) {
        Ok(inc) => logout(&s, &t, &headers, inc).await,
        Err(r) => logout_error(&t.display_name, &r.0),
    }
}

pub async fn post(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match crate::oidc::parse_form(&body) {
        Ok(f) => f,
        Err(_) => return logout_error(&t.display_name, "the form is malformed"),
    };
    if form.contains_key("SAMLResponse") {
        return not_expected(&t);
    }
    match request::from_post(&form) {
        Ok(inc) => logout(&s, &t, &headers, inc).await,
        Err(r) => logout_error(&t.display_name, &r.0),
    }
}

fn timestamp(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|d| d.timestamp())
}

/// A checked LogoutRequest.
struct Checked {
    sp: SamlSp,
    id: String,
    name_id: String,
    session_indexes: Vec<String>,
    signed: bool,
    endpoint: SloEndpoint,
}

/// The SP's SingleLogoutService for our answer: HTTP-POST first, else HTTP-Redirect.
fn pick_endpoint(sp: &SamlSp) -> Option<SloEndpoint> {
    sp.slo
        .iter()
        .find(|e| e.binding == BINDING_POST)
        .or_else(|| sp.slo.iter().find(|e| e.binding == BINDING_REDIRECT))
        .cloned()
}

async fn check(s: &AppState, t: &Tenant, inc: &Incoming) -> Result<Checked, Refusal> {
    check_plain(&inc.xml, MAX_XML).map_err(|m| Refusal(m.into()))?;
    match root_name(&inc.xml) {
        Some((prefix, "LogoutRequest"))
            if root_namespace(&inc.xml, prefix) == Some(PROTOCOL_NS) => {}
        _ => return refuse("the message is not a SAML 2.0 LogoutRequest"),
    }
    let req: LogoutRequestXml = quick_xml::de::from_str(&inc.xml)
        .or_else(|_| refuse("the LogoutRequest cannot be read"))?;
    if req.version != "2.0" {
        return refuse("only SAML 2.0 requests are accepted");
    }
    if req.id.is_empty() || req.id.len() > 256 {
        return refuse("the request ID is missing or too long");
    }
    let sp = request::known_sp(&s.core, t, req.issuer.as_ref().map(|i| i.value.as_str())).await?;
    request::check_destination(&s.core, t, req.destination.as_deref(), "slo", "SLO")?;
    let signed = request::check_signature(inc, &req.id, req.signature.as_ref(), &sp)?;
    let Some(issued) = timestamp(&req.issue_instant) else {
        return refuse("the request's IssueInstant is missing or unreadable");
    };
    request::check_instant(&s.core, issued)?;
    if let Some(until) = &req.not_on_or_after {
        match timestamp(until) {
            Some(u) if u > s.core.clock.now() => {}
            _ => return refuse("the LogoutRequest has expired (NotOnOrAfter)"),
        }
    }
    let name_id = req
        .name_id
        .as_ref()
        .map(|n| n.value.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Refusal("the LogoutRequest names no NameID".into()))?;
    let session_indexes: Vec<String> = req
        .session_index
        .iter()
        .map(|i| i.value.trim().to_string())
        .filter(|i| !i.is_empty())
        .take(20)
        .collect();
    let Some(endpoint) = pick_endpoint(&sp) else {
        return refuse("this service provider's metadata has no SingleLogoutService");
    };
    request::remember(&s.core, t, &sp.id, &req.id).await?;
    Ok(Checked {
        sp,
        id: req.id,
        name_id,
        session_indexes,
        signed,
        endpoint,
    })
}

async fn logout(s: &AppState, t: &Tenant, headers: &HeaderMap, inc: Incoming) -> Response {
    let c = match check(s, t, &inc).await {
        Ok(c) => c,
        Err(r) => {
            tracing::info!(reason = %r.0, "SAML logout request refused");
            return logout_error(&t.display_name, &r.0);
        }
    };
    let cookie_session = current_session(s, t, headers).await;
    let ended = s
        .core
        .saml_logout(
            t,
            &c.name_id,
            &c.session_indexes,
            cookie_session.as_ref(),
            c.signed,
        )
        .await;
    if let Err(e) = ended {
        tracing::error!(error = %e, "SAML logout");
        return logout_error(
            &t.display_name,
            "the sign-out could not be completed; try again",
        );
    }
    tracing::info!(sp = %c.sp.id, "SAML single logout");
    let relay = inc.relay_state.as_deref().filter(|r| r.len() <= 1024);
    let mut resp = match answer(s, t, &c, relay).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "SAML logout response");
            return logout_error(
                &t.display_name,
                "you are signed out, but the answer to the application could not be made",
            );
        }
    };
    if cookie_session.is_some_and(|cs| cs.user_id == c.name_id) {
        if let Ok(v) = HeaderValue::from_str(&s.core.session_cookie("", 0)) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The signed LogoutResponse, by the endpoint's binding.
async fn answer(
    s: &AppState,
    t: &Tenant,
    c: &Checked,
    relay: Option<&str>,
) -> Result<Response, String> {
    let key = s.core.saml_key(t).await.map_err(|e| e.to_string())?;
    let issuer = s.core.issuer(&t.name);
    let now = s.core.clock.now();
    let dest = c
        .endpoint
        .response_location
        .clone()
        .unwrap_or_else(|| c.endpoint.location.clone());
    let irt = c.id.clone();
    if c.endpoint.binding == BINDING_POST {
        let d = dest.clone();
        let xml = tokio::task::spawn_blocking(move || {
            response::signed_logout_response(
                &issuer,
                &d,
                &irt,
                now,
                &key.private_der,
                &key.cert_der,
            )
        })
        .await
        .map_err(|e| e.to_string())??;
        return Ok(post_page(
            t,
            &dest,
            &xml,
            relay,
            "Signed out",
            &format!("Continue to {}", c.sp.entity_id),
            &format!("signed out; returning to {}", c.sp.entity_id),
        ));
    }
    let xml = response::logout_response(&issuer, &dest, &irt, now);
    let query = signed_redirect_query(&xml, relay, &key.private_der)?;
    let sep = if dest.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{dest}{sep}{query}")).into_response())
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// HTTP-Redirect encoding of a response (DEFLATE, base64, URL-encoded) with `SigAlg` and
/// an RSA-SHA256 `Signature` over the query as sent (saml-bindings-2.0-os §3.4.4.1).
fn signed_redirect_query(xml: &str, relay: Option<&str>, key_der: &[u8]) -> Result<String, String> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).map_err(|e| e.to_string())?;
    let deflated = e.finish().map_err(|e| e.to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut q = format!("SAMLResponse={}", enc(&b64.encode(deflated)));
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", enc(r)));
    }
    q.push_str(&format!("&SigAlg={}", enc(RSA_SHA256)));
    let pkey = openssl::pkey::PKey::private_key_from_pkcs8(key_der).map_err(|e| e.to_string())?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
        .map_err(|e| e.to_string())?;
    signer.update(q.as_bytes()).map_err(|e| e.to_string())?;
    let sig = signer.sign_to_vec().map_err(|e| e.to_string())?;
    q.push_str(&format!("&Signature={}", enc(&b64.encode(sig))));
    Ok(q)
}
