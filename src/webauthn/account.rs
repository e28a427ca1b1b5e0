//! `/account`: my passkeys (named, removable but never the last), my applications (SAML
//! service providers launched by IdP-initiated SSO, OIDC clients by their initiate-login
//! URI) and sign-out. Forms post with a CSRF token bound to the session, besides the exact
//! `Origin` check.

use super::{check_origin, csrf_token, current_session, json_body, pages, register, Failure};
use crate::app::AppState;
use crate::core::passkeys::CeremonyKind;
use crate::core::sessions::Session;
use crate::http::escape_html;
use crate::http::middleware::{CurrentTenant, RequestId};
use crate::tenancy::Tenant;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

pub async fn page(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let Some(session) = current_session(&s.core, &t, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    render(&s, &t, &session, StatusCode::OK, "signed in").await
}

async fn render(
    s: &AppState,
    t: &Tenant,
    session: &Session,
    code: StatusCode,
    status: &str,
) -> Result<Response, Failure> {
    let keys = s.core.list_passkeys(t, &session.user_id).await?;
    let acting = s.core.acting_msp(t, session).await?;
    let csrf = csrf_token(&s.core, &session.id);
    let only = keys.len() <= 1;
    let mut rows = String::new();
    for k in &keys {
        let remove = if only {
            "· <span>your only passkey (it cannot be removed)</span>".to_string()
        } else {
            format!(
                "<form method=\"post\" action=\"/account/passkeys/{id}/remove\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button type=\"submit\" aria-label=\"Remove passkey {name}\">Remove</button></form>",
                id = escape_html(&k.id),
                name = escape_html(&k.name),
            )
        };
        rows.push_str(&format!(
            "<li><strong>{name}</strong> · added {created} · last used {used} {remove}</li>",
            name = escape_html(&k.name),
            created = escape_html(&k.created_at),
            used = escape_html(k.last_used_at.as_deref().unwrap_or("never")),
        ));
    }
    let apps = apps_section(s, t, &csrf).await?;
    let body = format!(
        "{banner}<h1>Your account at {org}</h1>{status}{apps}\
         <section aria-labelledby=\"passkeys-h\"><h2 id=\"passkeys-h\">Your passkeys</h2><ul>{rows}</ul></section>\
         <section aria-labelledby=\"add-h\"><h2 id=\"add-h\">Add a passkey</h2>\
         <p><label for=\"passkey-name\">Name for the new passkey</label> \
         <input id=\"passkey-name\" name=\"name\" type=\"text\" maxlength=\"64\" value=\"Passkey\" autocomplete=\"off\"></p>\
         <p><button id=\"add-passkey\" type=\"button\" data-base=\"/account/passkeys\" data-csrf=\"{csrf}\">Add a passkey</button></p></section>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"logout\" type=\"submit\">Sign out</button></form>",
        banner = pages::msp_banner(acting.as_ref()),
        org = escape_html(&t.display_name),
        status = pages::status(status),
    );
    Ok(pages::page(code, &t.display_name, "Your account", &body))
}

/// "Your applications": a launch button per SAML SP (a form POST with the CSRF token) and
/// a link per OIDC client with an initiate-login URI.
async fn apps_section(s: &AppState, t: &Tenant, csrf: &str) -> Result<String, Failure> {
    use crate::core::apps::Launch;
    let apps = s.core.user_apps(t).await?;
    if apps.is_empty() {
        return Ok(String::new());
    }
    let mut rows = String::new();
    for a in &apps {
        let name = escape_html(&a.name);
        let start = match &a.launch {
            Launch::Saml { sp_id } => format!(
                "<form method=\"post\" action=\"/account/apps/saml/{id}\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button type=\"submit\" aria-label=\"Open {name}\">Open</button></form>",
                id = escape_html(sp_id),
            ),
            Launch::Link { url } => format!(
                "<a href=\"{url}\" aria-label=\"Open {name}\">Open</a>",
                url = escape_html(url),
            ),
        };
        rows.push_str(&format!(
            "<li><strong>{name}</strong> · {kind} {start}</li>",
            kind = a.kind
        ));
    }
    Ok(format!(
        "<section aria-labelledby=\"apps-h\"><h2 id=\"apps-h\">Your applications</h2><ul>{rows}</ul></section>"
    ))
}

/// `POST /account/apps/saml/{id}`: IdP-initiated SSO to one of the tenant's SAML service
/// providers (exact Origin, a session, the CSRF token; refusals audited).
pub async fn launch_saml(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    check_origin(&s.core, &t, &headers, &rid).await?;
    let Some(session) = current_session(&s.core, &t, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if let Err(e) = check_csrf(&s, &session, &body) {
        s.core
            .audit_refusal(
                &t,
                "request.csrf",
                Some(&session.user_id),
                "csrf",
                Some(rid.as_str()),
            )
            .await?;
        return Err(e);
    }
    Ok(crate::saml::launch(&s, &t, &session, &id).await)
}

/// The form's CSRF token must be the session's.
fn check_csrf(s: &AppState, session: &Session, body: &[u8]) -> Result<(), Failure> {
    let given = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    csrf_matches(s, session, &given)
}

fn csrf_matches(s: &AppState, session: &Session, given: &str) -> Result<(), Failure> {
    let expected = csrf_token(&s.core, &session.id);
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "this form expired; reload the page",
        ))
    }
}

