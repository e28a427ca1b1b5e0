//! `/federation/start` (home-realm discovery by e-mail domain, or a connection named by the
//! login page's button) and `/federation/{connection}/callback` (the upstream OIDC
//! provider sends the browser back). The state is stored server-side (single use, 10 min,
//! this tenant and connection) and tied to the browser by a short-lived host-only cookie,
//! so nobody can finish a sign-in somebody else started. Every refusal is an error page,
//! audited, and changes nothing else.

use super::fetch::Fetcher;
use super::{error_page, oidc, pending_id, ClientAddr};
use crate::app::AppState;
use crate::core::federation::{Connection, Kind};
use crate::core::federation_login::{PendingSignIn, StateProblem, STATE_TTL};
use crate::error::Error;
use crate::http::middleware::{CurrentTenant, RequestId};
use crate::tenancy::Tenant;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    email: Option<String>,
    connection: Option<String>,
    pending: Option<String>,
}

/// Answer for a refused step: the error page, after auditing it.
async fn refuse(
    s: &AppState,
    t: &Tenant,
    c: Option<&Connection>,
    rid: &RequestId,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    if let Err(e) = s
        .core
        .federation_refused(t, c, code, Some(rid.as_str()))
        .await
    {
        tracing::error!(error = %e, "auditing a refused federated sign-in");
    }
    super::counted(error_page(&t.display_name, status, message), code)
}

fn from_error(e: &Error) -> (StatusCode, String) {
    match e {
        Error::Invalid { message, .. } => (StatusCode::BAD_REQUEST, message.clone()),
        Error::Forbidden { message, .. } | Error::Unauthenticated { message, .. } => {
            (StatusCode::FORBIDDEN, message.clone())
        }
        Error::Conflict { message, .. } => (StatusCode::CONFLICT, message.clone()),
        Error::NotFound => (StatusCode::NOT_FOUND, "not found".into()),
        other => {
            tracing::error!(error = %other, "federated sign-in");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side".into(),
            )
        }
    }
}

fn fetcher(s: &AppState) -> Option<Fetcher> {
    Fetcher::new(s.core.allow_insecure_fetch)
        .map_err(|e| tracing::error!(error = %e, "federation HTTP client"))
        .ok()
}

fn broken(t: &Tenant) -> Response {
    error_page(
        &t.display_name,
        StatusCode::INTERNAL_SERVER_ERROR,
        "something went wrong on our side",
    )
}

/// The browser-binding cookie (host-only, only sent to `/federation`).
fn browser_cookie_name(s: &AppState) -> &'static str {
    if s.core.public_url.https {
        "__Secure-tenantry_fed"
    } else {
        "tenantry_fed"
    }
}

pub async fn start(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    ClientAddr(client): ClientAddr,
    Query(q): Query<StartQuery>,
) -> Response {
    let step = start_step(s.clone(), t.clone(), rid.clone(), q);
    super::limited(&s, &t, &client, &rid, step).await
}

async fn start_step(s: AppState, t: Arc<Tenant>, rid: RequestId, q: StartQuery) -> Response {
    let found = match (q.connection.as_deref(), q.email.as_deref()) {
        (Some(name), _) if !name.is_empty() => s.core.connection(&t, name).await.map(Some),
        (_, Some(email)) => s.core.connection_for_email(&t, email).await,
        _ => Ok(None),
    };
    let connection =
        match found {
            Ok(Some(c)) => c,
            Ok(None) | Err(Error::NotFound) => return refuse(
                &s,
                &t,
                None,
                &rid,
                StatusCode::BAD_REQUEST,
                "no_connection",
                "this organization has no single sign-on for that address; sign in with a passkey",
            )
            .await,
            Err(e) => {
                let (status, msg) = from_error(&e);
                return error_page(&t.display_name, status, &msg);
            }
        };
    let pending = pending_id(q.pending.as_deref()).map(str::to_string);
    match connection.kind {
        Kind::Oidc => start_oidc(&s, &t, &rid, &connection, q.email.as_deref(), pending).await,
        Kind::Saml => super::saml_routes::start(&s, &t, &rid, &connection, pending).await,
    }
}

