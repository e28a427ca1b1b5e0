//! The SAML 2.0 identity provider's domain side (product.md "Directory and federation",
//! issue 7): each tenant's signing certificate, its registered service providers, the
//! AuthnRequest ids already answered, requests waiting for a sign-in, and the subject and
//! attributes an assertion carries (the same privilege claims as OIDC tokens).
//!
//! Speaks only our own types: the XML (samael, xmlsec) stays in `crate::saml`. Must not
//! import http, axum or a protocol adapter.

use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
use super::secrets::SealContext;
use super::sessions::Session;
use super::tokens::Subject;
use super::{Core, Error, Result};
use crate::authz::OrgAccess;
use crate::ids::{credential, SigningKeyId, TenantId};
use crate::store::{
    self, keys as key_rows, saml as rows, sessions as session_rows, tenants as tenant_rows,
    users as user_rows,
};
use crate::tenancy::Tenant;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
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
/// Assertion lifetime (security.md: SAML assertion 5 min).
pub const ASSERTION_TTL: i64 = 300;
/// How long a request id is remembered; older requests are refused by their IssueInstant.
pub const REQUEST_ID_TTL: i64 = 900;
/// Requests waiting for a sign-in.
pub const PENDING_TTL: i64 = 600;
/// Pending SAML requests share the OIDC pending-request table under this id prefix, so
/// that `/login?pending=` knows where to resume.
pub const PENDING_PREFIX: &str = "saml-";

/// The tenant's IdP key: PKCS#8 DER private key and its X.509 certificate (DER).
pub struct SamlKey {
    pub id: String,
    pub private_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    /// The certificates the metadata publishes: this key's first, then those of keys
    /// retired less than `SAML_OVERLAP` ago, newest first.
    pub published: Vec<Vec<u8>>,
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

/// An assertion consumer service of an SP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AcsEndpoint {
    pub binding: String,
    pub location: String,
    pub index: u32,
    pub is_default: bool,
}

/// A SingleLogoutService of an SP: where its LogoutResponses go (`response_location`,
/// else `location`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SloEndpoint {
    pub binding: String,
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_location: Option<String>,
}

/// What SP metadata says, as the adapter parsed it.
#[derive(Debug, Clone)]
pub struct NewSamlSp {
    pub entity_id: String,
    pub acs: Vec<AcsEndpoint>,
    /// Base64 DER certificates.
    pub signing_certs: Vec<String>,
    pub encryption_certs: Vec<String>,
    pub want_requests_signed: bool,
    pub metadata: String,
    pub slo: Vec<SloEndpoint>,
    /// The https URL the metadata was fetched from, when it was.
    pub metadata_url: Option<String>,
}

/// A registered service provider.
#[derive(Debug, Clone, Serialize)]
pub struct SamlSp {
    pub id: String,
    pub entity_id: String,
    pub acs: Vec<AcsEndpoint>,
    pub signing_certs: Vec<String>,
    pub encryption_certs: Vec<String>,
    pub want_requests_signed: bool,
    pub slo: Vec<SloEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    pub created_at: String,
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn to_sp(r: rows::SpRow) -> SamlSp {
    SamlSp {
        id: r.id,
        entity_id: r.entity_id,
        acs: serde_json::from_str(&r.acs).unwrap_or_default(),
        signing_certs: serde_json::from_str(&r.signing_certs).unwrap_or_default(),
        encryption_certs: serde_json::from_str(&r.encryption_certs).unwrap_or_default(),
        want_requests_signed: r.want_requests_signed != 0,
        slo: serde_json::from_str(&r.slo).unwrap_or_default(),
        metadata_url: r.metadata_url,
        created_at: rfc3339(r.created_at),
    }
}

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

