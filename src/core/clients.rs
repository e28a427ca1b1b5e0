//! OAuth 2.0 / OpenID Connect clients of a tenant: registration with validation, and
//! client authentication for the token, introspection and revocation endpoints
//! (RFC 6749 §2.3, OIDC Core §9, RFC 7523 §2.2 / §3 for private_key_jwt).
//!
//! Secrets (`tnt_cs_` + 32 random bytes) are stored as their keyed hash, compared in
//! constant time and shown once (security.md "Secrets at rest"). Client records sit on the
//! token endpoint's hot path, so each process keeps them in a bounded cache checked
//! against the tenant's version, which every client write bumps in its transaction
//! (security.md "Several processes"). Imports store and jws, never http or a protocol
//! adapter.

use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
use super::{Core, Error, Result};
use crate::authz::OrgAccess;
use crate::clock::rfc3339;
use crate::ids::{credential, TenantId};
use crate::jws::{self, Alg, VerifyingKey};
use crate::store::{self, clients as rows, tenants as tenant_rows};
use crate::tenancy::Tenant;
use base64::Engine;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const CLIENT_SECRET_PREFIX: &str = "tnt_cs_";
pub const CLIENT_ID_PREFIX: &str = "cli_";
const PURPOSE: &str = "client_secret";
/// RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange",
];
pub const SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "privileges",
    "admin",
];
const DEFAULT_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];
const DEFAULT_SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "privileges"];
/// An assertion may expire at most this far ahead (10 min plus clock skew).
pub const ASSERTION_MAX_AHEAD: i64 = 660;
/// Clock skew tolerated on `nbf` and `iat`.
const SKEW: i64 = 60;
/// JWK members that only private keys carry (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const MAX_URIS: usize = 50;
const MAX_URI_LEN: usize = 2000;
const MAX_JWKS_KEYS: usize = 20;
const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    /// The snake_case name; hyphens are accepted too (CLI).
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s.replace('-', "_").as_str() {
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            "none" => Some(AuthMethod::None),
            _ => None,
        }
    }

    fn has_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

fn alg_name<S: Serializer>(alg: &Alg, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(alg.as_str())
}

#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// `cli_...`
    pub id: String,
    pub name: String,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// Scopes the client may ask for; contains `admin` exactly when `admin_api`.
    pub scopes: Vec<String>,
    /// private_key_jwt: `{"keys":[...]}` of public keys.
    pub jwks: Option<Value>,
    #[serde(serialize_with = "alg_name")]
    pub id_token_alg: Alg,
    pub require_pkce: bool,
    pub admin_api: bool,
    pub initiate_login_uri: Option<String>,
    pub created_at: String,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, g: &str) -> bool {
        self.grant_types.iter().any(|x| x == g)
    }

    /// Exact string comparison (OAuth 2.0 Security BCP §4.1.3).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|x| x == uri)
    }
}

/// What the token/introspection/revocation endpoints received.
pub enum ClientCredentials {
    /// `Authorization: Basic`, already form-urldecoded by the caller (RFC 6749 §2.3.1).
    Basic { id: String, secret: String },
    /// `client_id` and `client_secret` in the body.
    Post { id: String, secret: String },
    /// private_key_jwt (RFC 7523 §2.2); `client_id` when the body carried one.
    Assertion {
        client_id: Option<String>,
        assertion_type: String,
        assertion: String,
    },
    /// A public client: `client_id` only.
    None { id: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    #[serde(default)]
    pub public: bool,
    pub auth_method: Option<AuthMethod>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: authorization_code, refresh_token.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Default: openid profile email offline_access privileges (+ admin with admin_api).
    #[serde(default)]
    pub scopes: Vec<String>,
    pub jwks: Option<Value>,
    pub id_token_alg: Option<String>,
    pub require_pkce: Option<bool>,
    #[serde(default)]
    pub admin_api: bool,
    pub initiate_login_uri: Option<String>,
}

/// A public key of a private_key_jwt client, ready to verify.
struct ClientKey {
    kid: Option<String>,
    key: VerifyingKey,
}

/// A cached client with what authentication needs and the API never shows.
struct Entry {
    client: Arc<Client>,
    secret_hash: Option<String>,
    keys: Vec<ClientKey>,
}

// ---------------------------------------------------------------------------------------
// The per-process cache (one per Core, so two Cores on one database in a test behave as
// two processes): tenant id -> (tenant version, client id -> entry or "absent").

const CACHE_TENANTS: usize = 4096;
const CACHE_PER_TENANT: usize = 1024;

#[derive(Clone)]
struct TenantClients {
    version: i64,
    clients: HashMap<String, Option<Arc<Entry>>>,
}

/// Client records of this process, checked against the tenant's version. Read on every
/// token request: a load takes no lock and writes no shared counter, so the workers do not
/// trade a lock per request. A change (a client read from the database, a tenant
/// forgotten) copies the outer map and that tenant's clients.
#[derive(Default)]
pub struct ClientCache {
    inner: arc_swap::ArcSwap<HashMap<TenantId, Arc<TenantClients>>>,
}

impl ClientCache {
    fn get(&self, tenant: &Tenant, id: &str) -> Option<Option<Arc<Entry>>> {
        let c = self.inner.load();
        let t = c.get(&tenant.id).filter(|t| t.version == tenant.version)?;
        t.clients.get(id).cloned()
    }

