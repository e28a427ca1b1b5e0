//! The OpenID Connect provider of each tenant: discovery and JWKS, the authorization,
//! token, userinfo, introspection, revocation and logout endpoints. Protocol errors speak
//! RFC 6749's format (`{"error","error_description"}`, or redirect parameters). Thin
//! handlers over core (clients, sessions, tokens, signing); core never imports this.

mod authorize;
mod discovery;
mod resources;
mod switch;
mod token;

pub use token::{endpoint as token_endpoint, PATH as TOKEN_PATH};

use crate::app::AppState;
use crate::core::clients::ClientCredentials;
use crate::error::Error;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde_json::json;
use std::borrow::Cow;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/oauth2/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route(token::PATH, axum::routing::post(token::token))
        .route(
            "/oauth2/userinfo",
            get(resources::userinfo).post(resources::userinfo),
        )
        .route(
            "/oauth2/introspect",
            axum::routing::post(resources::introspect),
        )
        .route("/oauth2/revoke", axum::routing::post(resources::revoke))
        .route(
            "/oauth2/logout",
            get(resources::logout).post(resources::logout_confirm),
        )
        .route("/switch/start", get(switch::start))
        .route("/switch/callback", get(switch::callback))
}

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// `Basic` when the client authenticated with HTTP Basic (RFC 6749 §5.2: 401 + challenge).
    pub challenge: Option<&'static str>,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        OAuthError {
            status,
            error,
            description: description.into(),
            challenge: None,
        }
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unauthenticated { message, .. } => OAuthError::new("invalid_client", message),
            Error::Invalid { message, .. } => OAuthError::new("invalid_request", message),
            Error::NotFound => OAuthError::new("invalid_request", "not found"),
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                OAuthError::new("server_error", "something went wrong on our side")
            }
            other => OAuthError::new("invalid_request", other.to_string()),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        no_store(resp.headers_mut());
        if let (Some(scheme), StatusCode::UNAUTHORIZED) = (self.challenge, self.status) {
            if let Ok(v) = HeaderValue::from_str(&format!("{scheme} realm=\"tenantry\"")) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

pub fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Form fields in order of arrival, borrowed from the body unless they had escapes. A
/// token request has a handful, so a linear search beats hashing.
#[derive(Debug, Default)]
pub struct Form<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl Form<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Form fields; a repeated parameter is an error (RFC 6749 §3.1).
pub fn parse_form(body: &[u8]) -> Result<Form<'_>, OAuthError> {
    let mut out: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(8);
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = if pair.iter().any(|b| *b == b'%' || *b == b'+') {
            // Escapes: the general decoder (one pair, so the same rules apply).
            match url::form_urlencoded::parse(pair).next() {
                Some(kv) => kv,
                None => continue,
            }
        } else {
            // Nothing to decode (tokens, client ids): borrowed as they are.
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (String::from_utf8_lossy(k), String::from_utf8_lossy(v))
        };
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(OAuthError::new(
                "invalid_request",
                format!("parameter {k} is repeated"),
            ));
        }
        out.push((k, v));
    }
    Ok(Form(out))
}

/// The request's Authorization header alone: the client endpoints read nothing else from
/// the headers, so they need not copy the whole map.
pub struct AuthorizationHeader(pub Option<HeaderValue>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuthorizationHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(AuthorizationHeader(
            parts.headers.get(header::AUTHORIZATION).cloned(),
        ))
    }
}

/// The client's credentials from the Authorization header or the body (exactly one way).
pub fn client_credentials(
    authorization: Option<&HeaderValue>,
    form: &Form,
) -> Result<(ClientCredentials, bool), OAuthError> {
    let basic = authorization.and_then(|v| v.to_str().ok()).and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    });
    let body_secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let ways = usize::from(basic.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some());
    if ways > 1 {
        return Err(OAuthError::new(
            "invalid_request",
            "use exactly one client authentication method",
        ));
    }
    if let Some(b) = basic {
        // Decoded on the stack: client ids and generated secrets are short; longer
        // credentials than 512 bytes are nobody's.
        let mut buf = [0u8; 512];
        let decoded = base64::engine::general_purpose::STANDARD
            .decode_slice(b.trim(), &mut buf)
            .ok()
            .and_then(|n| std::str::from_utf8(buf.get(..n)?).ok())
            .ok_or_else(|| basic_error("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| basic_error("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded.
        let dec = |s: &str| {
            if !s.contains(['%', '+']) {
                return s.to_string();
            }
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        if form.get("client_id").is_some_and(|cid| *cid != dec(id)) {
            return Err(basic_error("client_id differs from the Basic credentials"));
        }
        return Ok((
            ClientCredentials::Basic {
                id: dec(id),
                secret: dec(secret),
            },
            true,
        ));
    }
    if let Some(a) = assertion {
        return Ok((
            ClientCredentials::Assertion {
                client_id: form.get("client_id").map(str::to_string),
                assertion_type: form
                    .get("client_assertion_type")
                    .map(str::to_string)
                    .unwrap_or_default(),
                assertion: a.to_string(),
            },
            false,
        ));
    }
    let id = form
        .get("client_id")
        .map(str::to_string)
        .ok_or_else(|| OAuthError::new("invalid_client", "client authentication is required"))?;
    Ok(match body_secret {
        Some(secret) => (
            ClientCredentials::Post {
                id,
                secret: secret.to_string(),
            },
            false,
        ),
        None => (ClientCredentials::None { id }, false),
    })
}

/// The audience private_key_jwt assertions must name (our token endpoint); only built
/// when the client sent an assertion, as nothing else reads it.
pub fn assertion_audience(
    s: &AppState,
    t: &crate::tenancy::Tenant,
    creds: &ClientCredentials,
) -> String {
    match creds {
        ClientCredentials::Assertion { .. } => format!("{}/oauth2/token", s.core.issuer(&t.name)),
        _ => String::new(),
    }
}

/// A failed client authentication: `invalid_client` (with a Basic challenge when Basic
/// was used); a failure on our side stays a server error.
pub fn client_error(e: Error, basic: bool) -> OAuthError {
    match e {
        Error::Internal(_) => OAuthError::from(e),
        other => {
            let mut err = OAuthError::new("invalid_client", other.to_string());
            if basic {
                err.challenge = Some("Basic");
            }
            err
        }
    }
}

fn basic_error(msg: &str) -> OAuthError {
    let mut e = OAuthError::new("invalid_client", msg);
    e.challenge = Some("Basic");
    e
}
