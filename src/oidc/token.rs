//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE, refresh tokens with
//! rotation and reuse detection, client credentials. Token exchange (RFC 8693) for MSP
//! switching is in `exchange` when present. Responses carry `Cache-Control: no-store`.

use super::{client_credentials, no_store, parse_form, OAuthError};
use crate::app::AppState;
use crate::core::clients::Client;
use crate::core::exchange::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE};
use crate::core::tokens::{Subject, UserGrant, REFRESH_ABSOLUTE, REFRESH_PREFIX};
use crate::http::error::ApiError;
use crate::http::middleware::HostContext;
use crate::store::tokens as rows;
use crate::tenancy::Tenant;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

/// The path, for `app::App`, which serves this endpoint ahead of the Router.
pub const PATH: &str = "/oauth2/token";

/// A token request's form is a few fields; the largest, an assertion or a subject token,
/// is a JWT of at most 16 KiB (`jws::parse`).
const MAX_BODY: usize = 64 * 1024;

/// The endpoint as the Router mounts it (other methods than POST get its 405).
pub async fn token(State(s): State<AppState>, req: Request) -> Response {
    endpoint(s, req).await
}

/// The endpoint after the pipeline: the host's tenant is in the request's extensions.
/// Without extractors, so that `app::App` can serve it ahead of the Router. Not an
/// `async fn`: the request's head is read before the future is made, so the future (boxed
/// and moved on every request) holds the two things it needs, not the whole head.
pub fn endpoint(s: AppState, req: Request) -> impl std::future::Future<Output = Response> + Send {
    let (parts, body) = req.into_parts();
    let tenant = match HostContext::of(&parts.extensions) {
        Some(HostContext::Tenant(t)) => Some(t.clone()),
        _ => None,
    };
    let authorization = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .cloned();
    drop(parts);
    async move {
        let Some(t) = tenant else {
            return ApiError::not_found().into_response();
        };
        let body = match crate::http::extract::body_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(()) => {
                let mut e = OAuthError::new("invalid_request", "the request body is too large");
                e.status = StatusCode::PAYLOAD_TOO_LARGE;
                return e.into_response();
            }
        };
        match handle(&s, &t, authorization.as_ref(), &body).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
}

async fn handle(
    s: &AppState,
    t: &Tenant,
    authorization: Option<&axum::http::HeaderValue>,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let form = parse_form(body)?;
    let (creds, basic) = client_credentials(authorization, &form)?;
    let endpoint = super::assertion_audience(s, t, &creds);
    let client = s
        .core
        .authenticate_client(t, creds, &endpoint)
        .await
        .map_err(|e| super::client_error(e, basic))?;
    let grant_type = form.get("grant_type").unwrap_or_default();
    if grant_type.is_empty() {
        return Err(OAuthError::new("invalid_request", "grant_type is missing"));
    }
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("this client may not use {grant_type}"),
        ));
    }
    // The grants that go to the database run boxed: their futures are large, and inline
    // they made every request's future (boxed by axum, client_credentials included) 4 KiB.
    let tokens = match grant_type {
        "client_credentials" => client_creds(s, t, &client, &form).await?,
        "authorization_code" => Box::pin(authorization_code(s, t, &client, &form)).await?,
        "refresh_token" => Box::pin(refresh(s, t, &client, &form)).await?,
        TOKEN_EXCHANGE => Box::pin(exchange(s, t, &client, &form)).await?,
        _ => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("{grant_type} is not supported"),
            ))
        }
    };
    // A boxed slice (capacity = length) becomes `Bytes` as it is; a Vec with spare
    // capacity would cost `Bytes` a shared header allocated beside it.
    let json = axum::body::Bytes::from(tokens.to_json().into_boxed_slice());
    let mut resp = Response::new(axum::body::Body::from(json));
    let headers = resp.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    no_store(headers);
    Ok(resp)
}

fn pkce_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