    fn put(&self, tenant: &Tenant, id: &str, entry: Option<Arc<Entry>>) {
        // Nothing to store: a caller holding an older version than the cached one read
        // fresher data than it labels (storing it would only make newer callers miss), or an
        // unknown id for a tenant whose cache is full (unknown ids do not push real clients
        // out). Checked before copying anything, so such requests copy no map.
        let skip = |c: &HashMap<TenantId, Arc<TenantClients>>| {
            c.get(&tenant.id).is_some_and(|t| {
                t.version > tenant.version
                    || (t.version == tenant.version
                        && entry.is_none()
                        && t.clients.len() >= CACHE_PER_TENANT)
            })
        };
        if skip(&self.inner.load()) {
            return;
        }
        self.inner.rcu(|c| {
            if skip(c) {
                return Arc::clone(c);
            }
            let mut c = HashMap::clone(c);
            if !c.contains_key(&tenant.id) && c.len() >= CACHE_TENANTS {
                c.clear();
            }
            let mut t = match c.get(&tenant.id) {
                Some(t) if t.version == tenant.version => TenantClients::clone(t),
                _ => TenantClients {
                    version: tenant.version,
                    clients: HashMap::new(),
                },
            };
            if t.clients.len() >= CACHE_PER_TENANT {
                t.clients.clear();
            }
            t.clients.insert(id.to_string(), entry.clone());
            c.insert(tenant.id.clone(), Arc::new(t));
            Arc::new(c)
        });
    }

    /// After a write in this process: forget the tenant at once, whatever version callers
    /// hold.
    fn forget(&self, tenant: &TenantId) {
        if self.inner.load().contains_key(tenant) {
            self.inner.rcu(|c| {
                let mut c = HashMap::clone(c);
                c.remove(tenant);
                c
            });
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rows and validation.

fn new_client_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let suffix: String = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{CLIENT_ID_PREFIX}{suffix}")
}

fn list_of(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("stored client list: {e}")))
}

fn to_entry(r: rows::ClientRow) -> Result<Entry> {
    let jwks: Option<Value> = r
        .jwks
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| Error::internal(format!("stored client jwks: {e}")))?;
    let keys = jwks.as_ref().map(usable_keys).unwrap_or_default();
    let client = Client {
        auth_method: AuthMethod::parse(&r.auth_method)
            .ok_or_else(|| Error::internal("stored client auth method"))?,
        redirect_uris: list_of(&r.redirect_uris)?,
        post_logout_redirect_uris: list_of(&r.post_logout_uris)?,
        grant_types: list_of(&r.grant_types)?,
        scopes: list_of(&r.scopes)?,
        jwks,
        id_token_alg: Alg::parse(&r.id_token_alg)
            .ok_or_else(|| Error::internal("stored client id_token_alg"))?,
        require_pkce: r.require_pkce != 0,
        admin_api: r.admin_api != 0,
        initiate_login_uri: r.initiate_login_uri,
        created_at: rfc3339(r.created_at),
        id: r.id,
        name: r.name,
    };
    Ok(Entry {
        client: Arc::new(client),
        secret_hash: r.secret_hash,
        keys,
    })
}

/// The keys of a JWKS we can verify with: EC P-256, Ed25519 or RSA of at least 2048 bits,
/// `use` absent or `sig`, `alg` absent or the key's own.
fn usable_keys(jwks: &Value) -> Vec<ClientKey> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| k.get("use").is_none_or(|u| u == "sig"))
        .filter_map(|k| {
            let key = VerifyingKey::from_jwk(k).ok()?;
            if k.get("alg").is_some_and(|a| a != key.alg.as_str()) {
                return None;
            }
            if key.alg == Alg::Rs256 {
                let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(k["n"].as_str()?)
                    .ok()?;
                if n.iter().skip_while(|b| **b == 0).count() < 256 {
                    return None;
                }
            }
            Some(ClientKey {
                kid: k["kid"].as_str().map(str::to_string),
                key,
            })
        })
        .collect()
}

