//! Switching an MSP user into a customer (product.md "Switching into a customer"):
//! `/switch/start` on the customer host runs code + PKCE against the MSP's authorize
//! endpoint with `resource` = the customer's issuer, through the MSP's built-in client
//! `switch-{customer}`; `/switch/callback` redeems the code, exchanges the MSP token
//! (RFC 8693, the same checks as for API clients) and starts a fresh customer session
//! carrying `act`, never outliving the MSP session.

use crate::app::AppState;
use crate::core::audit::{self, Actor, Change};
use crate::core::clients::Client;
use crate::core::exchange::SWITCH_CLIENT_PREFIX;
use crate::core::tokens::{Subject, UserGrant};
use crate::http::middleware::CurrentTenant;
use crate::ids::credential;
use crate::store::{sessions as session_rows, tokens as code_rows};
use crate::tenancy::Tenant;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

const COOKIE: &str = "tenantry_switch";
const TTL: i64 = 300;

fn refuse(message: &str) -> Response {
    let mut resp = (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switch refused</title></head>\
             <body><main><h1>Switching in was refused</h1><p id=\"status\" role=\"status\">error: {}</p></main></body></html>",
            crate::http::escape_html(message)
        )),
    )
        .into_response();
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

fn query(q: Option<String>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub async fn start(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    RawQuery(q): RawQuery,
) -> Response {
    let q = query(q);
    if q.get("to").map(String::as_str) != Some(t.name.as_str()) {
        return crate::http::error::ApiError::not_found().into_response();
    }
    let Some(msp) = (match &t.msp_id {
        Some(id) => s.core.tenants.by_id(id).await.ok().flatten(),
        None => None,
    }) else {
        return crate::http::error::ApiError::not_found().into_response();
    };
    let state = credential("")[..32].to_string();
    let verifier = credential("");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let now = s.core.clock.now();
    let saved = match s.core.store.conn().await {
        Ok(mut c) => {
            session_rows::save_request(
                &mut c,
                &t.id,
                &format!("sw_{state}"),
                &json!({"verifier": verifier}).to_string(),
                now + TTL,
            )
            .await
        }
        Err(e) => Err(e),
    };
    if saved.is_err() {
        return refuse("the request could not be stored; try again");
    }
    let issuer = s.core.issuer(&t.name);
    let mut url = match url::Url::parse(&format!("{}/oauth2/authorize", s.core.issuer(&msp.name))) {
        Ok(u) => u,
        Err(_) => return refuse("bad MSP address"),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &format!("{SWITCH_CLIENT_PREFIX}{}", t.name))
        .append_pair("redirect_uri", &format!("{issuer}/switch/callback"))
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", &issuer);
    let secure = if s.core.public_url.https {
        "; Secure"
    } else {
        ""
    };
    let mut resp = Redirect::to(url.as_str()).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={state}; Path=/switch; HttpOnly; SameSite=Lax; Max-Age={TTL}{secure}"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn callback(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = query(q);
    match finish(&s, &t, &headers, &q).await {
        Ok(resp) => resp,
        Err(message) => refuse(&message),
    }
}

async fn finish(
    s: &AppState,
    t: &Tenant,
    headers: &HeaderMap,
    q: &std::collections::HashMap<String, String>,
) -> Result<Response, String> {
    if let Some(e) = q.get("error") {
        return Err(format!("the MSP answered {e}"));
    }
    let state = q.get("state").ok_or("state is missing")?;
    if crate::http::extract::cookie(headers, COOKIE).as_deref() != Some(state.as_str()) {
        return Err("this switch was not started in this browser".into());
    }
    let msp = match &t.msp_id {
        Some(id) => s
            .core
            .tenants
            .by_id(id)
            .await
            .ok()
            .flatten()
            .ok_or("no MSP")?,
        None => return Err("this organization has no MSP".into()),
    };
    if q.get("iss").is_some_and(|i| *i != s.core.issuer(&msp.name)) {
        return Err("the answer came from another issuer".into());
    }
    let now = s.core.clock.now();
    let mut conn = s.core.store.conn().await.map_err(|_| "try again")?;
    let key = format!("sw_{state}");
    let stored = session_rows::load_request(&mut conn, &t.id, &key, now)
        .await
        .ok()
        .flatten()
        .ok_or("the switch expired; start again")?;
    let _ = session_rows::delete_request(&mut conn, &t.id, &key).await;
    let verifier = serde_json::from_str::<serde_json::Value>(&stored)
        .ok()
        .and_then(|v| v["verifier"].as_str().map(str::to_string))
        .ok_or("bad state")?;

    // Redeem the MSP's code as its built-in client would at the token endpoint.
    let code = q.get("code").ok_or("code is missing")?;
    let row = code_rows::consume_code(&mut conn, &msp.id, &s.core.hash_code(code))
        .await
        .ok()
        .flatten()
        .ok_or("the code is invalid or used")?;
    drop(conn);
    let client_id = format!("{SWITCH_CLIENT_PREFIX}{}", t.name);
    let redirect = format!("{}/switch/callback", s.core.issuer(&t.name));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if row.client_id != client_id
        || row.redirect_uri != redirect
        || row.expires_at <= now
        || row.code_challenge.as_deref() != Some(challenge.as_str())
    {
        return Err("the code does not belong to this switch".into());
    }
    let client: Client = s
        .core
        .client_or_builtin(&msp, &client_id)
        .await
        .ok()
        .flatten()
        .ok_or("no switching client")?;
    let subject: Subject = serde_json::from_str(&row.subject).map_err(|_| "bad code")?;
    let msp_tokens = s
        .core
        .issue_user_tokens(
            &msp,
            &client,
            &UserGrant {
                subject,
                session_id: row.session_id.clone(),
                scope: vec!["openid".into()],
                nonce: None,
                auth_time: row.auth_time,
                amr: serde_json::from_str(&row.amr).unwrap_or_default(),
                act: None,
                resource: row.resource.clone(),
            },
            None,
        )
        .await
        .map_err(|_| "the MSP token could not be made")?;
    let ex = s
        .core
        .accept_subject_token(t, &msp_tokens.access_token)
        .await
        .map_err(|e| e.to_string())?;
    let msp_session_end = match &row.session_id {
        Some(id) => s
            .core
            .session_by_id(&msp, id)
            .await
            .ok()
            .flatten()
            .map(|m| m.expires_at),
        None => None,
    };
    let cap = Some(msp_session_end.unwrap_or(ex.not_after));
    let amr: Vec<&str> = ex.amr.iter().map(String::as_str).collect();
    let (_, secret) = s
        .core
        .create_session_until(t, &ex.subject.sub, &amr, Some(ex.act.clone()), cap)
        .await
        .map_err(|_| "the session could not be started")?;
    // The customer's log names the MSP user and the MSP.
    if let Ok(mut tx) = s.core.store.begin().await {
        let actor = Actor {
            id: ex.subject.user_id.clone(),
            msp: Some(msp.name.clone()),
            msp_user: Some(ex.subject.user_id.clone()),
        };
        let appended = audit::append(
            &s.core.keys,
            &mut tx,
            &t.id,
            &actor,
            Change {
                action: "msp.switch_in",
                target: format!("user:{}", ex.subject.sub),
                before: None,
                after: None,
            },
            now,
            None,
        )
        .await;
        if appended.is_ok() {
            let _ = tx.commit().await;
        }
    }
    let max_age = cap.map(|c| c - now).unwrap_or(3600).max(0);
    let mut resp = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&s.core.session_cookie(&secret, max_age)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/switch; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