async fn start_oidc(
    s: &AppState,
    t: &Arc<Tenant>,
    rid: &RequestId,
    connection: &Connection,
    email: Option<&str>,
    pending: Option<String>,
) -> Response {
    let Some(fetcher) = fetcher(s) else {
        return broken(t);
    };
    let settings = match s.core.oidc_settings(t, connection).await {
        Ok(x) => x,
        Err(e) => {
            let (status, msg) = from_error(&e);
            return error_page(&t.display_name, status, &msg);
        }
    };
    let state = s.core.new_federation_state();
    let hint = email.filter(|e| e.contains('@') && e.len() <= 320);
    let out = match oidc::authorization_url(&fetcher, &settings, &state, hint).await {
        Ok(o) => o,
        Err(r) => {
            return refuse(
                s,
                t,
                Some(connection),
                rid,
                StatusCode::BAD_GATEWAY,
                r.code,
                &r.message,
            )
            .await
        }
    };
    let sign_in = PendingSignIn {
        connection_id: connection.id.clone(),
        nonce: Some(out.nonce),
        pkce_verifier: Some(out.pkce_verifier),
        pending,
    };
    let browser = match s
        .core
        .begin_federated_sign_in(t, &state, sign_in, true)
        .await
    {
        Ok(b) => b.unwrap_or_default(),
        Err(e) => {
            let (status, msg) = from_error(&e);
            return error_page(&t.display_name, status, &msg);
        }
    };
    let secure = if s.core.public_url.https {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={browser}; Path=/federation; HttpOnly; SameSite=Lax; Max-Age={STATE_TTL}{secure}",
        browser_cookie_name(s)
    );
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let (Ok(loc), Ok(c)) = (
        HeaderValue::from_str(&out.url),
        HeaderValue::from_str(&cookie),
    ) {
        h.insert(header::LOCATION, loc);
        h.insert(header::SET_COOKIE, c);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    crate::oidc::no_store(h);
    resp
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn callback(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    rid: RequestId,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let step = callback_step(s.clone(), t.clone(), rid.clone(), name, q, headers);
    super::limited(&s, &t, &client, &rid, step).await
}

async fn callback_step(
    s: AppState,
    t: Arc<Tenant>,
    rid: RequestId,
    name: String,
    q: CallbackQuery,
    headers: HeaderMap,
) -> Response {
    let connection = match s.core.connection(&t, &name).await {
        Ok(c) if c.kind == Kind::Oidc => c,
        Ok(_) | Err(Error::NotFound) => {
            return error_page(&t.display_name, StatusCode::NOT_FOUND, "no such connection")
        }
        Err(e) => {
            let (status, msg) = from_error(&e);
            return error_page(&t.display_name, status, &msg);
        }
    };
    let c = Some(&connection);
    let browser = crate::http::extract::cookie(&headers, browser_cookie_name(&s));
    let state = q.state.as_deref().unwrap_or_default();
    let taken = s
        .core
        .take_federated_sign_in(&t, &connection, state, browser.as_deref())
        .await;
    let sign_in = match taken {
        Ok(Ok(p)) => p,
        Ok(Err(problem)) => {
            let (code, msg) = match problem {
                StateProblem::Unknown => (
                    "state_invalid",
                    "this sign-in expired or was already used; start again",
                ),
                StateProblem::Mismatch => (
                    "state_mismatch",
                    "this sign-in was not started in this browser; start again",
                ),
            };
            return refuse(&s, &t, c, &rid, StatusCode::BAD_REQUEST, code, msg).await;
        }
        Err(e) => {
            let (status, msg) = from_error(&e);
            return error_page(&t.display_name, status, &msg);
        }
    };
    if let Some(err) = q.error.as_deref() {
        let msg = format!(
            "the identity provider did not sign you in ({})",
            err.chars().take(60).collect::<String>()
        );
        return refuse(
            &s,
            &t,
            c,
            &rid,
            StatusCode::FORBIDDEN,
            "upstream_error",
            &msg,
        )
        .await;
    }
    let Some(code) = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2000)
    else {
        return refuse(
            &s,
            &t,
            c,
            &rid,
            StatusCode::BAD_REQUEST,
            "no_code",
            "the identity provider sent no sign-in code",
        )
        .await;
    };
    let Some(fetcher) = fetcher(&s) else {
        return broken(&t);
    };
    let settings = match s.core.oidc_settings(&t, &connection).await {
        Ok(x) => x,
        Err(e) => {
            let (status, msg) = from_error(&e);
            return error_page(&t.display_name, status, &msg);
        }
    };
    let upstream = oidc::finish(
        &fetcher,
        &settings,
        code,
        sign_in.pkce_verifier.as_deref().unwrap_or_default(),
        sign_in.nonce.as_deref().unwrap_or_default(),
        &connection.claim,
        s.core.clock.now(),
    )
    .await;
    let upstream = match upstream {
        Ok(u) => u,
        Err(r) => return refuse(&s, &t, c, &rid, StatusCode::FORBIDDEN, r.code, &r.message).await,
    };
    let mut resp = super::signed_in(&s, &t, &rid, &connection, upstream, sign_in.pending).await;
    // The browser binding has done its work.
    let clear = format!(
        "{}=; Path=/federation; HttpOnly; SameSite=Lax; Max-Age=0{}",
        browser_cookie_name(&s),
        if s.core.public_url.https {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