fn check_jwks(jwks: &Value) -> Result<()> {
    let bad = |why: &str| Error::invalid("invalid_jwks", format!("the jwks {why}"));
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("must be an object {\"keys\": [...]}"))?;
    if keys.len() > MAX_JWKS_KEYS || jwks.to_string().len() > MAX_JWKS_BYTES {
        return Err(bad("is too large (at most 20 keys, 64 KiB)"));
    }
    let mut kids = Vec::new();
    for k in keys {
        let k = k.as_object().ok_or_else(|| bad("must hold JWK objects"))?;
        if PRIVATE_MEMBERS.iter().any(|m| k.contains_key(*m)) {
            return Err(Error::invalid(
                "private_key_in_jwks",
                "the jwks holds private key material: register public keys only",
            ));
        }
        if let Some(kid) = k.get("kid").and_then(Value::as_str) {
            if kids.contains(&kid) {
                return Err(bad(&format!("names the kid '{kid}' twice")));
            }
            kids.push(kid);
        }
    }
    if usable_keys(jwks).is_empty() {
        return Err(bad(
            "has no usable public signing key (EC P-256, Ed25519, or RSA of 2048 bits or more)",
        ));
    }
    Ok(())
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Absolute, no fragment, no user information; https, or http on localhost / 127.0.0.1 /
/// [::1] (RFC 8252 §7.3), or any http when the server's public URL is itself http
/// (development).
fn check_uri(uri: &str, allow_http: bool, code: &'static str) -> Result<()> {
    let bad = |why: &str| Error::invalid(code, format!("'{uri}' {why}"));
    if uri.len() > MAX_URI_LEN || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("is not a usable URL"));
    }
    if uri.contains('#') {
        return Err(bad("must not contain a fragment"));
    }
    let u = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
    if !u.username().is_empty() || u.password().is_some() || u.host().is_none() {
        return Err(bad("must name a host and carry no user information"));
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(&u) => Ok(()),
        _ => Err(bad("must use https (http only on localhost or 127.0.0.1)")),
    }
}

