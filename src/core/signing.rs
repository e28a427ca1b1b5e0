//! Token signing keys per tenant (product.md "Tokens and claims", security.md key life
//! cycle): ES256 by default, EdDSA and RS256 beside it (OIDC discovery requires RS256).
//!
//! Keys are generated on first use (RSA in spawn_blocking), the private parts sealed with
//! the master key. Life cycle: `next` (published in JWKS, not signing) -> `active` once
//! the JWKS max-age plus the cache interval has passed -> `retired` (still published until
//! every token it signed has expired). Rotation is automatic by age and on demand.
//! Each process caches a tenant's loaded keys and prepared JWKS bytes, re-checked against
//! the tenant's version (bumped by every key change) and the next time-based transition.

use super::secrets::SealContext;
use super::{Core, Error, Result};
use crate::ids::{SigningKeyId, TenantId};
use crate::jws::{self, Alg, SigningKey, VerifyingKey};
use crate::store::{keys as rows, tenants as tenant_rows};
use crate::tenancy::Tenant;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const PURPOSE: &str = "jwt";
/// JWKS `Cache-Control: max-age` (security.md) plus the 5 s cache re-check.
pub const JWKS_MAX_AGE: i64 = 300;
pub const PROMOTE_AFTER: i64 = JWKS_MAX_AGE + 5;
/// The longest-lived token we sign (ID and access tokens: 10 min), with a margin.
pub const RETIRED_PUBLISHED: i64 = 3600;
pub const ROTATE_AFTER: i64 = 90 * 24 * 3600;

/// One tenant's keys, loaded.
pub struct TenantKeys {
    pub version: i64,
    /// Earliest time a `next` key should be promoted or a retired key dropped from JWKS.
    pub recheck_at: i64,
    pub signers: HashMap<Alg, (String, Arc<SigningKey>)>,
    pub verifiers: HashMap<String, VerifyingKey>,
    /// The JWKS document, serialized once per change.
    pub jwks: bytes::Bytes,
}

/// A token-signing key as the JWKS publishes it, with its state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishedKey {
    pub id: String,
    pub alg: String,
    pub kty: String,
    /// `active` (signs now), `next` (published, signing soon) or `retired` (published
    /// until the tokens it signed have expired).
    pub state: String,
}

#[derive(Default)]
pub struct KeyCache {
    /// Read on every token request: a load takes no lock and writes no shared counter, so
    /// the workers do not trade a lock per request. Changes (a tenant's keys loaded or
    /// forgotten) copy the map.
    inner: arc_swap::ArcSwap<HashMap<TenantId, Arc<TenantKeys>>>,
    /// One (re)load per tenant at a time in this process: the first requests to a new
    /// tenant would otherwise each generate a full set of keys (RSA-2048 takes a core for
    /// a while) and all but one would lose the insert.
    reload: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

fn seal_ctx<'a>(tenant: &'a TenantId, id: &'a str) -> SealContext<'a> {
    SealContext {
        tenant: tenant.as_str(),
        table: "signing_keys",
        row: id,
        purpose: PURPOSE,
    }
}

impl Core {
    /// The tenant's loaded keys, generating the first ones and promoting due `next` keys.
    pub async fn tenant_keys(&self, tenant: &Tenant) -> Result<Arc<TenantKeys>> {
        let now = self.clock.now();
        let fresh = |k: &TenantKeys| k.version == tenant.version && now < k.recheck_at;
        if let Some(k) = self.key_cache.get(&tenant.id).filter(|k| fresh(k)) {
            return Ok(k);
        }
        // Boxed: loading (and maybe generating) keys makes a large future; the cached path
        // above is what nearly every request takes.
        Box::pin(self.reload_keys(tenant, |k| k.filter(|k| fresh(k)))).await
    }

