//! `/login`: usernameless passkey sign-in. The assertion names its credential; it is
//! looked up in this tenant only, verified, its counter recorded (a counter stuck at 0 is
//! fine, a regression is refused and audited), and a session starts. A pending OIDC
//! authorization request resumes afterwards.

use super::{
    check_origin, json_body, limited, pages, relying_party, signed_in, user_handle, Answer, Client,
    Failure, B64,
};
use crate::app::AppState;
use crate::core::passkeys::{regression, Assertion, CeremonyKind, Held, LoginFailure};
use crate::http::escape_html;
use crate::http::middleware::{CurrentTenant, RequestId};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PublicKeyCredential, WebauthnError,
};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pending: Option<String>,
}

/// A pending request id as authorize.rs issues them; anything else is dropped.
fn pending_id(p: Option<&str>) -> Option<&str> {
    p.filter(|p| {
        !p.is_empty()
            && p.len() <= 100
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

pub async fn page(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    Query(q): Query<LoginQuery>,
) -> Response {
    let pending = pending_id(q.pending.as_deref())
        .map(|p| format!(" data-pending=\"{}\"", escape_html(p)))
        .unwrap_or_default();
    let connections = match s.core.list_connections(&t).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "listing federation connections");
            Vec::new()
        }
    };
    let sso = pages::single_sign_on(&connections, pending_id(q.pending.as_deref()));
    let body = format!(
        "<h1>Sign in to {org}</h1>\
         <p><button id=\"login\" type=\"button\"{pending}>Sign in with a passkey</button></p>{status}{sso}",
        org = escape_html(&t.display_name),
        status = pages::status("ready"),
    );
    pages::page(StatusCode::OK, &t.display_name, "Sign in", &body)
}

pub async fn start(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let step = start_step(s.clone(), t.clone(), rid.clone(), headers, body);
    limited(&s.core, &t, &client, &rid, step).await
}

async fn start_step(
    s: AppState,
    t: std::sync::Arc<crate::tenancy::Tenant>,
    rid: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_origin(&s.core, &t, &headers, &rid).await?;
    json_body(&headers, &body)?;
    let rp = relying_party(&s.core, &t)?;
    let (options, state) = rp
        .start_discoverable_authentication()
        .map_err(|e| Failure::internal(format!("start authentication: {e}")))?;
    let state = serde_json::to_string(&state).map_err(|e| Failure::internal(e.to_string()))?;
    let mut options =
        serde_json::to_value(&options).map_err(|e| Failure::internal(e.to_string()))?;
    // A button press, not autofill: the browser's modal prompt.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let ceremony = s
        .core
        .begin_ceremony(&t, CeremonyKind::Login, None, None, state)
        .await?;
    let mut resp = axum::Json(json!({"ceremony": ceremony, "options": options})).into_response();
    crate::oidc::no_store(resp.headers_mut());
    Ok(resp)
}

fn refused(code: &'static str, message: &str) -> Failure {
    Failure::new(StatusCode::UNAUTHORIZED, code, message)
}

pub async fn finish(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let step = finish_step(s.clone(), t.clone(), rid.clone(), headers, body);
    limited(&s.core, &t, &client, &rid, step).await
}

async fn finish_step(
    s: AppState,
    t: std::sync::Arc<crate::tenancy::Tenant>,
    rid: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_origin(&s.core, &t, &headers, &rid).await?;
    let body = json_body(&headers, &body)?;
    let rid = Some(rid.as_str());
    let ceremony = body["ceremony"].as_str().unwrap_or_default();
    let Some(held) = s.core.hold_login_ceremony(&t, ceremony).await? else {
        s.core
            .audit_refusal(&t, "login.failure", None, "ceremony_invalid", rid)
            .await?;
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "ceremony_invalid",
            "this sign-in expired or was already used; start again",
        ));
    };
    // Single use: whatever happens from here, the ceremony is used up (by the sign-in's
    // own transaction, or released on a refusal).
    let answer = finish_held(&s, &t, &held, &body, rid).await;
    if answer.is_err() {
        s.core.release_login_ceremony(&t, &held).await?;
    }
    answer
}

/// The rest of a sign-in once its ceremony is held.
async fn finish_held(
    s: &AppState,
    t: &std::sync::Arc<crate::tenancy::Tenant>,
    held: &Held,
    body: &Value,
    rid: Option<&str>,
) -> Answer {
    let state: DiscoverableAuthentication = serde_json::from_str(&held.state)
        .map_err(|e| Failure::internal(format!("ceremony state: {e}")))?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(body["credential"].clone())
    else {
        s.core
            .audit_refusal(t, "login.failure", None, "malformed_credential", rid)
            .await?;
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_credential",
            "the passkey's answer is malformed",
        ));
    };
    let cred_id = B64.encode(credential.get_credential_id());
    let Some(candidate) = s.core.login_candidate(t, &cred_id).await? else {
        // Usernameless: nobody to count a failure against.
        s.core
            .audit_refusal(t, "login.failure", None, "unknown_credential", rid)
            .await?;
        return Err(refused(
            "unknown_passkey",
            "this passkey is not registered with this organization",
        ));
    };
    if candidate.locked {
        s.core
            .audit_refusal(t, "login.failure", Some(&candidate.user_id), "locked", rid)
            .await?;
        return Err(refused(
            "locked",
            "this account is locked (too many failed sign-ins) or disabled; try again later or ask an administrator",
        ));
    }
    let mut passkey: Passkey = serde_json::from_str(&candidate.passkey)
        .map_err(|e| Failure::internal(format!("stored passkey: {e}")))?;
    let expected = user_handle(t, &candidate.user_id);
    let handle_ok = credential
        .get_user_unique_id()
        .is_none_or(|h| h == expected.as_bytes().as_slice());
    let verified = if handle_ok {
        relying_party(&s.core, t)?.finish_discoverable_authentication_v2(
            &credential,
            state,
            &passkey,
        )
    } else {
        Err(WebauthnError::InvalidUserUniqueId)
    };
    let result = match verified {
        Ok(r) => r,
        Err(e) => {
            let why = if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                LoginFailure::CounterRegression
            } else {
                LoginFailure::Verification
            };
            tracing::info!(error = %e, "passkey assertion refused");
            s.core
                .login_failed(t, Some(&candidate.user_id), why, rid)
                .await?;
            return Err(match why {
                LoginFailure::CounterRegression => regression().into(),
                LoginFailure::Verification => {
                    refused("verification_failed", "the passkey could not be verified")
                }
            });
        }
    };
    passkey.update_credential(&result);
    let stored = serde_json::to_string(&passkey).map_err(|e| Failure::internal(e.to_string()))?;
    let (session, secret) = s
        .core
        .finish_login(
            t,
            &candidate,
            Assertion {
                passkey: stored,
                counter: i64::from(result.counter()),
                backup_eligible: result.backup_eligible(),
                backup_state: result.backup_state(),
            },
            held,
            rid,
        )
        .await?;
    let next = pending_id(body["pending"].as_str())
        .map(|p| match p.starts_with(crate::core::saml::PENDING_PREFIX) {
            true => format!("/saml/sso?pending={p}"),
            false => format!("/oauth2/authorize?pending={p}"),
        })
        .unwrap_or_else(|| "/account".into());
    Ok(signed_in(
        &s.core,
        &session,
        &secret,
        json!({"status": "signed in", "next": next}),
    ))
}