fn check_uris(uris: Vec<String>, allow_http: bool, code: &'static str) -> Result<Vec<String>> {
    if uris.len() > MAX_URIS {
        return Err(Error::invalid(code, "at most 50 URIs"));
    }
    let mut out: Vec<String> = Vec::new();
    for u in uris {
        check_uri(&u, allow_http, code)?;
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

/// Known values only, duplicates dropped, order kept; `defaults` when none are given.
fn known(
    given: Vec<String>,
    allowed: &[&str],
    defaults: &[&str],
    code: &'static str,
) -> Result<Vec<String>> {
    if given.is_empty() {
        return Ok(defaults.iter().map(|s| s.to_string()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for g in given {
        if !allowed.contains(&g.as_str()) {
            return Err(Error::invalid(
                code,
                format!("'{g}' is not one of {}", allowed.join(", ")),
            ));
        }
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

/// Every rule of a registration; the result lacks only id, secret and time.
fn validate(new: NewClient, allow_http: bool) -> Result<Client> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "invalid_name",
            "a client name is 1 to 100 printable characters",
        ));
    }
    // `public: true` and `auth_method: none` say the same thing; either makes a public client.
    let auth_method = match (new.public, new.auth_method) {
        (true, None | Some(AuthMethod::None)) | (false, Some(AuthMethod::None)) => AuthMethod::None,
        (true, Some(m)) => {
            return Err(Error::invalid(
                "public_client_auth_method",
                format!(
                    "a public client authenticates with none, not {}",
                    m.as_str()
                ),
            ))
        }
        (false, None) => AuthMethod::ClientSecretBasic,
        (false, Some(m)) => m,
    };
    let public = auth_method == AuthMethod::None;
    let grant_types = known(
        new.grant_types,
        &GRANT_TYPES,
        &DEFAULT_GRANTS,
        "unknown_grant_type",
    )?;
    if public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(Error::invalid(
            "public_client_credentials",
            "a public client cannot use the client_credentials grant",
        ));
    }
    let mut scopes = known(new.scopes, &SCOPES, &DEFAULT_SCOPES, "unknown_scope")?;
    if new.admin_api {
        if !scopes.iter().any(|s| s == "admin") {
            scopes.push("admin".into());
        }
    } else if scopes.iter().any(|s| s == "admin") {
        return Err(Error::invalid(
            "admin_scope_not_allowed",
            "the admin scope needs admin_api: true",
        ));
    }
    let redirect_uris = check_uris(new.redirect_uris, allow_http, "invalid_redirect_uri")?;
    if redirect_uris.is_empty() && grant_types.iter().any(|g| g == "authorization_code") {
        return Err(Error::invalid(
            "redirect_uri_required",
            "a client using authorization_code needs at least one redirect URI",
        ));
    }
    let post_logout_redirect_uris = check_uris(
        new.post_logout_redirect_uris,
        allow_http,
        "invalid_post_logout_redirect_uri",
    )?;
    if let Some(u) = &new.initiate_login_uri {
        check_uri(u, allow_http, "invalid_initiate_login_uri")?;
    }
    let id_token_alg = match new.id_token_alg.as_deref() {
        None => Alg::Es256,
        Some(a) => Alg::parse(a).ok_or_else(|| {
            Error::invalid(
                "unknown_id_token_alg",
                format!("'{a}' is not one of ES256, EdDSA, RS256"),
            )
        })?,
    };
    let require_pkce = new.require_pkce.unwrap_or(true);
    if public && !require_pkce {
        return Err(Error::invalid(
            "public_client_pkce",
            "PKCE cannot be turned off for a public client",
        ));
    }
    match (&new.jwks, auth_method) {
        (Some(j), AuthMethod::PrivateKeyJwt) => check_jwks(j)?,
        (None, AuthMethod::PrivateKeyJwt) => {
            return Err(Error::invalid(
                "jwks_required",
                "a private_key_jwt client needs a jwks of public keys",
            ))
        }
        (Some(_), _) => {
            return Err(Error::invalid(
                "jwks_not_allowed",
                "only private_key_jwt clients register a jwks",
            ))
        }
        (None, _) => {}
    }
    Ok(Client {
        id: String::new(),
        name,
        auth_method,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        scopes,
        jwks: new.jwks,
        id_token_alg,
        require_pkce,
        admin_api: new.admin_api,
        initiate_login_uri: new.initiate_login_uri,
        created_at: String::new(),
    })
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn invalid_client() -> Error {
    Error::Unauthenticated {
        code: "invalid_client",
        message: "client authentication failed".into(),
    }
}

/// An `aud` claim (string or array) naming one of `accepted`.
fn audience_ok(aud: &Value, accepted: &[&str]) -> bool {
    match aud {
        Value::String(s) => accepted.contains(&s.as_str()),
        Value::Array(a) => a
            .iter()
            .any(|v| v.as_str().is_some_and(|s| accepted.contains(&s))),
        _ => false,
    }
}

/// A JWT NumericDate (RFC 7519 §2): seconds, possibly with a fraction.
fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })
}

/// Why authentication failed, for the log only: the client learns `invalid_client`.
type Refusal = &'static str;

impl Core {
    async fn client_entry(&self, tenant: &Tenant, id: &str) -> Result<Option<Arc<Entry>>> {
        if let Some(hit) = self.client_cache.get(tenant, id) {
            return Ok(hit);
        }
        if !id.starts_with(CLIENT_ID_PREFIX) || id.len() > 64 {
            return Ok(None);
        }
        // Boxed: the database read's future is large, and the cached path above is what
        // nearly every request takes.
        Box::pin(self.load_client_entry(tenant, id)).await
    }

    async fn load_client_entry(&self, tenant: &Tenant, id: &str) -> Result<Option<Arc<Entry>>> {
        let mut conn = self.store.conn().await?;
        let entry = match rows::get(&mut conn, &tenant.id, id).await? {
            Some(r) => Some(Arc::new(to_entry(r)?)),
            None => None,
        };
        self.client_cache.put(tenant, id, entry.clone());
        Ok(entry)
    }

    /// A client of this tenant, from the per-process cache when the tenant's version is
    /// unchanged.
    pub async fn client(&self, tenant: &Tenant, id: &str) -> Result<Option<Client>> {
        Ok(self
            .client_entry(tenant, id)
            .await?
            .map(|e| Client::clone(&e.client)))
    }