    /// Load the tenant's keys under its reload lock, unless `current` accepts what another
    /// request loaded while this one waited.
    async fn reload_keys(
        &self,
        tenant: &Tenant,
        current: impl Fn(Option<Arc<TenantKeys>>) -> Option<Arc<TenantKeys>>,
    ) -> Result<Arc<TenantKeys>> {
        let lock = self.key_cache.reload_lock(&tenant.id);
        let _reloading = lock.lock().await;
        if let Some(k) = current(self.key_cache.get(&tenant.id)) {
            return Ok(k);
        }
        let now = self.clock.now();
        self.maintain_keys(tenant, now).await?;
        let keys = Arc::new(self.load_keys(tenant, now).await?);
        self.key_cache.put(&tenant.id, keys.clone());
        Ok(keys)
    }

    /// Make sure an active key exists per algorithm; promote or create `next` keys by age.
    async fn maintain_keys(&self, tenant: &Tenant, now: i64) -> Result<()> {
        let mut conn = self.store.conn().await?;
        let existing = rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
        drop(conn);
        let mut changed = false;
        for alg in Alg::ALL {
            let of_alg: Vec<&rows::FullKeyRow> =
                existing.iter().filter(|k| k.alg == alg.as_str()).collect();
            let active = of_alg.iter().find(|k| k.state == "active");
            let next = of_alg.iter().find(|k| k.state == "next");
            match (active, next) {
                (None, None) => {
                    // First use: an active key at once. A concurrent process may win the
                    // unique index; then its key is the one we use.
                    let row = self.new_key_row(tenant, alg, now).await?;
                    let mut conn = self.store.conn().await?;
                    match rows::insert_active(&mut conn, &tenant.id, &row).await {
                        Ok(()) | Err(Error::Conflict { .. }) => changed = true,
                        Err(e) => return Err(e),
                    }
                }
                (_, Some(n)) if n.created_at + PROMOTE_AFTER <= now => {
                    let mut tx = self.store.begin().await?;
                    tenant_rows::bump_version(&mut tx, &tenant.id).await?;
                    rows::promote(&mut tx, &tenant.id, PURPOSE, alg.as_str(), &n.id, now).await?;
                    tx.commit().await.map_err(crate::store::db)?;
                    changed = true;
                }
                (Some(a), None) if a.activated_at.unwrap_or(a.created_at) + ROTATE_AFTER <= now => {
                    let row = self.new_key_row(tenant, alg, now).await?;
                    let mut conn = self.store.conn().await?;
                    rows::insert_next(&mut conn, &tenant.id, &row).await?;
                    changed = true;
                }
                _ => {}
            }
        }
        if changed {
            let mut conn = self.store.conn().await?;
            tenant_rows::bump_version(&mut conn, &tenant.id).await?;
            self.tenants.invalidate();
        }
        Ok(())
    }

    async fn new_key_row(&self, tenant: &Tenant, alg: Alg, now: i64) -> Result<rows::KeyRow> {
        let (der, mut jwk) = tokio::task::spawn_blocking(move || jws::generate(alg))
            .await
            .map_err(|e| Error::internal(format!("key generation task: {e}")))?
            .map_err(|e| Error::internal(format!("key generation: {e}")))?;
        let id = SigningKeyId::generate().to_string();
        jwk["kid"] = json!(id);
        jwk["alg"] = json!(alg.as_str());
        jwk["use"] = json!("sig");
        Ok(rows::KeyRow {
            private_key: self.keys.seal(&seal_ctx(&tenant.id, &id), &der)?,
            id,
            purpose: PURPOSE.into(),
            alg: alg.as_str().into(),
            public_key: jwk.to_string(),
            state: "active".into(),
            created_at: now,
        })
    }

