//! The SAML IdP's signing key and certificate per tenant (issue 7): RSA-2048 with a
//! self-signed certificate from rcgen, sealed with the master key, generated on first use,
//! rotated by `tenantry keys rotate --saml`, by `POST /api/v1/orgs/{org}/keys/rotate?kind=saml`
//! (org full, audited with the caller) and by age, the previous certificate published for an
//! overlap; loaded keys cached per tenant version. The certificates the metadata publishes
//! are listed with their SHA-256 fingerprints and validity (`saml_certificates`).
//!
//! Must not import http, axum or a protocol adapter; the certificate is read with openssl
//! (as generated with rcgen) only for its validity dates.

use super::audit::{self, Actor, Change};
use super::secrets::SealContext;
use super::{Core, Error, Result};
use crate::ids::{SigningKeyId, TenantId};
use crate::store::{self, keys as key_rows, tenants as tenant_rows};
use crate::tenancy::Tenant;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

pub const PURPOSE: &str = "saml";
const ALG: &str = "RS256";
/// Certificate validity; rotation by age replaces keys well before it ends.
const CERT_DAYS: i64 = 730;
/// A key older than this is replaced on its next use (half the certificate's validity).
pub const SAML_ROTATE_AFTER: i64 = 365 * 24 * 3600;
/// After a rotation the previous certificate stays in the metadata this long, so that an
/// SP that refreshes its metadata meanwhile accepts responses signed by either key (other
/// processes may sign with the previous key until their cache re-checks).
pub const SAML_OVERLAP: i64 = 14 * 24 * 3600;
/// The tenant's IdP key: PKCS#8 DER private key and its X.509 certificate (DER).
pub struct SamlKey {
    pub id: String,
    pub private_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    /// The certificates the metadata publishes: this key's first, then those of keys
    /// retired less than `SAML_OVERLAP` ago, newest first.
    pub published: Vec<Vec<u8>>,
}

/// A certificate the tenant's SAML metadata publishes, as the admin API and the portal
/// list it.
#[derive(Debug, Clone, Serialize)]
pub struct SamlCertificate {
    pub id: String,
    /// `active` (signs now) or `retired` (still published until `published_until`).
    pub state: String,
    /// SHA-256 of the DER certificate, upper-case hex pairs joined by colons (as
    /// `openssl x509 -fingerprint -sha256` prints it).
    pub fingerprint_sha256: String,
    /// Unix seconds, from the certificate itself.
    pub not_before: i64,
    pub not_after: i64,
    /// When a retired certificate leaves the metadata; `None` for the active one.
    pub published_until: Option<i64>,
    /// The DER certificate, base64.
    pub certificate: String,
}

/// SHA-256 fingerprint in the usual colon-separated form.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The validity of a DER certificate as unix seconds (not before, not after).
fn validity(der: &[u8]) -> Result<(i64, i64)> {
    let bad =
        |e: openssl::error::ErrorStack| Error::internal(format!("stored SAML certificate: {e}"));
    let cert = openssl::x509::X509::from_der(der).map_err(bad)?;
    let epoch = openssl::asn1::Asn1Time::from_unix(0).map_err(bad)?;
    let unix = |t: &openssl::asn1::Asn1TimeRef| {
        epoch
            .diff(t)
            .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs))
            .map_err(bad)
    };
    Ok((unix(cert.not_before())?, unix(cert.not_after())?))
}

/// A tenant's loaded key, valid while the tenant's version (bumped by a rotation in any
/// process) is unchanged and until the next time-based change (rotation by age, end of an
/// overlap).
struct CachedKey {
    version: i64,
    recheck_at: i64,
    key: Arc<SamlKey>,
}

static KEYS: LazyLock<Mutex<HashMap<TenantId, CachedKey>>> = LazyLock::new(Default::default);

fn seal_ctx<'a>(tenant: &'a TenantId, id: &'a str) -> SealContext<'a> {
    SealContext {
        tenant: tenant.as_str(),
        table: "signing_keys",
        row: id,
        purpose: PURPOSE,
    }
}