async fn authorization_code(
    s: &AppState,
    t: &Tenant,
    client: &Client,
    form: &super::Form<'_>,
) -> Result<crate::core::tokens::TokenResponse, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::new("invalid_request", "code is missing"))?;
    let now = s.core.clock.now();
    let mut conn = s.core.store.conn().await.map_err(OAuthError::from)?;
    // Single use: exactly one caller flips `used`.
    let row = rows::consume_code(&mut conn, &t.id, &s.core.hash_code(code))
        .await
        .map_err(OAuthError::from)?
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_grant",
                "the code is invalid, expired or already used",
            )
        })?;
    drop(conn);
    if row.expires_at <= now {
        return Err(OAuthError::new("invalid_grant", "the code has expired"));
    }
    if row.client_id != client.id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::new(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&row.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(v)) if valid_verifier(v) && pkce_s256(v) == *challenge => {}
        (Some(_), _) => {
            return Err(OAuthError::new(
                "invalid_grant",
                "the PKCE code_verifier does not match",
            ))
        }
        // A verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => {
            return Err(OAuthError::new(
                "invalid_grant",
                "no PKCE challenge was sent with this code",
            ))
        }
        (None, None) => {}
    }
    let subject: Subject = serde_json::from_str(&row.subject)
        .map_err(|_| OAuthError::new("server_error", "stored code"))?;
    let grant = UserGrant {
        subject,
        session_id: row.session_id.clone(),
        scope: row.scope.split_whitespace().map(str::to_string).collect(),
        nonce: row.nonce.clone(),
        auth_time: row.auth_time,
        amr: serde_json::from_str(&row.amr).unwrap_or_default(),
        act: row
            .act
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok()),
        resource: row.resource.clone(),
    };
    let family = client.allows_grant("refresh_token").then(|| {
        (
            crate::ids::credential("fam_")[..26].to_string(),
            now + REFRESH_ABSOLUTE,
        )
    });
    Ok(s.core.issue_user_tokens(t, client, &grant, family).await?)
}

async fn refresh(
    s: &AppState,
    t: &Tenant,
    client: &Client,
    form: &super::Form<'_>,
) -> Result<crate::core::tokens::TokenResponse, OAuthError> {
    let token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is missing"))?;
    if !token.starts_with(REFRESH_PREFIX) {
        return Err(OAuthError::new("invalid_grant", "not a refresh token"));
    }
    let now = s.core.clock.now();
    let hash = s.core.hash_refresh(token);
    let mut conn = s.core.store.conn().await.map_err(OAuthError::from)?;
    let Some(row) = rows::use_refresh(&mut conn, &t.id, &hash)
        .await
        .map_err(OAuthError::from)?
    else {
        // Unknown, revoked, or reused: a reused token revokes its whole family.
        if let Some((family, owner, used, _, _)) = rows::refresh_state(&mut conn, &t.id, &hash)
            .await
            .map_err(OAuthError::from)?
        {
            if used == 1 && owner == client.id {
                drop(conn);
                // One transaction: the version bump expires every process's cache of the
                // family's access tokens exactly when their revocation is visible.
                let mut tx = s.core.store.begin().await.map_err(OAuthError::from)?;
                rows::revoke_family(&mut tx, &t.id, &family)
                    .await
                    .map_err(OAuthError::from)?;
                rows::revoke_issued(&mut tx, &t.id, Some(&family), None, now)
                    .await
                    .map_err(OAuthError::from)?;
                crate::store::tenants::bump_version(&mut tx, &t.id)
                    .await
                    .map_err(OAuthError::from)?;
                tx.commit()
                    .await
                    .map_err(|e| OAuthError::from(crate::store::db(e)))?;
                s.core.tenants.invalidate();
                tracing::warn!(tenant = %t.name, "refresh token reuse: family revoked");
            }
        }
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token is invalid, revoked or already used",
        ));
    };
    drop(conn);
    if row.client_id != client.id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    if row.idle_expires_at <= now || row.family_expires_at <= now {
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token has expired",
        ));
    }
    let granted: Vec<String> = row.scope.split_whitespace().map(str::to_string).collect();
    let scope = match form.get("scope") {
        Some(req) => {
            let asked: Vec<String> = req.split_whitespace().map(str::to_string).collect();
            if let Some(bad) = asked.iter().find(|a| !granted.contains(a)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("{bad} was not granted"),
                ));
            }
            asked
        }
        None => granted,
    };
    let subject: Subject = serde_json::from_str(&row.subject)
        .map_err(|_| OAuthError::new("server_error", "stored token"))?;
    // The user must still exist and be active.
    let mut conn = s.core.store.conn().await.map_err(OAuthError::from)?;
    let user = crate::store::users::user_by_id(&mut conn, &subject.home, &subject.user_id)
        .await
        .map_err(OAuthError::from)?;
    if user.is_none_or(|u| u.status != "active") {
        return Err(OAuthError::new(
            "invalid_grant",
            "the user is no longer active",
        ));
    }
    drop(conn);
    let grant = UserGrant {
        subject,
        session_id: row.session_id.clone(),
        scope,
        nonce: None,
        auth_time: row.auth_time,
        amr: serde_json::from_str(&row.amr).unwrap_or_default(),
        act: row
            .act
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok()),
        resource: row.resource.clone(),
    };
    Ok(s.core
        .issue_user_tokens(
            t,
            client,
            &grant,
            Some((row.family_id.clone(), row.family_expires_at)),
        )
        .await?)
}