    /// Ok(client) when the credentials are valid in this tenant and use the client's
    /// registered method; `invalid_client` otherwise (RFC 6749 §5.2). Database failures
    /// stay internal errors.
    pub async fn authenticate_client(
        &self,
        tenant: &Tenant,
        creds: ClientCredentials,
        token_endpoint: &str,
    ) -> Result<Arc<Client>> {
        let outcome = match creds {
            ClientCredentials::Basic { id, secret } => {
                self.check_secret(tenant, &id, &secret, AuthMethod::ClientSecretBasic)
                    .await?
            }
            ClientCredentials::Post { id, secret } => {
                self.check_secret(tenant, &id, &secret, AuthMethod::ClientSecretPost)
                    .await?
            }
            ClientCredentials::None { id } => match self.client_entry(tenant, &id).await? {
                Some(e) if e.client.auth_method == AuthMethod::None => Ok(e),
                Some(_) => Err("confidential client presented no credentials"),
                None => Err("unknown client"),
            },
            ClientCredentials::Assertion {
                client_id,
                assertion_type,
                assertion,
            } => {
                Box::pin(self.check_assertion(
                    tenant,
                    client_id.as_deref(),
                    &assertion_type,
                    &assertion,
                    token_endpoint,
                ))
                .await?
            }
        };
        match outcome {
            Ok(e) => Ok(e.client.clone()),
            Err(why) => {
                tracing::debug!(tenant = %tenant.name, reason = why, "client authentication failed");
                Err(invalid_client())
            }
        }
    }

    async fn check_secret(
        &self,
        tenant: &Tenant,
        id: &str,
        secret: &str,
        method: AuthMethod,
    ) -> Result<std::result::Result<Arc<Entry>, Refusal>> {
        let entry = self.client_entry(tenant, id).await?;
        let stored = entry.as_ref().and_then(|e| e.secret_hash.as_deref());
        // Hash and compare even without a client, so timing tells little.
        let matches = self
            .keys
            .verify_credential(PURPOSE, secret, stored.unwrap_or(""));
        Ok(match entry {
            None => Err("unknown client"),
            Some(e) if e.client.auth_method != method => Err("authentication method mismatch"),
            Some(_) if !matches || stored.is_none() => Err("wrong secret"),
            Some(e) => Ok(e),
        })
    }

    /// RFC 7523 §3: iss = sub = client id, aud names us, exp soon, signed by a registered
    /// key, jti used once.
    async fn check_assertion(
        &self,
        tenant: &Tenant,
        client_id: Option<&str>,
        assertion_type: &str,
        assertion: &str,
        token_endpoint: &str,
    ) -> Result<std::result::Result<Arc<Entry>, Refusal>> {
        if assertion_type != JWT_BEARER_ASSERTION {
            return Ok(Err("unknown client_assertion_type"));
        }
        let Ok(parsed) = jws::parse(assertion) else {
            return Ok(Err("malformed assertion or refused algorithm"));
        };
        let claims = &parsed.claims;
        let (Some(iss), Some(sub)) = (claims["iss"].as_str(), claims["sub"].as_str()) else {
            return Ok(Err("assertion without iss or sub"));
        };
        if iss != sub || client_id.is_some_and(|c| c != iss) {
            return Ok(Err("iss, sub and client_id differ"));
        }
        let Some(entry) = self.client_entry(tenant, iss).await? else {
            return Ok(Err("unknown client"));
        };
        if entry.client.auth_method != AuthMethod::PrivateKeyJwt {
            return Ok(Err("authentication method mismatch"));
        }
        let kid = parsed.kid();
        let verified = entry
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .any(|k| parsed.verify(&k.key).is_ok());
        if !verified {
            return Ok(Err("no registered key verifies the assertion"));
        }
        let now = self.clock.now();
        let Some(exp) = numeric_date(&claims["exp"]) else {
            return Ok(Err("assertion without exp"));
        };
        if exp <= now || exp > now + ASSERTION_MAX_AHEAD {
            return Ok(Err("assertion expired or valid for too long"));
        }
        let not_yet = |c: &str| numeric_date(&claims[c]).is_some_and(|t| t > now + SKEW);
        if not_yet("nbf") || not_yet("iat") {
            return Ok(Err("assertion not valid yet"));
        }
        let issuer = self.issuer(&tenant.name);
        if !audience_ok(&claims["aud"], &[token_endpoint, &issuer]) {
            return Ok(Err("assertion audience is not this server"));
        }
        let jti = match claims["jti"].as_str() {
            Some(j) if !j.is_empty() && j.len() <= 255 => j,
            _ => return Ok(Err("assertion without a usable jti")),
        };
        let mut conn = self.store.conn().await?;
        if !rows::use_jti(&mut conn, &tenant.id, iss, jti, exp, now).await? {
            return Ok(Err("assertion jti used before"));
        }
        Ok(Ok(entry))
    }

