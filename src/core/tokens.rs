//! Issuing and checking tokens (product.md "Tokens and claims", RFC 9068 access tokens,
//! OIDC ID tokens, opaque rotating refresh tokens) and the claims they carry. Privilege
//! claims are computed by the engine at issue time, released only under scope
//! `privileges`; above 200 networks a token carries `networks_ref` instead.

use super::clients::Client;
use super::{Core, Error, Result};
use crate::authz;
use crate::ids::{credential, TenantId};
use crate::jws::Alg;
use crate::store::{self, tokens as rows, users as user_rows};
use crate::tenancy::Tenant;
use serde::Serialize;
use serde_json::{json, Map, Value};

pub const ACCESS_TTL: i64 = 600;
/// Tokens carrying `act` live 5 minutes (security.md).
pub const ACT_TTL: i64 = 300;
pub const CODE_TTL: i64 = 60;
pub const REFRESH_IDLE: i64 = 7 * 24 * 3600;
pub const REFRESH_ABSOLUTE: i64 = 30 * 24 * 3600;
pub const MAX_NETWORKS_IN_TOKEN: usize = 200;
pub const REFRESH_PREFIX: &str = "tnt_rt_";
pub const CODE_PREFIX: &str = "tnt_ac_";
const REFRESH_PURPOSE: &str = "refresh_token";
const CODE_PURPOSE: &str = "authorization_code";

/// Whose privileges a user token carries: a local user, or an MSP user acting in a
/// customer through its customer-side identity.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Subject {
    /// The `sub` in this tenant.
    pub sub: String,
    /// Where the user lives (the tenant itself, or its MSP).
    pub home: TenantId,
    pub user_id: String,
}

impl Subject {
    /// The subject behind `sub` in `tenant`: with an `act` claim of an MSP user in a
    /// customer, that MSP user acting through its customer-side identity; else a local user.
    pub fn acting(tenant: &Tenant, sub: &str, act: Option<&Value>) -> Self {
        match (act.and_then(|a| a["sub"].as_str()), &tenant.msp_id) {
            (Some(msp_user), Some(msp)) => Subject {
                sub: sub.to_string(),
                home: msp.clone(),
                user_id: msp_user.to_string(),
            },
            _ => Subject::local(tenant, sub),
        }
    }

    pub fn local(tenant: &Tenant, user_id: &str) -> Self {
        Subject {
            sub: user_id.to_string(),
            home: tenant.id.clone(),
            user_id: user_id.to_string(),
        }
    }
}

/// What a user token is issued for.
#[derive(Debug, Clone)]
pub struct UserGrant {
    pub subject: Subject,
    pub session_id: Option<String>,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub act: Option<Value>,
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl TokenResponse {
    /// The response body (RFC 6749 §5.1), written directly: tokens are base64url and dots
    /// and need no escaping, so each string is checked and copied rather than run through
    /// the general escaper. The same JSON as serializing the struct.
    pub fn to_json(&self) -> Vec<u8> {
        let opt = |o: &Option<String>| o.as_ref().map_or(0, |s| s.len() + 20);
        let mut out = Vec::with_capacity(
            96 + self.access_token.len()
                + self.scope.len()
                + opt(&self.id_token)
                + opt(&self.refresh_token)
                + self.issued_token_type.map_or(0, |t| t.len() + 24),
        );
        let field = |out: &mut Vec<u8>, name: &str, value: &str| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            push_json_str(out, value);
        };
        out.extend_from_slice(b"{\"access_token\":");
        push_json_str(&mut out, &self.access_token);
        field(&mut out, "token_type", self.token_type);
        out.extend_from_slice(b",\"expires_in\":");
        let _ = std::io::Write::write_fmt(&mut out, format_args!("{}", self.expires_in));
        field(&mut out, "scope", &self.scope);
        for (name, value) in [
            ("id_token", self.id_token.as_deref()),
            ("refresh_token", self.refresh_token.as_deref()),
            ("issued_token_type", self.issued_token_type),
        ] {
            if let Some(v) = value {
                field(&mut out, name, v);
            }
        }
        out.push(b'}');
        out
    }
}

/// Append `s` as a JSON string: copied as it is when nothing in it needs escaping (the
/// scan has no early exit, so it vectorises), else through serde_json's escaper.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let plain = !s.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// A token id: 128 random bits, base64url (22 characters), on the stack.
struct Jti([u8; 22]);

