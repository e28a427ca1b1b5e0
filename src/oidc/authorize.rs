//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2, PKCE RFC 7636, RFC 9207
//! `iss` in every response). A request without a session is stored server-side and the
//! browser goes to `/login?pending=ID`; after sign-in, `/oauth2/authorize?pending=ID`
//! resumes it. Errors before the client and redirect URI are known never redirect.

use super::parse_form;
use crate::app::AppState;
use crate::core::clients::Client;
use crate::core::sessions::Session;
use crate::core::tokens::{Subject, CODE_PREFIX, CODE_TTL};
use crate::http::escape_html;
use crate::http::middleware::CurrentTenant;
use crate::ids::credential;
use crate::store::{sessions as session_rows, tokens as code_rows};
use crate::tenancy::Tenant;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

/// Pending requests wait this long for the sign-in.
const PENDING_TTL: i64 = 600;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub resource: Option<String>,
    pub response_mode: Option<String>,
    pub login_hint: Option<String>,
}

impl AuthorizeParams {
    fn from_map(m: &super::Form<'_>) -> Self {
        let g = |k: &str| m.get(k).map(str::to_string);
        AuthorizeParams {
            response_type: g("response_type"),
            client_id: g("client_id"),
            redirect_uri: g("redirect_uri"),
            scope: g("scope"),
            state: g("state"),
            nonce: g("nonce"),
            code_challenge: g("code_challenge"),
            code_challenge_method: g("code_challenge_method"),
            prompt: g("prompt"),
            max_age: g("max_age"),
            resource: g("resource"),
            response_mode: g("response_mode"),
            login_hint: g("login_hint"),
        }
    }
}

/// The session cookie's credential, if the request carries one.
pub fn session_cookie(s: &AppState, headers: &HeaderMap) -> Option<String> {
    crate::http::extract::cookie(headers, s.core.session_cookie_name())
}

pub async fn current_session(
    s: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Option<Session> {
    let cookie = session_cookie(s, headers)?;
    s.core
        .session_from_cookie(tenant, &cookie)
        .await
        .ok()
        .flatten()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let mut resp = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in error</title></head>\
             <body><main><h1>This sign-in request cannot continue</h1><p role=\"alert\">{}</p></main></body></html>",
            escape_html(message)
        )),
    )
        .into_response();
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// A redirect back to the client with `params` plus `state` and `iss`.
fn back(redirect_uri: &str, state: Option<&str>, iss: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return error_page(StatusCode::BAD_REQUEST, "invalid redirect URI"),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(st) = state {
            q.append_pair("state", st);
        }
        q.append_pair("iss", iss);
    }
    let mut resp = Redirect::to(url.as_str()).into_response();
    super::no_store(resp.headers_mut());
    resp
}

pub async fn get(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    let form = match parse_form(q.as_bytes()) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.description),
    };
    handle(&s, &t, &headers, form).await
}

pub async fn post(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.description),
    };
    handle(&s, &t, &headers, form).await
}