    /// Register an SP from its parsed metadata; its entityID is unique per tenant.
    pub async fn register_saml_sp(
        &self,
        tenant: &Tenant,
        new: NewSamlSp,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<SamlSp> {
        if new.entity_id.is_empty() || new.entity_id.len() > 1024 {
            return Err(Error::invalid(
                "entity_id",
                "the metadata has no usable entityID",
            ));
        }
        if !new
            .acs
            .iter()
            .any(|a| a.binding == crate::core::saml::BINDING_POST)
        {
            return Err(Error::invalid(
                "acs",
                "the metadata has no AssertionConsumerService with the HTTP-POST binding",
            ));
        }
        if new.want_requests_signed && new.signing_certs.is_empty() {
            return Err(Error::invalid(
                "signing_certs",
                "the metadata wants signed requests but has no signing certificate",
            ));
        }
        let now = self.clock.now();
        let mut suffix = [0u8; 10];
        rand::Rng::fill(&mut rand::rng(), &mut suffix);
        let row = rows::SpRow {
            id: format!("ssp_{}", hex::encode(suffix)),
            entity_id: new.entity_id,
            acs: serde_json::to_string(&new.acs).unwrap_or_else(|_| "[]".into()),
            signing_certs: serde_json::to_string(&new.signing_certs)
                .unwrap_or_else(|_| "[]".into()),
            encryption_certs: serde_json::to_string(&new.encryption_certs)
                .unwrap_or_else(|_| "[]".into()),
            want_requests_signed: store::flag(new.want_requests_signed),
            metadata: new.metadata,
            created_at: now,
            slo: serde_json::to_string(&new.slo).unwrap_or_else(|_| "[]".into()),
            metadata_url: new.metadata_url,
        };
        let sp = to_sp(row.clone());
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
                action: "saml_sp.create",
                target: format!("saml_sp:{}", sp.id),
                before: None,
                after: Some(
                    json!({"entity_id": sp.entity_id, "acs": sp.acs, "metadata_url": sp.metadata_url}),
                ),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(sp)
    }

    pub async fn list_saml_sps(&self, tenant: &Tenant) -> Result<Vec<SamlSp>> {
        let mut conn = self.store.conn().await?;
        Ok(rows::list(&mut conn, &tenant.id)
            .await?
            .into_iter()
            .map(to_sp)
            .collect())
    }

    pub async fn saml_sp(&self, tenant: &Tenant, id: &str) -> Result<SamlSp> {
        let mut conn = self.store.conn().await?;
        rows::get(&mut conn, &tenant.id, id)
            .await?
            .map(to_sp)
            .ok_or(Error::NotFound)
    }

    /// The SP registered in this tenant under `entity_id`, if any.
    pub async fn saml_sp_by_entity(
        &self,
        tenant: &Tenant,
        entity_id: &str,
    ) -> Result<Option<SamlSp>> {
        let mut conn = self.store.conn().await?;
        Ok(rows::by_entity(&mut conn, &tenant.id, entity_id)
            .await?
            .map(to_sp))
    }

    pub async fn delete_saml_sp(
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
        let before = rows::get(&mut tx, &tenant.id, id)
            .await?
            .map(to_sp)
            .ok_or(Error::NotFound)?;
        rows::delete(&mut tx, &tenant.id, id).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "saml_sp.delete",
                target: format!("saml_sp:{id}"),
                before: Some(json!({"entity_id": before.entity_id})),
                after: None,
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(())
    }

    // The admin API's view (api.md "integrations"): org read-only lists, org full changes.

    fn require_saml_reader(call: &OrgCall) -> Result<()> {
        if call.eff.org_access == OrgAccess::None {
            return Err(Error::forbidden(
                "org_read_required",
                "service providers need org read-only access",
            ));
        }
        Ok(())
    }

    pub async fn api_list_saml_sps(&self, call: &OrgCall) -> Result<Vec<SamlSp>> {
        Self::require_saml_reader(call)?;
        self.list_saml_sps(&call.org).await
    }

    pub async fn api_register_saml_sp(&self, call: &OrgCall, new: NewSamlSp) -> Result<SamlSp> {
        call.require_org_full("register service providers")?;
        self.register_saml_sp(&call.org, new, &call.actor(), call.request_id.as_deref())
            .await
    }

    pub async fn api_delete_saml_sp(&self, call: &OrgCall, id: &str) -> Result<()> {
        call.require_org_full("delete service providers")?;
        self.delete_saml_sp(&call.org, id, &call.actor(), call.request_id.as_deref())
            .await
    }

    /// Record an AuthnRequest id of `sp`; false when it was already seen (a replay).
    pub async fn remember_saml_request(
        &self,
        tenant: &Tenant,
        sp: &str,
        request_id: &str,
    ) -> Result<bool> {
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        rows::remember_request(
            &mut conn,
            &tenant.id,
            sp,
            request_id,
            now + REQUEST_ID_TTL,
            now,
        )
        .await
    }

    /// Keep a validated request until the user has signed in; returns its pending id.
    pub async fn save_saml_pending(&self, tenant: &Tenant, request: &Value) -> Result<String> {
        let id = format!("{PENDING_PREFIX}{}", &credential("")[..24]);
        let mut conn = self.store.conn().await?;
        session_rows::save_request(
            &mut conn,
            &tenant.id,
            &id,
            &request.to_string(),
            self.clock.now() + PENDING_TTL,
        )
        .await?;
        Ok(id)
    }

    pub async fn load_saml_pending(&self, tenant: &Tenant, id: &str) -> Result<Option<Value>> {
        if !id.starts_with(PENDING_PREFIX) || id.len() > 100 {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        Ok(
            session_rows::load_request(&mut conn, &tenant.id, id, self.clock.now())
                .await?
                .and_then(|p| serde_json::from_str(&p).ok()),
        )
    }

    pub async fn delete_saml_pending(&self, tenant: &Tenant, id: &str) -> Result<()> {
        let mut conn = self.store.conn().await?;
        session_rows::delete_request(&mut conn, &tenant.id, id).await
    }

    /// Single logout (saml-profiles-2.0-os §4.4) of the user `name_id`: ends the sessions
    /// named by the request's SessionIndexes and the browser's own session
    /// (`cookie_session`) when they are that user's. With no SessionIndex and `everywhere`
    /// (a signed request), every session of that user in this tenant. Sessions of other
    /// users are never touched. Returns how many sessions were ended by id.
    pub async fn saml_logout(
        &self,
        tenant: &Tenant,
        name_id: &str,
        session_indexes: &[String],
        cookie_session: Option<&Session>,
        everywhere: bool,
    ) -> Result<usize> {
        let mut ids: Vec<String> = Vec::new();
        for ix in session_indexes {
            if let Some(s) = self.session_by_id(tenant, ix).await? {
                if s.user_id == name_id && !ids.contains(&s.id) {
                    ids.push(s.id);
                }
            }
        }
        if let Some(s) = cookie_session.filter(|s| s.user_id == name_id) {
            if !ids.contains(&s.id) {
                ids.push(s.id.clone());
            }
        }
        let mut ended = 0;
        for id in &ids {
            match self.end_session(tenant, id).await {
                Ok(()) => ended += 1,
                Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        if everywhere && session_indexes.is_empty() {
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
                return Err(Error::NotFound);
            }
            super::sessions::end_user(&mut tx, &tenant.id, name_id, now).await?;
            tx.commit().await.map_err(store::db)?;
            self.tenants.invalidate();
        }
        Ok(ended)
    }

    /// Whom an assertion names and what it says about them: the NameID is the OIDC `sub`;
    /// the attributes carry the privilege claims computed exactly as for tokens.
    pub async fn saml_subject(&self, tenant: &Tenant, session: &Session) -> Result<SamlSubject> {
        let subject = Subject::acting(tenant, &session.user_id, session.act.as_ref());
        let claims = self.privilege_claims(tenant, &subject).await?;
        let mut conn = self.store.conn().await?;
        let user = user_rows::user_by_id(&mut conn, &subject.home, &subject.user_id).await?;
        drop(conn);
        let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
        if let Some(u) = &user {
            if !u.email.is_empty() {
                attributes.push(("email".into(), vec![u.email.clone()]));
            }
            if let Some(n) = &u.display_name {
                attributes.push(("name".into(), vec![n.clone()]));
            }
        }
        let text = |v: &Value| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        };
        for key in ["tenant", "org_access"] {
            if let Some(v) = claims.get(key) {
                attributes.push((key.into(), vec![text(v)]));
            }
        }
        if let Some(roles) = claims.get("org_roles").and_then(Value::as_array) {
            if !roles.is_empty() {
                attributes.push(("org_roles".into(), roles.iter().map(text).collect()));
            }
        }
        if let Some(nets) = claims.get("networks").and_then(Value::as_object) {
            let values: Vec<String> = nets
                .iter()
                .flat_map(|(net, access)| {
                    let list: Vec<String> = match access {
                        Value::Array(a) => a.iter().map(text).collect(),
                        other => vec![text(other)],
                    };
                    list.into_iter().map(move |a| format!("{net}:{a}"))
                })
                .collect();
            attributes.push(("networks".into(), values));
        }
        if let Some(r) = claims.get("networks_ref") {
            attributes.push(("networks_ref".into(), vec![text(r)]));
        }
        if let Some(msp) = claims.get("msp") {
            attributes.push(("msp".into(), vec![msp.to_string()]));
        }
        if let Some(act) = &session.act {
            attributes.push(("act".into(), vec![act.to_string()]));
        }
        Ok(SamlSubject {
            name_id: subject.sub,
            session_index: session.id.clone(),
            auth_time: session.auth_time,
            session_expires_at: session.expires_at,
            attributes,
        })
    }
}

/// The HTTP-POST binding's URI (the only one our responses use).
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// What an assertion says about its subject.
#[derive(Debug, Clone)]
pub struct SamlSubject {
    pub name_id: String,
    pub session_index: String,
    pub auth_time: i64,
    pub session_expires_at: i64,
    /// (name, values), in a stable order.
    pub attributes: Vec<(String, Vec<String>)>,
}