impl Jti {
    fn as_str(&self) -> &str {
        // base64url output is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

fn new_jti() -> Jti {
    use base64::Engine;
    use rand::Rng;
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    let mut out = [0u8; 22];
    let _ = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_slice(bytes, &mut out);
    Jti(out)
}

impl Core {
    pub fn hash_code(&self, code: &str) -> String {
        self.keys.hash_credential(CODE_PURPOSE, code)
    }

    pub fn hash_refresh(&self, token: &str) -> String {
        self.keys.hash_credential(REFRESH_PURPOSE, token)
    }

    /// `tenant`, `org_access`, `org_roles`, `networks` (or `networks_ref`), `msp`.
    pub async fn privilege_claims(
        &self,
        tenant: &Tenant,
        subject: &Subject,
    ) -> Result<Map<String, Value>> {
        let mut conn = self.store.conn().await?;
        let model = self.org_model(&mut conn, tenant).await?;
        let input = self
            .admin_input(&mut conn, tenant, &subject.home, &subject.user_id)
            .await?;
        let eff = authz::effective(&model, &input, self.clock.now());
        let issuer = self.issuer(&tenant.name);
        let mut m = Map::new();
        m.insert("tenant".into(), json!(tenant.name));
        m.insert("org_access".into(), json!(eff.org_access));
        m.insert("org_roles".into(), json!(eff.org_roles));
        if eff.networks.len() > MAX_NETWORKS_IN_TOKEN {
            m.insert(
                "networks_ref".into(),
                json!(format!("{issuer}/api/v1/me/privileges")),
            );
        } else {
            m.insert("networks".into(), json!(eff.networks));
        }
        let standing =
            super::standing::Standing::load(&mut conn, &subject.home, &subject.user_id).await?;
        if let Some(role) = standing.role() {
            let msp = self
                .tenants
                .by_id(&subject.home)
                .await?
                .map(|t| t.name.clone())
                .unwrap_or_default();
            m.insert("msp".into(), json!({"tenant": msp, "role": role}));
        }
        Ok(m)
    }

    /// `email`, `email_verified`, `name` by scope.
    async fn profile_claims(
        &self,
        subject: &Subject,
        scope: &[String],
    ) -> Result<Map<String, Value>> {
        let mut m = Map::new();
        if !scope.iter().any(|s| s == "email" || s == "profile") {
            return Ok(m);
        }
        let mut conn = self.store.conn().await?;
        let Some(user) = user_rows::user_by_id(&mut conn, &subject.home, &subject.user_id).await?
        else {
            return Ok(m);
        };
        if scope.iter().any(|s| s == "email") {
            m.insert("email".into(), json!(user.email));
            // Addresses come from admins and directories, not from self-service sign-up.
            m.insert("email_verified".into(), json!(true));
        }
        if scope.iter().any(|s| s == "profile") {
            if let Some(n) = user.display_name {
                m.insert("name".into(), json!(n));
            }
            m.insert("updated_at".into(), json!(user.updated_at));
        }
        Ok(m)
    }

    /// Claims for userinfo and ID tokens beyond the registered ones.
    pub async fn user_claims(
        &self,
        tenant: &Tenant,
        subject: &Subject,
        scope: &[String],
        act: Option<&Value>,
    ) -> Result<Map<String, Value>> {
        let mut m = self.profile_claims(subject, scope).await?;
        if scope.iter().any(|s| s == "privileges") {
            m.extend(self.privilege_claims(tenant, subject).await?);
        }
        if let Some(a) = act {
            m.insert("act".into(), a.clone());
        }
        Ok(m)
    }

    /// Access token (and ID token, and a refresh token of `family` when allowed) for a user.
    pub async fn issue_user_tokens(
        &self,
        tenant: &Tenant,
        client: &Client,
        grant: &UserGrant,
        family: Option<(String, i64)>,
    ) -> Result<TokenResponse> {
        let now = self.clock.now();
        let issuer = self.issuer(&tenant.name);
        let ttl = if grant.act.is_some() {
            ACT_TTL
        } else {
            ACCESS_TTL
        };
        let jti = new_jti();
        let extra = self
            .user_claims(tenant, &grant.subject, &grant.scope, grant.act.as_ref())
            .await?;
        let mut aud = vec![json!(grant
            .resource
            .clone()
            .unwrap_or_else(|| client.id.clone()))];
        if grant.scope.iter().any(|s| s == "admin") && client.admin_api {
            aud.push(json!(format!("{issuer}/api/v1")));
        }
        let mut at = Map::new();
        at.insert("iss".into(), json!(issuer));
        at.insert("sub".into(), json!(grant.subject.sub));
        at.insert(
            "aud".into(),
            if aud.len() == 1 {
                aud[0].clone()
            } else {
                json!(aud)
            },
        );
        at.insert("client_id".into(), json!(client.id));
        at.insert("iat".into(), json!(now));
        at.insert("exp".into(), json!(now + ttl));
        at.insert("jti".into(), json!(jti.as_str()));
        at.insert("scope".into(), json!(grant.scope.join(" ")));
        at.insert("auth_time".into(), json!(grant.auth_time));
        at.insert("amr".into(), json!(grant.amr));
        if let Some(sid) = &grant.session_id {
            at.insert("sid".into(), json!(sid));
        }
        at.extend(
            extra
                .clone()
                .into_iter()
                .filter(|(k, _)| !k.starts_with("email") && k != "name" && k != "updated_at"),
        );
        let access_token = self
            .sign_jwt(tenant, Alg::Es256, "at+jwt", &Value::Object(at))
            .await?;

        let id_token = if grant.scope.iter().any(|s| s == "openid") {
            let mut id = Map::new();
            id.insert("iss".into(), json!(issuer));
            id.insert("sub".into(), json!(grant.subject.sub));
            id.insert("aud".into(), json!(client.id));
            id.insert("azp".into(), json!(client.id));
            id.insert("iat".into(), json!(now));
            id.insert("exp".into(), json!(now + ttl));
            id.insert("auth_time".into(), json!(grant.auth_time));
            id.insert("amr".into(), json!(grant.amr));
            if let Some(n) = &grant.nonce {
                id.insert("nonce".into(), json!(n));
            }
            if let Some(sid) = &grant.session_id {
                id.insert("sid".into(), json!(sid));
            }
            id.extend(extra);
            Some(
                self.sign_jwt(tenant, client.id_token_alg, "JWT", &Value::Object(id))
                    .await?,
            )
        } else {
            None
        };

        let mut tx = self.store.begin().await?;
        let refresh_token = match family {
            Some((family_id, family_expires_at)) => {
                let token = credential(REFRESH_PREFIX);
                rows::insert_refresh(
                    &mut tx,
                    &tenant.id,
                    &self.hash_refresh(&token),
                    &rows::RefreshRow {
                        family_id: family_id.clone(),
                        client_id: client.id.clone(),
                        user_id: grant.subject.sub.clone(),
                        subject: serde_json::to_string(&grant.subject).unwrap_or_default(),
                        session_id: grant.session_id.clone(),
                        scope: grant.scope.join(" "),
                        resource: grant.resource.clone(),
                        amr: serde_json::to_string(&grant.amr).unwrap_or_default(),
                        act: grant.act.as_ref().map(Value::to_string),
                        auth_time: grant.auth_time,
                        created_at: now,
                        idle_expires_at: (now + REFRESH_IDLE).min(family_expires_at),
                        family_expires_at,
                    },
                )
                .await?;
                rows::record_issued(
                    &mut tx,
                    &tenant.id,
                    &rows::Issued {
                        jti: jti.as_str(),
                        user: Some(&grant.subject.sub),
                        client: &client.id,
                        session: grant.session_id.as_deref(),
                        family: Some(&family_id),
                        expires_at: now + ttl,
                    },
                )
                .await?;
                Some(token)
            }
            None => {
                rows::record_issued(
                    &mut tx,
                    &tenant.id,
                    &rows::Issued {
                        jti: jti.as_str(),
                        user: Some(&grant.subject.sub),
                        client: &client.id,
                        session: grant.session_id.as_deref(),
                        family: None,
                        expires_at: now + ttl,
                    },
                )
                .await?;
                None
            }
        };
        tx.commit().await.map_err(store::db)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope: grant.scope.join(" "),
            id_token,
            refresh_token,
            issued_token_type: None,
        })
    }