async fn client_creds(
    s: &AppState,
    t: &Tenant,
    client: &Client,
    form: &super::Form<'_>,
) -> Result<crate::core::tokens::TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "public clients cannot use client_credentials",
        ));
    }
    let asked: Vec<&str> = form
        .get("scope")
        .map(|sc| sc.split_whitespace().collect())
        .unwrap_or_default();
    if let Some(bad) = asked.iter().find(|&&a| {
        !client.scopes.iter().any(|s| s == a) || matches!(a, "openid" | "offline_access" | "admin")
    }) {
        return Err(OAuthError::new(
            "invalid_scope",
            format!("scope {bad} is not available to client_credentials"),
        ));
    }
    Ok(s.core
        .issue_client_token(t, client, &asked, form.get("resource"))
        .await?)
}

/// RFC 8693: an MSP user's access token from the MSP issuer becomes a customer token whose
/// privileges are the user's effective privileges here, with `act` naming the MSP user.
async fn exchange(
    s: &AppState,
    t: &Tenant,
    client: &Client,
    form: &super::Form<'_>,
) -> Result<crate::core::tokens::TokenResponse, OAuthError> {
    let subject_token = form
        .get("subject_token")
        .ok_or_else(|| OAuthError::new("invalid_request", "subject_token is missing"))?;
    if form.get("subject_token_type") != Some(ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::new(
            "invalid_request",
            "subject_token_type must be an access token",
        ));
    }
    if form.get("actor_token").is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            "actor tokens are not accepted",
        ));
    }
    if form
        .get("requested_token_type")
        .is_some_and(|r| r != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::new(
            "invalid_request",
            "only access tokens can be requested",
        ));
    }
    let scope: Vec<String> = form
        .get("scope")
        .map(|sc| sc.split_whitespace().map(str::to_string).collect())
        .unwrap_or_else(|| vec!["privileges".to_string()]);
    if let Some(bad) = scope
        .iter()
        .find(|x| !client.scopes.contains(x) || x.as_str() == "offline_access")
    {
        return Err(OAuthError::new(
            "invalid_scope",
            format!("scope {bad} is not available to this exchange"),
        ));
    }
    let ex = s
        .core
        .accept_subject_token(t, subject_token)
        .await
        .map_err(|e| match e {
            crate::error::Error::Invalid { message, .. } => {
                OAuthError::new("invalid_grant", message)
            }
            other => OAuthError::from(other),
        })?;
    let grant = UserGrant {
        subject: ex.subject,
        session_id: None,
        scope,
        nonce: None,
        auth_time: ex.auth_time,
        amr: ex.amr,
        act: Some(ex.act),
        resource: form.get("resource").map(str::to_string),
    };
    let mut tokens = s.core.issue_user_tokens(t, client, &grant, None).await?;
    tokens.id_token = None;
    tokens.issued_token_type = Some(ACCESS_TOKEN_TYPE);
    Ok(tokens)
}
