//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3) and
//! `/.well-known/jwks.json`, both cacheable for 300 s; the JWKS bytes are prepared when the
//! tenant's keys change, never per request.

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::middleware::CurrentTenant;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn cacheable(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

pub async fn configuration(State(s): State<AppState>, CurrentTenant(t): CurrentTenant) -> Response {
    let iss = s.core.issuer(&t.name);
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{iss}/oauth2/introspect"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "end_session_endpoint": format!("{iss}/oauth2/logout"),
        "scopes_supported": ["openid", "profile", "email", "offline_access", "privileges", "admin"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "sid",
            "email", "email_verified", "name", "updated_at",
            "tenant", "org_access", "org_roles", "networks", "networks_ref", "msp", "act"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login"],
    });
    cacheable(axum::Json(doc).into_response())
}

pub async fn jwks(
    State(s): State<AppState>,
    CurrentTenant(t): CurrentTenant,
) -> Result<Response, ApiError> {
    let keys = s.core.tenant_keys(&t).await?;
    let mut resp = keys.jwks.clone().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    Ok(cacheable(resp))
}