pub async fn remove(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    check_origin(&s.core, &t, &headers, &rid).await?;
    let Some(session) = current_session(&s.core, &t, &headers).await? else {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "signed_out",
            "sign in first",
        ));
    };
    if let Err(e) = check_csrf(&s, &session, &body) {
        s.core
            .audit_refusal(
                &t,
                "request.csrf",
                Some(&session.user_id),
                "csrf",
                Some(rid.as_str()),
            )
            .await?;
        return Err(e);
    }
    match s
        .core
        .remove_passkey(&t, &session.user_id, &id, Some(rid.as_str()))
        .await
    {
        Ok(()) => Ok(Redirect::to("/account").into_response()),
        Err(e) => {
            let f = Failure::from(e);
            s.core
                .audit_refusal(
                    &t,
                    "passkey.remove_refused",
                    Some(&session.user_id),
                    f.code,
                    Some(rid.as_str()),
                )
                .await?;
            render(&s, &t, &session, f.status, &format!("error: {}", f.message)).await
        }
    }
}

pub async fn logout(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    check_origin(&s.core, &t, &headers, &rid).await?;
    if let Some(session) = current_session(&s.core, &t, &headers).await? {
        if let Err(e) = check_csrf(&s, &session, &body) {
            s.core
                .audit_refusal(
                    &t,
                    "request.csrf",
                    Some(&session.user_id),
                    "csrf",
                    Some(rid.as_str()),
                )
                .await?;
            return Err(e);
        }
        match s.core.end_session(&t, &session.id).await {
            Ok(()) | Err(crate::error::Error::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&s.core.session_cookie("", 0)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// A JSON request of the signed-in user: exact Origin, a session, and the CSRF token in
/// `X-CSRF-Token`. Failures are audited.
async fn signed_in_json(
    s: &AppState,
    t: &Tenant,
    rid: &RequestId,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Session, serde_json::Value), Failure> {
    check_origin(&s.core, t, headers, rid).await?;
    let body = json_body(headers, body)?;
    let Some(session) = current_session(&s.core, t, headers).await? else {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "signed_out",
            "sign in first",
        ));
    };
    let given = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Err(e) = csrf_matches(s, &session, given) {
        s.core
            .audit_refusal(
                t,
                "request.csrf",
                Some(&session.user_id),
                "csrf",
                Some(rid.as_str()),
            )
            .await?;
        return Err(e);
    }
    Ok((session, body))
}

/// `POST /account/passkeys/start`: options for another passkey of mine.
pub async fn add_start(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let (session, _) = signed_in_json(&s, &t, &rid, &headers, &body).await?;
    let user = s
        .core
        .passkey_user(&t, &session.user_id)
        .await?
        .ok_or(crate::error::Error::NotFound)?;
    register::begin(&s.core, &t, &user, None).await
}

/// `POST /account/passkeys/finish`: verify and store it.
pub async fn add_finish(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let (session, body) = signed_in_json(&s, &t, &rid, &headers, &body).await?;
    let me = session.user_id.as_str();
    let ceremony = body["ceremony"].as_str().unwrap_or_default();
    let taken = s
        .core
        .take_ceremony(&t, ceremony, CeremonyKind::Register, None)
        .await?;
    let state = match taken {
        Some((Some(user), state)) if user == me => state,
        _ => {
            s.core
                .audit_refusal(
                    &t,
                    "passkey.register_refused",
                    Some(me),
                    "ceremony_invalid",
                    Some(rid.as_str()),
                )
                .await?;
            return Err(register::ceremony_invalid());
        }
    };
    let new = match register::verify(&s.core, &t, &state, &body)? {
        Ok(new) => new,
        Err((reason, failure)) => {
            s.core
                .audit_refusal(
                    &t,
                    "passkey.register_refused",
                    Some(me),
                    reason,
                    Some(rid.as_str()),
                )
                .await?;
            return Err(failure);
        }
    };
    s.core.add_passkey(&t, me, new, Some(rid.as_str())).await?;
    let mut resp =
        axum::Json(serde_json::json!({"status": "registered", "next": "/account"})).into_response();
    crate::oidc::no_store(resp.headers_mut());
    Ok(resp)
}