    /// client_credentials: a token for the client itself. No database write: the hot path.
    pub async fn issue_client_token(
        &self,
        tenant: &Tenant,
        client: &Client,
        scope: &[&str],
        resource: Option<&str>,
    ) -> Result<TokenResponse> {
        /// RFC 9068 access token claims of a client acting for itself.
        #[derive(Serialize)]
        struct ClientClaims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            client_id: &'a str,
            iat: i64,
            exp: i64,
            jti: &'a str,
            scope: &'a str,
        }
        let now = self.clock.now();
        let issuer = self.issuer(&tenant.name);
        let scope = scope.join(" ");
        let jti = new_jti();
        let claims = ClientClaims {
            iss: &issuer,
            sub: &client.id,
            aud: resource.unwrap_or(&client.id),
            client_id: &client.id,
            iat: now,
            exp: now + ACCESS_TTL,
            jti: jti.as_str(),
            scope: &scope,
        };
        Ok(TokenResponse {
            access_token: self.sign_jwt(tenant, Alg::Es256, "at+jwt", &claims).await?,
            token_type: "Bearer",
            expires_in: ACCESS_TTL,
            scope,
            id_token: None,
            refresh_token: None,
            issued_token_type: None,
        })
    }

    /// An access token of this tenant: our signature, `typ` at+jwt, our issuer, unexpired,
    /// not revoked. Returns its claims (see `verified_access_token`).
    pub async fn verify_access_token(&self, tenant: &Tenant, token: &str) -> Result<Value> {
        Ok(self
            .verified_access_token(tenant, token)
            .await?
            .claims
            .clone())
    }

    /// The same, shared: verified tokens are cached by a hash of (tenant id, token) for as
    /// long as the tenant's version stands and the token is unexpired (decisions.md
    /// "OIDC"). Every revocation bumps the version in its transaction, so a revoked token
    /// is checked against the database again: at once in the process that revoked it,
    /// within the tenant cache's 5 s re-read in the others.
    pub async fn verified_access_token(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<std::sync::Arc<VerifiedToken>> {
        let now = self.clock.now();
        let key = verified_key(&tenant.id, token);
        if let Some(hit) = self.token_cache.get(&key, tenant.version, now) {
            return Ok(hit);
        }
        let claims = self.verify_access_token_uncached(tenant, token).await?;
        let exp = claims["exp"].as_i64().unwrap_or(now);
        let mut answer = claims.as_object().cloned().unwrap_or_default();
        answer.insert("active".into(), json!(true));
        answer.insert("token_type".into(), json!("Bearer"));
        let introspection = serde_json::to_vec(&Value::Object(answer))
            .map_err(|e| Error::internal(format!("introspection answer: {e}")))?;
        let verified = std::sync::Arc::new(VerifiedToken {
            claims,
            introspection: bytes::Bytes::from(introspection),
        });
        self.token_cache
            .put(key, verified.clone(), exp, tenant.version, now);
        Ok(verified)
    }

    async fn verify_access_token_uncached(&self, tenant: &Tenant, token: &str) -> Result<Value> {
        let parsed_typ = crate::jws::parse(token)
            .ok()
            .and_then(|p| p.typ().map(str::to_string));
        if parsed_typ.as_deref() != Some("at+jwt") {
            return Err(Error::invalid("invalid_token", "not an access token"));
        }
        let claims = self.verify_jwt(tenant, token).await?;
        let now = self.clock.now();
        if claims["iss"] != json!(self.issuer(&tenant.name)) {
            return Err(Error::invalid("invalid_token", "issuer"));
        }
        if claims["exp"].as_i64().is_none_or(|e| e <= now) {
            return Err(Error::invalid("invalid_token", "expired"));
        }
        let jti = claims["jti"].as_str().unwrap_or_default();
        let mut conn = self.store.conn().await?;
        if rows::is_revoked(&mut conn, &tenant.id, jti).await? {
            return Err(Error::invalid("invalid_token", "revoked"));
        }
        Ok(claims)
    }
}

