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
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKey, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// How long a discovery document (with its JWKS) is used before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// Issuers kept at most; beyond that the oldest entry goes.
const DISCOVERY_CACHE_MAX: usize = 1024;

/// Issuer URL -> (fetched at, discovery document with its JWKS).
type DiscoveryCache = HashMap<String, (Instant, CoreProviderMetadata)>;

/// Discovery documents with their JWKS by issuer URL, in memory: a sign-in fetches them
/// at most once per `DISCOVERY_TTL` (and once more when an ID token names a key the cached
/// JWKS lacks: a rotated key). Public data, so one cache serves every tenant.
fn cache() -> &'static Mutex<DiscoveryCache> {
    static CACHE: OnceLock<Mutex<DiscoveryCache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The provider's metadata, from the cache unless `fresh` or older than the TTL.
async fn discover(
    fetcher: &Fetcher,
    issuer: &str,
    fresh: bool,
) -> Result<CoreProviderMetadata, Refusal> {
    if !fresh {
        let cached = cache().lock().ok().and_then(|c| {
            c.get(issuer)
                .filter(|(at, _)| at.elapsed() < DISCOVERY_TTL)
                .map(|(_, meta)| meta.clone())
        });
        if let Some(meta) = cached {
            return Ok(meta);
        }
    }
    let meta = fetch_discovery(fetcher, issuer).await?;
    if let Ok(mut c) = cache().lock() {
        c.retain(|_, (at, _)| at.elapsed() < DISCOVERY_TTL);
        if c.len() >= DISCOVERY_CACHE_MAX && !c.contains_key(issuer) {
            let oldest = c
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                c.remove(&k);
            }
        }
        c.insert(issuer.to_string(), (Instant::now(), meta.clone()));
    }
    Ok(meta)
}

/// Whether the JWT's header names a `kid` the JWKS lacks.
fn unknown_kid(jwt: &str, meta: &CoreProviderMetadata) -> bool {
    let header: Value = jwt
        .split('.')
        .next()
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let Some(kid) = header["kid"].as_str() else {
        return false;
    };
    !meta
        .jwks()
        .keys()
        .iter()
        .any(|k| k.key_id().is_some_and(|id| id.as_str() == kid))
}

async fn fetch_discovery(fetcher: &Fetcher, issuer: &str) -> Result<CoreProviderMetadata, Refusal> {
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

fn client_for(
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
    let meta = discover(fetcher, &s.issuer, false).await?;
    let client = client_for(meta, s)?;
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
    let meta = discover(fetcher, &s.issuer, false).await?;
    let jwks_known = meta.clone();
    let client = client_for(meta, s)?;
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
    // A key the cached JWKS lacks: the provider may have rotated; fetch once more.
    let client = if unknown_kid(&id_token.to_string(), &jwks_known) {
        client_for(discover(fetcher, &s.issuer, true).await?, s)?
    } else {
        client
    };
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