    async fn load_keys(&self, tenant: &Tenant, now: i64) -> Result<TenantKeys> {
        let mut conn = self.store.conn().await?;
        let all = rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
        let version = tenant_rows::settings(&mut conn, &tenant.id)
            .await?
            .map(|_| tenant.version)
            .unwrap_or(tenant.version);
        let mut signers = HashMap::new();
        let mut verifiers = HashMap::new();
        let mut published = Vec::new();
        let mut recheck_at = now + 3600;
        for k in &all {
            let Some(alg) = Alg::parse(&k.alg) else {
                continue;
            };
            let jwk: Value = serde_json::from_str(&k.public_key).unwrap_or_default();
            if let Ok(vk) = VerifyingKey::from_jwk(&jwk) {
                // Public parts verify forever (old tokens at introspection answer by expiry).
                verifiers.insert(k.id.clone(), vk);
            }
            match k.state.as_str() {
                "active" => {
                    let der = self
                        .keys
                        .open(&seal_ctx(&tenant.id, &k.id), &k.private_key)?;
                    let key = SigningKey::from_pkcs8(alg, &der)
                        .map_err(|e| Error::internal(format!("stored key: {e}")))?;
                    signers.insert(alg, (k.id.clone(), Arc::new(key)));
                    published.push(jwk);
                    recheck_at =
                        recheck_at.min(k.activated_at.unwrap_or(k.created_at) + ROTATE_AFTER);
                }
                "next" => {
                    published.push(jwk);
                    recheck_at = recheck_at.min(k.created_at + PROMOTE_AFTER);
                }
                _ => {
                    let until = k.retired_at.unwrap_or(0) + RETIRED_PUBLISHED;
                    if until > now {
                        published.push(jwk);
                        recheck_at = recheck_at.min(until);
                    }
                }
            }
        }
        let jwks = serde_json::to_vec(&json!({ "keys": published })).unwrap_or_default();
        Ok(TenantKeys {
            version,
            recheck_at,
            signers,
            verifiers,
            jwks: bytes::Bytes::from(jwks),
        })
    }

    /// `POST /orgs/{org}/keys/rotate` and the portal's keys page: org full access (403
    /// `org_full_required`), then `rotate_keys`.
    pub async fn api_rotate_keys(
        &self,
        call: &super::manage::OrgCall,
        immediate: bool,
    ) -> Result<Vec<String>> {
        call.require_org_full("rotate signing keys")?;
        self.rotate_keys_as(
            &call.org,
            immediate,
            &call.actor(),
            call.request_id.as_deref(),
        )
        .await
    }