impl Core {
    /// The admin-API principal of an access token of this tenant: `aud` names
    /// `{issuer}/api/v1`, the scope holds `admin`, the client is allowed the admin API
    /// (security.md "Who may call what"). An MSP user acting here (`act`) is that MSP user.
    pub async fn principal_from_access_token(
        &self,
        host: &std::sync::Arc<Tenant>,
        token: &str,
    ) -> Result<Option<super::privileges::Principal>> {
        let Ok(claims) = self.verify_access_token(host, token).await else {
            return Ok(None);
        };
        let api = format!("{}/api/v1", self.issuer(&host.name));
        let aud_ok = match &claims["aud"] {
            Value::String(a) => *a == api,
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(&api)),
            _ => false,
        };
        let scope_ok = claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .any(|s| s == "admin");
        if !aud_ok || !scope_ok {
            return Ok(None);
        }
        let client_id = claims["client_id"].as_str().unwrap_or_default();
        match self.client(host, client_id).await? {
            Some(c) if c.admin_api => {}
            _ => return Ok(None),
        }
        let sub = claims["sub"].as_str().unwrap_or_default();
        let subject = Subject::acting(host, sub, claims.get("act").filter(|a| a.is_object()));
        let home = if subject.home == host.id {
            host.clone()
        } else {
            match self.tenants.by_id(&subject.home).await? {
                Some(m) => m,
                None => return Ok(None),
            }
        };
        let user_id = subject.user_id;
        let mut conn = self.store.conn().await?;
        let Some(user) = user_rows::user_by_id(&mut conn, &home.id, &user_id).await? else {
            return Ok(None);
        };
        if user.status != "active" {
            return Ok(None);
        }
        Ok(Some(super::privileges::Principal {
            home,
            user_id: user.id,
            email: user.email,
            api_key_id: None,
        }))
    }
}