async fn handle(s: &AppState, t: &Tenant, headers: &HeaderMap, form: super::Form<'_>) -> Response {
    let now = s.core.clock.now();
    // Resuming a stored request after sign-in.
    let (params, resumed) = match form.get("pending") {
        Some(id) => {
            let stored = match s.core.store.conn().await {
                Ok(mut c) => session_rows::load_request(&mut c, &t.id, id, now)
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            match stored.and_then(|p| serde_json::from_str::<AuthorizeParams>(&p).ok()) {
                Some(p) => (p, Some(id.to_string())),
                None => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        "this sign-in request has expired; start again from the application",
                    )
                }
            }
        }
        None => (AuthorizeParams::from_map(&form), None),
    };
    let iss = s.core.issuer(&t.name);

    // 1. Client and redirect URI: errors here are shown, never redirected.
    let Some(client_id) = params.client_id.as_deref() else {
        return error_page(StatusCode::BAD_REQUEST, "client_id is missing");
    };
    let client = match s.core.client_or_builtin(t, client_id).await {
        Ok(Some(c)) => c,
        _ => return error_page(StatusCode::BAD_REQUEST, "unknown client"),
    };
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(u) if client.allows_redirect(u) => u.to_string(),
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "the redirect_uri is not registered for this client",
            )
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return error_page(StatusCode::BAD_REQUEST, "redirect_uri is missing"),
    };
    let state = params.state.as_deref();
    let fail = |error: &str, description: &str| {
        back(
            &redirect_uri,
            state,
            &iss,
            &[("error", error), ("error_description", description)],
        )
    };

    // 2. The request itself: errors go back to the client.
    if params.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    if !client.allows_grant("authorization_code") {
        return fail(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        );
    }
    let scope: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if let Some(bad) = scope.iter().find(|sc| !client.scopes.contains(sc)) {
        return fail(
            "invalid_scope",
            &format!("scope {bad} is not allowed for this client"),
        );
    }
    match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(_), Some("S256")) => {}
        (Some(c), None) if c.len() >= 43 => {
            return fail("invalid_request", "code_challenge_method must be S256")
        }
        (Some(_), Some(_)) | (Some(_), None) => {
            return fail("invalid_request", "only PKCE with S256 is accepted")
        }
        (None, _) if client.require_pkce || client.is_public() => {
            return fail(
                "invalid_request",
                "PKCE (code_challenge with S256) is required",
            )
        }
        (None, _) => {}
    }
    if params
        .code_challenge
        .as_deref()
        .is_some_and(|c| c.len() < 43 || c.len() > 128)
    {
        return fail(
            "invalid_request",
            "code_challenge must be 43 to 128 characters",
        );
    }
    if params.resource.as_deref().is_some_and(|r| {
        url::Url::parse(r)
            .map(|u| u.fragment().is_some())
            .unwrap_or(true)
    }) {
        return fail(
            "invalid_target",
            "resource must be an absolute URI without fragment",
        );
    }
    let max_age: Option<i64> = match params.max_age.as_deref() {
        None => None,
        Some(m) => match m.parse() {
            Ok(v) if v >= 0 => Some(v),
            _ => return fail("invalid_request", "max_age must be a non-negative integer"),
        },
    };
    let prompt: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if prompt.contains(&"none") && prompt.len() > 1 {
        return fail("invalid_request", "prompt=none cannot be combined");
    }

    // 3. The session.
    let session = current_session(s, t, headers).await;
    let fresh_enough = |sess: &Session| max_age.is_none_or(|m| now - sess.auth_time <= m);
    let usable = session
        .filter(|sess| fresh_enough(sess) && (resumed.is_some() || !prompt.contains(&"login")));
    let Some(session) = usable else {
        if prompt.contains(&"none") {
            return fail("login_required", "the user is not signed in");
        }
        let id = credential("")[..24].to_string();
        let saved = match s.core.store.conn().await {
            Ok(mut c) => {
                session_rows::save_request(
                    &mut c,
                    &t.id,
                    &id,
                    &serde_json::to_string(&params).unwrap_or_default(),
                    now + PENDING_TTL,
                )
                .await
            }
            Err(e) => Err(e),
        };
        if saved.is_err() {
            return fail("server_error", "the request could not be stored");
        }
        return Redirect::to(&format!("/login?pending={id}")).into_response();
    };
    if let Some(id) = &resumed {
        if let Ok(mut c) = s.core.store.conn().await {
            let _ = session_rows::delete_request(&mut c, &t.id, id).await;
        }
    }
    issue_code(
        s,
        t,
        &client,
        &session,
        &params,
        &scope,
        &redirect_uri,
        &iss,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn issue_code(
    s: &AppState,
    t: &Tenant,
    client: &Client,
    session: &Session,
    params: &AuthorizeParams,
    scope: &[String],
    redirect_uri: &str,
    iss: &str,
) -> Response {
    let state = params.state.as_deref();
    let subject = subject_of(t, session);
    let code = credential(CODE_PREFIX);
    let row = code_rows::CodeRow {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        user_id: subject.sub.clone(),
        subject: serde_json::to_string(&subject).unwrap_or_default(),
        session_id: Some(session.id.clone()),
        scope: scope.join(" "),
        nonce: params.nonce.clone(),
        code_challenge: params.code_challenge.clone(),
        resource: params.resource.clone(),
        auth_time: session.auth_time,
        amr: serde_json::to_string(&session.amr).unwrap_or_else(|_| "[]".into()),
        act: session.act.as_ref().map(|a| a.to_string()),
        expires_at: s.core.clock.now() + CODE_TTL,
    };
    let stored = match s.core.store.conn().await {
        Ok(mut c) => code_rows::insert_code(&mut c, &t.id, &s.core.hash_code(&code), &row).await,
        Err(e) => Err(e),
    };
    if stored.is_err() {
        return back(redirect_uri, state, iss, &[("error", "server_error")]);
    }
    back(redirect_uri, state, iss, &[("code", &code)])
}

/// Whose privileges a session carries: a local user, or (with `act`) an MSP user of this
/// customer's MSP acting through its customer-side identity.
pub fn subject_of(t: &Tenant, session: &Session) -> Subject {
    Subject::acting(t, &session.user_id, session.act.as_ref())
}
