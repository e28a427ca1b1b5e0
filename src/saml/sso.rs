//! `/saml/sso` (SP-initiated Web Browser SSO, saml-profiles-2.0-os §4.1), and the signed
//! response posted to the SP's ACS (also used by IdP-initiated SSO, `launch.rs`).

use super::request::{self, Incoming, Valid};
use super::response::{self, Context};
use super::{error_page, page};
use crate::app::AppState;
use crate::core::sessions::Session;
use crate::http::escape_html;
use crate::http::middleware::CurrentTenant;
use crate::tenancy::Tenant;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;

pub(super) async fn current_session(
    s: &AppState,
    t: &Tenant,
    headers: &HeaderMap,
) -> Option<Session> {
    let cookie = crate::http::extract::cookie(headers, s.core.session_cookie_name())?;
    s.core.session_from_cookie(t, &cookie).await.ok().flatten()
}

pub async fn get(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    let pending = url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "pending")
        .map(|(_, v)| v.into_owned());
    if let Some(id) = pending {
        return resume(&s, &t, &headers, &id).await;
    }
    match request::from_redirect(&q) {
        Ok(inc) => proceed(&s, &t, &headers, inc, false).await,
        Err(r) => error_page(&t.display_name, &r.0),
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
        Err(_) => return error_page(&t.display_name, "the form is malformed"),
    };
    match request::from_post(&form) {
        Ok(inc) => proceed(&s, &t, &headers, inc, true).await,
        Err(r) => error_page(&t.display_name, &r.0),
    }
}

async fn proceed(
    s: &AppState,
    t: &Tenant,
    headers: &HeaderMap,
    inc: Incoming,
    posted: bool,
) -> Response {
    let valid = match request::validate(&s.core, t, inc).await {
        Ok(v) => v,
        Err(r) => {
            tracing::info!(reason = %r.0, "SAML request refused");
            return error_page(&t.display_name, &r.0);
        }
    };
    if !posted {
        if let Some(session) = current_session(s, t, headers).await {
            return answer(s, t, &session, &valid).await;
        }
    }
    // A cross-site POST carries no Lax cookie: keep the request and continue by GET.
    let value = serde_json::to_value(&valid).unwrap_or_default();
    let id = match s.core.save_saml_pending(t, &value).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "SAML pending request");
            return error_page(
                &t.display_name,
                "the request could not be stored; try again",
            );
        }
    };
    if posted {
        Redirect::to(&format!("/saml/sso?pending={id}")).into_response()
    } else {
        Redirect::to(&format!("/login?pending={id}")).into_response()
    }
}

async fn resume(s: &AppState, t: &Tenant, headers: &HeaderMap, id: &str) -> Response {
    let stored = s.core.load_saml_pending(t, id).await.ok().flatten();
    let Some(valid) = stored.and_then(|v| serde_json::from_value::<Valid>(v).ok()) else {
        return error_page(
            &t.display_name,
            "this sign-in request has expired; start again from the application",
        );
    };
    let Some(session) = current_session(s, t, headers).await else {
        return Redirect::to(&format!("/login?pending={id}")).into_response();
    };
    if let Err(e) = s.core.delete_saml_pending(t, id).await {
        tracing::error!(error = %e, "SAML pending request");
    }
    answer(s, t, &session, &valid).await
}

/// Where and how an answer goes: from a validated request, or unsolicited (IdP-initiated,
/// no InResponseTo).
pub(super) struct Target {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub in_response_to: Option<String>,
    pub relay_state: Option<String>,
}

impl From<&Valid> for Target {
    fn from(v: &Valid) -> Self {
        Target {
            sp_entity_id: v.sp_entity_id.clone(),
            acs_url: v.acs_url.clone(),
            in_response_to: Some(v.request_id.clone()),
            relay_state: v.relay_state.clone(),
        }
    }
}

async fn answer(s: &AppState, t: &Tenant, session: &Session, valid: &Valid) -> Response {
    answer_to(s, t, session, &Target::from(valid)).await
}

/// The signed response in an auto-submitting form to the ACS (a script file, no inline
/// script, plus a visible button).
pub(super) async fn answer_to(
    s: &AppState,
    t: &Tenant,
    session: &Session,
    target: &Target,
) -> Response {
    let fail = |what: &str, e: String| {
        tracing::error!(error = %e, "{what}");
        error_page(&t.display_name, "the response could not be made; try again")
    };
    let subject = match s.core.saml_subject(t, session).await {
        Ok(x) => x,
        Err(e) => return fail("SAML subject", e.to_string()),
    };
    let key = match s.core.saml_key(t).await {
        Ok(k) => k,
        Err(e) => return fail("SAML key", e.to_string()),
    };
    // Assertions are encrypted for SPs whose metadata has an encryption key.
    let encrypt_for = match s.core.saml_sp_by_entity(t, &target.sp_entity_id).await {
        Ok(sp) => sp
            .and_then(|sp| sp.encryption_certs.into_iter().next())
            .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok()),
        Err(e) => return fail("SAML SP lookup", e.to_string()),
    };
    let issuer = s.core.issuer(&t.name);
    let now = s.core.clock.now();
    let (audience, acs, irt) = (
        target.sp_entity_id.clone(),
        target.acs_url.clone(),
        target.in_response_to.clone(),
    );
    let signed = tokio::task::spawn_blocking(move || {
        let ctx = Context {
            issuer: &issuer,
            audience: &audience,
            acs_url: &acs,
            in_response_to: irt.as_deref(),
            now,
            encrypt_for: encrypt_for.as_deref(),
        };
        response::signed_response(&ctx, &subject, &key.private_der, &key.cert_der)
    })
    .await;
    let xml = match signed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return fail("SAML signing", e),
        Err(e) => return fail("SAML signing task", e.to_string()),
    };
    post_page(
        t,
        &target.acs_url,
        &xml,
        target.relay_state.as_deref(),
        "Signing you in",
        &format!("Continue to {}", target.sp_entity_id),
        &format!("sending you to {}", target.sp_entity_id),
    )
}

/// A SAML message posted to `action` by an auto-submitting form (HTTP-POST binding,
/// saml-bindings-2.0-os §3.5.4): `SAMLResponse` and `RelayState`, a button for browsers
/// without script, CSP `form-action` widened to that one origin.
pub(super) fn post_page(
    t: &Tenant,
    action: &str,
    xml: &str,
    relay_state: Option<&str>,
    title: &str,
    button: &str,
    status: &str,
) -> Response {
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
    let origin = url::Url::parse(action)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                escape_html(r)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>{title}</h1>\
         <form id=\"saml-response\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"SAMLResponse\" value=\"{encoded}\">{relay}\
         <p><button type=\"submit\">{button}</button></p></form>\
         <p id=\"status\" role=\"status\">{status}</p>\
         <script src=\"/saml/autosubmit.js\"></script>",
        title = escape_html(title),
        action = escape_html(action),
        button = escape_html(button),
        status = escape_html(status),
    );
    page(StatusCode::OK, &t.display_name, title, &body, Some(&origin))
}