/// A verified access token: its claims and the RFC 7662 answer (`active`, `token_type`
/// and the claims), serialized once, for a client allowed to see it.
pub struct VerifiedToken {
    pub claims: Value,
    pub introspection: bytes::Bytes,
}

/// The cache key: a token is only ever found again under the tenant that verified it.
fn verified_key(tenant: &TenantId, token: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(tenant.as_str().as_bytes());
    h.update([0u8]);
    h.update(token.as_bytes());
    h.finalize().into()
}

type VerifiedEntry = (std::sync::Arc<VerifiedToken>, i64, i64);

/// Verified access tokens by key: (token, expiry, tenant version when verified).
#[derive(Default)]
pub struct VerifiedTokens {
    inner: std::sync::Mutex<std::collections::HashMap<[u8; 32], VerifiedEntry>>,
}

const VERIFIED_MAX: usize = 100_000;

impl VerifiedTokens {
    fn get(&self, key: &[u8; 32], version: i64, now: i64) -> Option<std::sync::Arc<VerifiedToken>> {
        let map = self.inner.lock().ok()?;
        match map.get(key) {
            Some((token, exp, v)) if *v == version && *exp > now => Some(token.clone()),
            _ => None,
        }
    }

    fn put(
        &self,
        key: [u8; 32],
        token: std::sync::Arc<VerifiedToken>,
        exp: i64,
        version: i64,
        now: i64,
    ) {
        if let Ok(mut map) = self.inner.lock() {
            // An entry of a newer version stays: this caller read an older snapshot.
            if map.get(&key).is_some_and(|(_, _, v)| *v > version) {
                return;
            }
            if map.len() >= VERIFIED_MAX {
                map.retain(|_, (_, e, _)| *e > now);
                if map.len() >= VERIFIED_MAX {
                    map.clear();
                }
            }
            map.insert(key, (token, exp, version));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(scope: &str, optional: bool) -> TokenResponse {
        TokenResponse {
            access_token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_".into(),
            token_type: "Bearer",
            expires_in: 600,
            scope: scope.into(),
            id_token: optional.then(|| "eyJ0.eyJ1.c2".into()),
            refresh_token: optional.then(|| "rt_abc".into()),
            issued_token_type: optional.then_some(crate::core::exchange::ACCESS_TOKEN_TYPE),
        }
    }

    #[test]
    fn the_written_token_response_is_the_serialized_one() {
        for scope in [
            "",
            "openid privileges",
            "odd \"quoted\" back\\slash\ttab \u{1} é",
        ] {
            for optional in [false, true] {
                let r = response(scope, optional);
                let written: Value = serde_json::from_slice(&r.to_json()).expect("valid JSON");
                assert_eq!(
                    written,
                    serde_json::to_value(&r).expect("serialize"),
                    "{scope}"
                );
                if scope.is_empty() && !optional {
                    assert_eq!(
                        String::from_utf8(r.to_json()).expect("utf-8"),
                        serde_json::to_string(&r).expect("serialize")
                    );
                }
            }
        }
    }

    #[test]
    fn token_ids_are_22_base64url_characters_and_differ() {
        let (a, b) = (new_jti(), new_jti());
        for j in [&a, &b] {
            assert_eq!(j.as_str().len(), 22);
            assert!(j
                .as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        }
        assert_ne!(a.as_str(), b.as_str());
    }
}
