//! Passkey sign-in: the webauthn-rs adapter, the enrolment, login and account pages, and
//! the small script they share (product.md "Sign-in", issue 5).
//!
//! webauthn-rs types stay in this module: core stores a credential as JSON text and sees
//! only our own types. The relying party is the tenant's host (passkeys of one tenant are
//! useless at another); the origin is the tenant's issuer URL. Every tenant shares one
//! site, so each state-changing POST needs an exact `Origin` match, and forms carry a CSRF
//! token as well. Must not import store.

mod account;
mod enrol;
mod login;
mod pages;
mod register;

use crate::app::AppState;
use crate::core::Core;
use crate::error::Error;
use crate::http::middleware::RequestId;
use crate::tenancy::Tenant;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/enroll/{token}", get(enrol::page))
        .route("/enroll/{token}/start", post(enrol::start))
        .route("/enroll/{token}/finish", post(enrol::finish))
        .route("/login", get(login::page))
        .route("/login/start", post(login::start))
        .route("/login/finish", post(login::finish))
        .route("/account", get(account::page))
        .route("/account/passkeys/start", post(account::add_start))
        .route("/account/passkeys/finish", post(account::add_finish))
        .route("/account/passkeys/{id}/remove", post(account::remove))
        .route("/account/apps/saml/{id}", post(account::launch_saml))
        .route("/logout", post(account::logout))
        .route("/static/passkey.js", get(pages::script))
}

pub(crate) const B64: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The relying party of one tenant: RP id = its host, origin = its issuer URL.
fn relying_party(core: &Core, tenant: &Tenant) -> Result<Webauthn, Failure> {
    let origin = Url::parse(&core.issuer(&tenant.name))
        .map_err(|e| Failure::internal(format!("tenant origin: {e}")))?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| Failure::internal("tenant origin has no host"))?
        .to_string();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(&tenant.display_name).build())
        .map_err(|e| Failure::internal(format!("webauthn configuration: {e}")))
}

/// The WebAuthn user handle of a user: stable, opaque, and different in every tenant.
fn user_handle(tenant: &Tenant, user: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"tenantry webauthn user handle\0");
    h.update(tenant.id.as_str().as_bytes());
    h.update(b"\0");
    h.update(user.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid_v8(b)
}

fn uuid_v8(mut b: [u8; 16]) -> Uuid {
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid::from_bytes(b)
}

/// A refused request: a status, a short code, and a reason the page shows after `error:`.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal(detail: impl Into<String>) -> Self {
        Failure::from(Error::Internal(detail.into()))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound => Failure::new(StatusCode::NOT_FOUND, "not_found", "not found"),
            Error::Conflict { code, message } => Failure::new(StatusCode::CONFLICT, code, message),
            Error::Forbidden { code, message } => {
                Failure::new(StatusCode::FORBIDDEN, code, message)
            }
            Error::Invalid { code, message } => {
                Failure::new(StatusCode::BAD_REQUEST, code, message)
            }
            Error::Unauthenticated { code, message } => {
                Failure::new(StatusCode::UNAUTHORIZED, code, message)
            }
            Error::Stale => Failure::new(StatusCode::CONFLICT, "stale", "try again"),
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "something went wrong on our side",
                )
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            axum::Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        crate::oidc::no_store(resp.headers_mut());
        resp
    }
}

type Answer = Result<Response, Failure>;

/// Exact `Origin` match with the tenant's own origin (every tenant shares one site, so
/// SameSite cookies do not keep tenants apart). A mismatch is audited.
async fn check_origin(
    core: &Core,
    tenant: &Tenant,
    headers: &HeaderMap,
    rid: &RequestId,
) -> Result<(), Failure> {
    let expected = core.issuer(&tenant.name);
    let given = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if given == Some(expected.as_str()) {
        return Ok(());
    }
    core.audit_refusal(
        tenant,
        "request.origin_mismatch",
        None,
        "origin",
        Some(rid.as_str()),
    )
    .await?;
    Err(Failure::new(
        StatusCode::FORBIDDEN,
        "origin_mismatch",
        "this request did not come from this organization's pages",
    ))
}

/// A JSON body (the content type keeps cross-site forms out, besides `Origin`).
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Failure> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().map(str::trim) == Some("application/json"));
    if !is_json {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json",
        ));
    }
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body is not JSON",
        )
    })
}

/// A JSON answer that starts a session: sets the cookie.
fn signed_in(
    core: &Core,
    session: &crate::core::sessions::Session,
    secret: &str,
    body: Value,
) -> Response {
    let max_age = (session.expires_at - core.clock.now()).max(0);
    let mut resp = axum::Json(body).into_response();
    crate::oidc::no_store(resp.headers_mut());
    if let Ok(v) = HeaderValue::from_str(&core.session_cookie(secret, max_age)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The live session of this request, if any.
async fn current_session(
    core: &Core,
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<Option<crate::core::sessions::Session>, Failure> {
    match crate::http::extract::cookie(headers, core.session_cookie_name()) {
        Some(secret) => Ok(core.session_from_cookie(tenant, &secret).await?),
        None => Ok(None),
    }
}

/// The MSP banner for a request's session, empty without one or for an ordinary session:
/// for other pages of the tenant (the home page) to show it too.
pub async fn msp_banner_for(core: &Core, tenant: &Tenant, headers: &HeaderMap) -> String {
    let Ok(Some(session)) = current_session(core, tenant, headers).await else {
        return String::new();
    };
    match core.acting_msp(tenant, &session).await {
        Ok(acting) => pages::msp_banner(acting.as_ref()),
        Err(_) => String::new(),
    }
}

/// The CSRF token of a session's forms: a keyed hash of its id (never stored).
fn csrf_token(core: &Core, session_id: &str) -> String {
    core.keys.hash_credential("csrf", session_id)
}

/// The client's address, for the per-address failure limit. Servers started by
/// `app::serve` always know the peer; a request without one (in-process tests) shares
/// one key.
#[derive(Debug, Clone)]
pub struct Client(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string()),
        ))
    }
}

/// Run a sign-in or enrolment step under the per-address failure limit: refused (429,
/// audited) once the address used up its failures; a refused step counts one more.
async fn limited(
    core: &Core,
    tenant: &Tenant,
    client: &Client,
    rid: &RequestId,
    step: impl std::future::Future<Output = Answer>,
) -> Answer {
    if core.client_rate_limited(tenant, &client.0).await? {
        core.audit_refusal(
            tenant,
            "login.rate_limited",
            None,
            "client_address",
            Some(rid.as_str()),
        )
        .await?;
        return Err(Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many failed attempts from your network; try again in 15 minutes",
        ));
    }
    let answer = step.await;
    if let Err(f) = &answer {
        // Other refusals are audited where they happen; a malformed request is not.
        if matches!(f.code, "invalid_json" | "unsupported_media_type") {
            core.audit_refusal(
                tenant,
                "request.malformed",
                None,
                f.code,
                Some(rid.as_str()),
            )
            .await?;
        }
        if matches!(f.status.as_u16(), 400 | 401 | 404) {
            core.count_client_failure(tenant, &client.0).await?;
        }
    }
    answer
}
