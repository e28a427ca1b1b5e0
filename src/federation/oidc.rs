//! The openidconnect adapter: an upstream OIDC provider as seen by us, its relying party
//! (OpenID Connect Core 1.0 §3.1, RFC 7636). Discovery (with the JWKS) through the guarded
//! [`Fetcher`], an authorization URL with code + PKCE (S256) + state + nonce, and the code
//! exchange whose ID token is verified by the crate: signature against the discovered
//! JWKS (asymmetric algorithms only), issuer, audience, nonce, expiry and issue time by
//! our clock. openidconnect types stay in this file.

use super::fetch::{FetchError, Fetcher};
use crate::core::federation::OidcSettings;
use crate::core::federation_login::UpstreamUser;
use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

/// Why the upstream's answer was not accepted; the message is safe to show.
#[derive(Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refusal(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

impl From<FetchError> for Refusal {
    fn from(e: FetchError) -> Self {
        refusal("upstream_unreachable", e.0)
    }
}

/// What we keep for the way back: the PKCE verifier and the nonce.
pub struct Outbound {
    pub url: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

async fn discover(fetcher: &Fetcher, issuer: &str) -> Result<CoreProviderMetadata, Refusal> {
    let url = IssuerUrl::new(issuer.to_string())
        .map_err(|_| refusal("bad_configuration", "the connection's issuer is not a URL"))?;
    let parsed = url::Url::parse(issuer)
        .map_err(|_| refusal("bad_configuration", "the connection's issuer is not a URL"))?;
    fetcher.check_url(&parsed)?;
    let http = fetcher.client_fn();
    CoreProviderMetadata::discover_async(url, &http)
        .await
        .map_err(|e| {
            tracing::info!(error = %e, issuer, "upstream discovery failed");
            refusal(
                "upstream_unreachable",
                format!(
                    "the identity provider's discovery document could not be used: {}",
                    short(&e)
                ),
            )
        })
}

fn short(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    if let Some(src) = e.source() {
        s = format!("{s} ({src})");
    }
    s.chars().take(300).collect()
}

fn client(
    meta: CoreProviderMetadata,
    s: &OidcSettings,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    Refusal,
> {
    let redirect = RedirectUrl::new(s.redirect_uri.clone())
        .map_err(|_| refusal("bad_configuration", "the redirect URI is not a URL"))?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(s.client_id.clone()),
        s.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect))
}

/// Discover the provider and build the URL that sends the browser there.
pub async fn authorization_url(
    fetcher: &Fetcher,
    s: &OidcSettings,
    state: &str,
    login_hint: Option<&str>,
) -> Result<Outbound, Refusal> {
    let meta = discover(fetcher, &s.issuer).await?;
    let client = client(meta, s)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state.to_string();
    let mut req = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new(state.clone()),
        Nonce::new_random,
    );
    for scope in &s.scopes {
        req = req.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = login_hint {
        req = req.add_extra_param("login_hint", hint.to_string());
    }
    let (url, _, nonce) = req.set_pkce_challenge(challenge).url();
    Ok(Outbound {
        url: url.to_string(),
        pkce_verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
    })
}

/// Exchange the code and verify the ID token; `claim` names the roles claim; `now` is
/// our clock.
pub async fn finish(
    fetcher: &Fetcher,
    s: &OidcSettings,
    code: &str,
    pkce_verifier: &str,
    nonce: &str,
    claim: &str,
    now: i64,
) -> Result<UpstreamUser, Refusal> {
    let meta = discover(fetcher, &s.issuer).await?;
    let client = client(meta, s)?;
    let http = fetcher.client_fn();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|_| {
            refusal(
                "upstream_unusable",
                "the identity provider has no token endpoint",
            )
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::info!(error = %e, "upstream token exchange failed");
            refusal(
                "code_refused",
                format!(
                    "the identity provider refused the sign-in code: {}",
                    short(&e)
                ),
            )
        })?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| refusal("no_id_token", "the identity provider sent no ID token"))?;
    let clock = chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0).unwrap_or_default();
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(ASYMMETRIC)
        .set_time_fn(move || clock);
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce.to_string()))
        .map_err(|e| {
            tracing::info!(error = %e, "upstream ID token refused");
            refusal(
                "id_token_invalid",
                format!("the identity provider's ID token was refused: {e}"),
            )
        })?;
    // The signature covers exactly this payload: read the roles claim from it.
    let payload: Value = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let roles = match &payload[claim] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    // An e-mail the provider says is unverified is not one.
    let email = claims
        .email()
        .filter(|_| claims.email_verified() != Some(false))
        .map(|e| e.as_str().to_string());
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_string());
    Ok(UpstreamUser {
        subject: claims.subject().as_str().to_string(),
        email,
        name,
        roles: roles.into_iter().take(100).collect(),
    })
}
