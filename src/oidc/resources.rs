//! Userinfo (OIDC Core §5.3), introspection (RFC 7662), revocation (RFC 7009) and
//! RP-initiated logout (OIDC RP-Initiated Logout 1.0).

use super::authorize::{current_session, subject_of};
use super::{client_credentials, no_store, parse_form, AuthorizationHeader, OAuthError};
use crate::app::AppState;
use crate::core::tokens::{Subject, REFRESH_PREFIX};
use crate::http::escape_html;
use crate::http::middleware::CurrentTenant;
use crate::store::tokens as rows;
use crate::tenancy::Tenant;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{json, Value};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
}

fn invalid_token(description: &str) -> Response {
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "Bearer realm=\"tenantry\", error=\"invalid_token\", error_description=\"{description}\""
    )) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The subject of a user access token, from its claims.
fn subject_from_claims(t: &Tenant, claims: &Value) -> Option<Subject> {
    let sub = claims["sub"].as_str()?;
    if sub == claims["client_id"].as_str().unwrap_or_default() {
        return None; // a client_credentials token has no user
    }
    Some(Subject::acting(
        t,
        sub,
        claims.get("act").filter(|a| a.is_object()),
    ))
}

pub async fn userinfo(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer(&headers) else {
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tenantry\""),
        );
        return resp;
    };
    let claims = match s.core.verify_access_token(&t, token).await {
        Ok(c) => c,
        Err(_) => return invalid_token("the access token is invalid, expired or revoked"),
    };
    let scope: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !scope.iter().any(|sc| sc == "openid") {
        let mut resp = (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": "insufficient_scope"})),
        )
            .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"tenantry\", error=\"insufficient_scope\", scope=\"openid\"",
            ),
        );
        return resp;
    }
    let Some(subject) = subject_from_claims(&t, &claims) else {
        return invalid_token("this token has no user");
    };
    let act = claims.get("act").filter(|a| a.is_object());
    match s.core.user_claims(&t, &subject, &scope, act).await {
        Ok(mut m) => {
            m.insert("sub".into(), json!(subject.sub));
            let mut resp = axum::Json(Value::Object(m)).into_response();
            no_store(resp.headers_mut());
            resp
        }
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// Client authentication at introspection and revocation. Assertions name the token
/// endpoint as audience (RFC 7523 §3), whichever endpoint receives them.
async fn authenticated_client(
    s: &AppState,
    t: &Tenant,
    authorization: Option<&HeaderValue>,
    form: &super::Form<'_>,
) -> Result<std::sync::Arc<crate::core::clients::Client>, OAuthError> {
    let (creds, basic) = client_credentials(authorization, form)?;
    let url = super::assertion_audience(s, t, &creds);
    s.core
        .authenticate_client(t, creds, &url)
        .await
        .map_err(|e| super::client_error(e, basic))
}

fn inactive() -> Response {
    let mut resp = axum::Json(json!({"active": false})).into_response();
    no_store(resp.headers_mut());
    resp
}

/// RFC 7662: `active:true` only to the token's own client or a client named in its `aud`.
pub async fn introspect(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    AuthorizationHeader(authorization): AuthorizationHeader,
    body: axum::body::Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let client = match authenticated_client(&s, &t, authorization.as_ref(), &form).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if client.is_public() {
        return OAuthError::new("invalid_client", "public clients cannot introspect")
            .into_response();
    }
    let Some(token) = form.get("token") else {
        return OAuthError::new("invalid_request", "token is missing").into_response();
    };
    if token.starts_with(REFRESH_PREFIX) {
        let now = s.core.clock.now();
        let Ok(mut conn) = s.core.store.conn().await else {
            return inactive();
        };
        return match rows::refresh_by_hash(&mut conn, &t.id, &s.core.hash_refresh(token)).await {
            Ok(Some((r, 0, 0)))
                if r.client_id == client.id
                    && r.idle_expires_at > now
                    && r.family_expires_at > now =>
            {
                let mut resp = axum::Json(json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": r.client_id,
                    "sub": r.user_id,
                    "scope": r.scope,
                    "exp": r.idle_expires_at.min(r.family_expires_at),
                    "iat": r.created_at,
                    "iss": s.core.issuer(&t.name),
                }))
                .into_response();
                no_store(resp.headers_mut());
                resp
            }
            _ => inactive(),
        };
    }
    let Ok(verified) = s.core.verified_access_token(&t, token).await else {
        return inactive();
    };
    let claims = &verified.claims;
    let in_aud = match &claims["aud"] {
        Value::String(a) => *a == client.id,
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(&client.id)),
        _ => false,
    };
    if claims["client_id"].as_str() != Some(&client.id) && !in_aud {
        return inactive();
    }
    // The answer was serialized when the token was verified.
    let mut resp = verified.introspection.clone().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(resp.headers_mut());
    resp
}