/// RSA-2048 key and a self-signed certificate named after the issuer (CPU-heavy).
fn generate_key(issuer: &str, now: i64) -> Result<(Vec<u8>, Vec<u8>)> {
    let (der, _) = crate::jws::generate(crate::jws::Alg::Rs256)
        .map_err(|e| Error::internal(format!("SAML key generation: {e}")))?;
    let rc = |e: rcgen::Error| Error::internal(format!("SAML certificate: {e}"));
    // An RSA PKCS#8 key: rcgen signs the certificate with RSA-SHA256.
    let pair = rcgen::KeyPair::try_from(der.as_slice()).map_err(rc)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, issuer);
    let start = time::OffsetDateTime::from_unix_timestamp(now)
        .map_err(|e| Error::internal(format!("clock: {e}")))?;
    params.not_before = start - time::Duration::days(1);
    params.not_after = start + time::Duration::days(CERT_DAYS);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&pair).map_err(rc)?;
    Ok((der, cert.der().to_vec()))
}

impl Core {
    /// The tenant's SAML signing key and certificate, generated on first use (a concurrent
    /// process may win the unique index; then its key is the one used) and replaced when
    /// older than `SAML_ROTATE_AFTER`; cached in memory.
    pub async fn saml_key(&self, tenant: &Tenant) -> Result<Arc<SamlKey>> {
        let now = self.clock.now();
        if let Some(k) = KEYS.lock().ok().and_then(|m| {
            m.get(&tenant.id)
                .filter(|c| c.version == tenant.version && now < c.recheck_at)
                .map(|c| c.key.clone())
        }) {
            return Ok(k);
        }
        let mut conn = self.store.conn().await?;
        let mut rows = key_rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
        drop(conn);
        let active = rows.iter().find(|k| k.state == "active" && k.alg == ALG);
        match active {
            None => {
                let new = self.new_saml_key_row(tenant, now).await?;
                let mut conn = self.store.conn().await?;
                match key_rows::insert_active(&mut conn, &tenant.id, &new).await {
                    Ok(()) | Err(Error::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
                rows = key_rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
            }
            Some(a) if a.activated_at.unwrap_or(a.created_at) + SAML_ROTATE_AFTER <= now => {
                self.rotate_saml_key(tenant, &Actor::cli(), None).await?;
                let mut conn = self.store.conn().await?;
                rows = key_rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
            }
            Some(_) => {}
        }
        let row = rows
            .iter()
            .find(|k| k.state == "active" && k.alg == ALG)
            .ok_or_else(|| Error::internal("SAML key vanished"))?;
        let private_der = self
            .keys
            .open(&seal_ctx(&tenant.id, &row.id), &row.private_key)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let decode = |text: &str| {
            b64.decode(text)
                .map_err(|e| Error::internal(format!("stored SAML certificate: {e}")))
        };
        let cert_der = decode(&row.public_key)?;
        let mut recheck_at = row.activated_at.unwrap_or(row.created_at) + SAML_ROTATE_AFTER;
        let mut previous: Vec<&key_rows::FullKeyRow> = rows
            .iter()
            .filter(|k| {
                k.state == "retired" && k.retired_at.is_some_and(|r| r + SAML_OVERLAP > now)
            })
            .collect();
        previous.sort_by_key(|k| std::cmp::Reverse(k.retired_at));
        let mut published = vec![cert_der.clone()];
        for k in previous {
            recheck_at = recheck_at.min(k.retired_at.unwrap_or(0) + SAML_OVERLAP);
            published.push(decode(&k.public_key)?);
        }
        let key = Arc::new(SamlKey {
            id: row.id.clone(),
            private_der,
            cert_der,
            published,
        });
        if let Ok(mut m) = KEYS.lock() {
            m.insert(
                tenant.id.clone(),
                CachedKey {
                    version: tenant.version,
                    recheck_at,
                    key: key.clone(),
                },
            );
        }
        Ok(key)
    }

    async fn new_saml_key_row(&self, tenant: &Tenant, now: i64) -> Result<key_rows::KeyRow> {
        let issuer = self.issuer(&tenant.name);
        let (der, cert) = tokio::task::spawn_blocking(move || generate_key(&issuer, now))
            .await
            .map_err(|e| Error::internal(format!("key generation task: {e}")))??;
        let id = SigningKeyId::generate().to_string();
        Ok(key_rows::KeyRow {
            private_key: self.keys.seal(&seal_ctx(&tenant.id, &id), &der)?,
            id,
            purpose: PURPOSE.into(),
            alg: ALG.into(),
            public_key: base64::engine::general_purpose::STANDARD.encode(&cert),
            state: "active".into(),
            created_at: now,
        })
    }

    /// A new SAML signing key and certificate (`tenantry keys rotate --saml`, and by age):
    /// it signs at once; the previous certificate stays in the metadata for
    /// `SAML_OVERLAP`. Returns the new key's id.
    pub async fn rotate_saml_key(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<String> {
        let now = self.clock.now();
        let row = self.new_saml_key_row(tenant, now).await?;
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        key_rows::insert_next(&mut tx, &tenant.id, &row).await?;
        key_rows::promote(&mut tx, &tenant.id, PURPOSE, ALG, &row.id, now).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "saml_key.rotate",
                target: format!("key:{}", row.id),
                before: None,
                after: Some(json!({"purpose": PURPOSE, "alg": ALG})),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        if let Ok(mut m) = KEYS.lock() {
            m.remove(&tenant.id);
        }
        self.tenants.invalidate();
        Ok(row.id)
    }

    /// The certificates the tenant's SAML metadata publishes now: the active one first,
    /// then those retired less than `SAML_OVERLAP` ago, newest first. A tenant that never
    /// used SAML has none (the first key is made on first use, not by looking); an existing
    /// key past `SAML_ROTATE_AFTER` is rotated first, as its next use would.
    pub async fn saml_certificates(&self, tenant: &Tenant) -> Result<Vec<SamlCertificate>> {
        let mut conn = self.store.conn().await?;
        let mut rows = key_rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
        drop(conn);
        if !rows.iter().any(|k| k.state == "active" && k.alg == ALG) {
            return Ok(Vec::new());
        }
        let current = self.saml_key(tenant).await?;
        if !rows.iter().any(|k| k.id == current.id) {
            let mut conn = self.store.conn().await?;
            rows = key_rows::all_of(&mut conn, &tenant.id, PURPOSE).await?;
        }
        let now = self.clock.now();
        let mut listed: Vec<&key_rows::FullKeyRow> = rows
            .iter()
            .filter(|k| {
                k.alg == ALG
                    && (k.state == "active"
                        || (k.state == "retired"
                            && k.retired_at.is_some_and(|r| r + SAML_OVERLAP > now)))
            })
            .collect();
        // Active first, then the most recently retired.
        listed.sort_by_key(|k| (k.state != "active", std::cmp::Reverse(k.retired_at)));
        let b64 = base64::engine::general_purpose::STANDARD;
        listed
            .into_iter()
            .map(|k| {
                let der = b64
                    .decode(&k.public_key)
                    .map_err(|e| Error::internal(format!("stored SAML certificate: {e}")))?;
                let (not_before, not_after) = validity(&der)?;
                Ok(SamlCertificate {
                    id: k.id.clone(),
                    state: k.state.clone(),
                    fingerprint_sha256: fingerprint(&der),
                    not_before,
                    not_after,
                    published_until: k
                        .retired_at
                        .filter(|_| k.state == "retired")
                        .map(|r| r + SAML_OVERLAP),
                    certificate: k.public_key.clone(),
                })
            })
            .collect()
    }

    /// `POST /api/v1/orgs/{org}/keys/rotate?kind=saml` and the portal's keys page: org full
    /// access (403 `org_full_required`), then `rotate_saml_key` audited with the caller;
    /// the new certificate as listed.
    pub async fn api_rotate_saml_key(
        &self,
        call: &super::manage::OrgCall,
    ) -> Result<SamlCertificate> {
        call.require_org_full("rotate the SAML signing certificate")?;
        let id = self
            .rotate_saml_key(&call.org, &call.actor(), call.request_id.as_deref())
            .await?;
        self.saml_certificates(&call.org)
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| Error::internal("the new SAML certificate is not listed"))
    }
}