    /// `GET /api/v1/orgs/{org}/keys` and the portal's keys page: the token-signing keys the
    /// JWKS publishes now, with their life-cycle state (`active`, `next`, `retired`). Public
    /// parts only, as the JWKS itself.
    pub async fn published_jwt_keys(&self, tenant: &Tenant) -> Result<Vec<PublishedKey>> {
        let keys = self.tenant_keys(tenant).await?;
        let jwks: Value = serde_json::from_slice(&keys.jwks)
            .map_err(|e| Error::internal(format!("jwks: {e}")))?;
        let mut conn = self.store.conn().await?;
        let all = rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
        let signing: Vec<&str> = keys.signers.values().map(|(kid, _)| kid.as_str()).collect();
        Ok(jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                let id = k["kid"].as_str().unwrap_or_default().to_string();
                let state = if signing.contains(&id.as_str()) {
                    "active".to_string()
                } else {
                    all.iter()
                        .find(|r| r.id == id)
                        .map(|r| r.state.clone())
                        .unwrap_or_default()
                };
                PublishedKey {
                    alg: k["alg"].as_str().unwrap_or_default().to_string(),
                    kty: k["kty"].as_str().unwrap_or_default().to_string(),
                    id,
                    state,
                }
            })
            .collect())
    }

    /// `tenantry keys rotate`: a new key per algorithm, published now; with `immediate`
    /// it signs at once (the old key stays published until its tokens expire).
    pub async fn rotate_keys(&self, tenant: &Tenant, immediate: bool) -> Result<Vec<String>> {
        self.rotate_keys_as(tenant, immediate, &super::audit::Actor::cli(), None)
            .await
    }

    /// `rotate_keys`, audited as `actor` with the request's id.
    async fn rotate_keys_as(
        &self,
        tenant: &Tenant,
        immediate: bool,
        actor: &super::audit::Actor,
        request_id: Option<&str>,
    ) -> Result<Vec<String>> {
        let now = self.clock.now();
        self.tenant_keys(tenant).await?;
        let mut ids = Vec::new();
        for alg in Alg::ALL {
            let row = self.new_key_row(tenant, alg, now).await?;
            let mut tx = self.store.begin().await?;
            tenant_rows::bump_version(&mut tx, &tenant.id).await?;
            // A rotation replaces any `next` key still waiting.
            sqlx::query("UPDATE signing_keys SET state = 'retired', retired_at = $3 WHERE tenant_id = $1 AND purpose = $2 AND state = 'next' AND alg = $4")
                .bind(tenant.id.as_str())
                .bind(PURPOSE)
                .bind(now)
                .bind(alg.as_str())
                .execute(&mut *tx)
                .await
                .map_err(crate::store::db)?;
            rows::insert_next(&mut tx, &tenant.id, &row).await?;
            if immediate {
                rows::promote(&mut tx, &tenant.id, PURPOSE, alg.as_str(), &row.id, now).await?;
            }
            super::audit::append(
                &self.keys,
                &mut tx,
                &tenant.id,
                actor,
                super::audit::Change {
                    action: "keys.rotate",
                    target: format!("key:{}", row.id),
                    before: None,
                    after: Some(json!({"alg": alg.as_str(), "immediate": immediate})),
                },
                now,
                request_id,
            )
            .await?;
            tx.commit().await.map_err(crate::store::db)?;
            ids.push(row.id);
        }
        self.key_cache.forget(&tenant.id);
        self.tenants.invalidate();
        Ok(ids)
    }

    /// Sign `claims` with the tenant's active key of `alg`.
    pub async fn sign_jwt<C: serde::Serialize + ?Sized>(
        &self,
        tenant: &Tenant,
        alg: Alg,
        typ: &str,
        claims: &C,
    ) -> Result<String> {
        let keys = self.tenant_keys(tenant).await?;
        let (kid, key) = keys
            .signers
            .get(&alg)
            .ok_or_else(|| Error::internal(format!("no active {} key", alg.as_str())))?;
        key.sign(kid, typ, claims)
            .map_err(|e| Error::internal(format!("signing: {e}")))
    }

    /// Verify a JWS made by this tenant's own keys (kid looked up among them only) and
    /// return its claims. Time and audience checks are the caller's.
    pub async fn verify_jwt(&self, tenant: &Tenant, token: &str) -> Result<Value> {
        let parsed = jws::parse(token)
            .map_err(|_| Error::invalid("invalid_token", "malformed or unacceptable token"))?;
        let kid = parsed
            .kid()
            .ok_or_else(|| Error::invalid("invalid_token", "no kid"))?;
        let keys = self.tenant_keys(tenant).await?;
        let key = match keys.verifiers.get(kid) {
            Some(k) => k.clone(),
            None => {
                // Maybe a key created by another process since our cache was filled: read
                // again, unless another request already did while this one waited. The
                // cached keys stay in use meanwhile, so made-up kids slow nobody else.
                let fresh = self
                    .reload_keys(tenant, |k| k.filter(|k| !Arc::ptr_eq(k, &keys)))
                    .await?;
                fresh
                    .verifiers
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| Error::invalid("invalid_token", "unknown key"))?
            }
        };
        parsed
            .verify(&key)
            .cloned()
            .map_err(|_| Error::invalid("invalid_token", "signature does not verify"))
    }
}

impl KeyCache {
    fn reload_lock(&self, t: &TenantId) -> Arc<tokio::sync::Mutex<()>> {
        match self.reload.lock() {
            Ok(mut m) => m.entry(t.clone()).or_default().clone(),
            // A poisoned map only loses the sharing: a lock of its own still works.
            Err(_) => Arc::default(),
        }
    }

    fn get(&self, t: &TenantId) -> Option<Arc<TenantKeys>> {
        self.inner.load().get(t).cloned()
    }

    fn put(&self, t: &TenantId, k: Arc<TenantKeys>) {
        self.inner.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(t.clone(), k.clone());
            m
        });
    }

    pub fn forget(&self, t: &TenantId) {
        if self.inner.load().contains_key(t) {
            self.inner.rcu(|m| {
                let mut m = HashMap::clone(m);
                m.remove(t);
                m
            });
        }
    }
}