/// RFC 7009: always 200 for a token the client may not touch or does not exist.
pub async fn revoke(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    AuthorizationHeader(authorization): AuthorizationHeader,
    body: axum::body::Bytes,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let client = match authenticated_client(&s, &t, authorization.as_ref(), &form).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(token) = form.get("token") else {
        return OAuthError::new("invalid_request", "token is missing").into_response();
    };
    if let Err(e) = revoke_token(&s, &t, &client.id, token).await {
        return OAuthError::from(e).into_response();
    }
    let mut resp = StatusCode::OK.into_response();
    no_store(resp.headers_mut());
    resp
}

/// Revoke what `client` may revoke, the tenant version bump in the same transaction (the
/// verified-token caches of every process see it); nothing happens for a token that is
/// unknown, of another client, or already revoked.
async fn revoke_token(
    s: &AppState,
    t: &Tenant,
    client_id: &str,
    token: &str,
) -> crate::error::Result<()> {
    let now = s.core.clock.now();
    let access = if token.starts_with(REFRESH_PREFIX) {
        None
    } else {
        match s.core.verify_jwt(t, token).await {
            Ok(claims) if claims["client_id"].as_str() == Some(client_id) => {
                match (claims["jti"].as_str(), claims["exp"].as_i64()) {
                    (Some(jti), Some(exp)) => Some((jti.to_string(), exp)),
                    _ => return Ok(()),
                }
            }
            _ => return Ok(()),
        }
    };
    let mut tx = s.core.store.begin().await?;
    let changed = match access {
        Some((jti, exp)) => rows::revoke_jti(&mut tx, &t.id, &jti, exp).await?,
        None => match rows::refresh_state(&mut tx, &t.id, &s.core.hash_refresh(token)).await? {
            Some((family, owner, _, _, _)) if owner == client_id => {
                rows::revoke_family(&mut tx, &t.id, &family).await?;
                rows::revoke_issued(&mut tx, &t.id, Some(&family), None, now).await?;
                true
            }
            _ => false,
        },
    };
    if !changed {
        return Ok(()); // dropping the transaction rolls it back
    }
    crate::store::tenants::bump_version(&mut tx, &t.id).await?;
    tx.commit().await.map_err(crate::store::db)?;
    s.core.tenants.invalidate();
    Ok(())
}

fn page(title: &str, body: &str) -> Response {
    let mut resp = Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body><main>{body}</main></body></html>",
        escape_html(title)
    ))
    .into_response();
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("same-origin"));
    resp
}

fn clear_cookie(s: &AppState, resp: &mut Response) {
    if let Ok(v) = HeaderValue::from_str(&s.core.session_cookie("", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// GET /oauth2/logout: with a valid `id_token_hint` of this tenant, end the session and
/// return to a registered post-logout URI; without one, ask for confirmation.
pub async fn logout(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    let form = match parse_form(q.as_bytes()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let session = current_session(&s, &t, &headers).await;
    let hint = match form.get("id_token_hint") {
        Some(h) => match s.core.verify_jwt(&t, h).await {
            Ok(c) if c["iss"] == json!(s.core.issuer(&t.name)) => Some(c),
            _ => {
                return OAuthError::new(
                    "invalid_request",
                    "id_token_hint is not an ID token of this issuer",
                )
                .into_response()
            }
        },
        None => None,
    };
    let Some(hint) = hint else {
        return page(
            "Sign out",
            "<h1>Sign out</h1><form method=\"post\" action=\"/oauth2/logout\"><button type=\"submit\" id=\"logout\">Sign out</button></form>",
        );
    };
    if let Some(sess) = &session {
        if subject_of(&t, sess).sub == hint["sub"].as_str().unwrap_or_default() {
            let _ = s.core.end_session(&t, &sess.id).await;
        }
    }
    let client_id = hint["aud"]
        .as_str()
        .map(str::to_string)
        .or_else(|| form.get("client_id").map(str::to_string));
    if let (Some(uri), Some(cid)) = (form.get("post_logout_redirect_uri"), client_id) {
        if let Ok(Some(client)) = s.core.client(&t, &cid).await {
            if client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                let mut target = uri.to_string();
                if let Some(st) = form.get("state") {
                    let sep = if target.contains('?') { '&' } else { '?' };
                    target = format!(
                        "{target}{sep}state={}",
                        url::form_urlencoded::byte_serialize(st.as_bytes()).collect::<String>()
                    );
                }
                let mut resp = Redirect::to(&target).into_response();
                clear_cookie(&s, &mut resp);
                return resp;
            }
        }
    }
    let mut resp = page(
        "Signed out",
        "<h1>You are signed out</h1><p id=\"status\" role=\"status\">signed out</p>",
    );
    clear_cookie(&s, &mut resp);
    resp
}

/// POST /oauth2/logout: the confirmation; same-origin only (every tenant shares one site).
pub async fn logout_confirm(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
    headers: HeaderMap,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin != Some(s.core.issuer(&t.name).as_str()) {
        return (StatusCode::FORBIDDEN, "cross-origin sign-out refused").into_response();
    }
    if let Some(sess) = current_session(&s, &t, &headers).await {
        let _ = s.core.end_session(&t, &sess.id).await;
    }
    let mut resp = page(
        "Signed out",
        "<h1>You are signed out</h1><p id=\"status\" role=\"status\">signed out</p>",
    );
    clear_cookie(&s, &mut resp);
    resp
}