    /// Register a client; the secret (client_secret_basic/post only) is returned here and
    /// never again.
    pub async fn create_client(
        &self,
        tenant: &Tenant,
        new: NewClient,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<(Client, Option<String>)> {
        let mut client = validate(new, !self.public_url.https)?;
        let now = self.clock.now();
        client.id = new_client_id();
        client.created_at = rfc3339(now);
        let secret = client
            .auth_method
            .has_secret()
            .then(|| credential(CLIENT_SECRET_PREFIX));
        let row = rows::ClientRow {
            id: client.id.clone(),
            name: client.name.clone(),
            secret_hash: secret
                .as_deref()
                .map(|s| self.keys.hash_credential(PURPOSE, s)),
            auth_method: client.auth_method.as_str().into(),
            redirect_uris: json_list(&client.redirect_uris),
            post_logout_uris: json_list(&client.post_logout_redirect_uris),
            grant_types: json_list(&client.grant_types),
            scopes: json_list(&client.scopes),
            jwks: client.jwks.as_ref().map(Value::to_string),
            id_token_alg: client.id_token_alg.as_str().into(),
            require_pkce: store::flag(client.require_pkce),
            admin_api: store::flag(client.admin_api),
            initiate_login_uri: client.initiate_login_uri.clone(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        rows::insert(&mut tx, &tenant.id, &row).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "client.create",
                target: format!("client:{}", client.id),
                before: None,
                after: Some(json!(client)),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.client_cache.forget(&tenant.id);
        self.tenants.invalidate();
        Ok((client, secret))
    }

    /// Every client of the tenant, oldest first, read from the database.
    pub async fn list_clients(&self, tenant: &Tenant) -> Result<Vec<Client>> {
        let mut conn = self.store.conn().await?;
        rows::list(&mut conn, &tenant.id)
            .await?
            .into_iter()
            .map(|r| to_entry(r).map(|e| Arc::unwrap_or_clone(e.client)))
            .collect()
    }

    /// Remove a client; its codes and refresh tokens go with it.
    pub async fn delete_client(
        &self,
        tenant: &Tenant,
        id: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let row = rows::get(&mut tx, &tenant.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        let before = to_entry(row)?.client;
        rows::delete(&mut tx, &tenant.id, id).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "client.delete",
                target: format!("client:{id}"),
                before: Some(json!(before)),
                after: None,
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.client_cache.forget(&tenant.id);
        self.tenants.invalidate();
        Ok(())
    }

    // The admin API's view: org read-only to see, org full to change.

    fn require_org_reader(call: &OrgCall) -> Result<()> {
        if call.eff.org_access == OrgAccess::None {
            return Err(Error::forbidden(
                "org_read_required",
                "clients need org read-only access",
            ));
        }
        Ok(())
    }

    /// GET /clients; `q` matches part of the name, case-insensitively.
    pub async fn api_list_clients(&self, call: &OrgCall, q: Option<&str>) -> Result<Vec<Client>> {
        Self::require_org_reader(call)?;
        let q = q.map(str::to_lowercase);
        let mut all = self.list_clients(&call.org).await?;
        if let Some(q) = q {
            all.retain(|c| c.name.to_lowercase().contains(&q));
        }
        Ok(all)
    }

    /// GET /clients/{id}, fresh from the database.
    pub async fn api_get_client(&self, call: &OrgCall, id: &str) -> Result<Client> {
        Self::require_org_reader(call)?;
        let mut conn = self.store.conn().await?;
        let row = rows::get(&mut conn, &call.org.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(Arc::unwrap_or_clone(to_entry(row)?.client))
    }

    pub async fn api_create_client(
        &self,
        call: &OrgCall,
        new: NewClient,
    ) -> Result<(Client, Option<String>)> {
        call.require_org_full("register clients")?;
        self.create_client(&call.org, new, &call.actor(), call.request_id.as_deref())
            .await
    }

    pub async fn api_delete_client(&self, call: &OrgCall, id: &str) -> Result<()> {
        call.require_org_full("delete clients")?;
        self.delete_client(&call.org, id, &call.actor(), call.request_id.as_deref())
            .await
    }
}
