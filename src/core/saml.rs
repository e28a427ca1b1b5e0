//! The SAML 2.0 identity provider's domain side (product.md "Directory and federation",
//! issue 7): its registered service providers (the signing key is in `saml_keys`), the
//! AuthnRequest ids already answered, requests waiting for a sign-in, and the subject and
//! attributes an assertion carries (the same privilege claims as OIDC tokens).
//!
//! Speaks only our own types: the XML (samael, xmlsec) stays in `crate::saml`. Must not
//! import http, axum or a protocol adapter.

use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
pub use super::saml_keys::{SamlKey, PURPOSE, SAML_OVERLAP, SAML_ROTATE_AFTER};
use super::sessions::Session;
use super::tokens::Subject;
use super::{Core, Error, Result};
use crate::authz::OrgAccess;
use crate::ids::credential;
use crate::store::{
    self, saml as rows, sessions as session_rows, tenants as tenant_rows, users as user_rows,
};
use crate::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Assertion lifetime (security.md: SAML assertion 5 min).
pub const ASSERTION_TTL: i64 = 300;
/// How long a request id is remembered; older requests are refused by their IssueInstant.
pub const REQUEST_ID_TTL: i64 = 900;
/// Requests waiting for a sign-in.
pub const PENDING_TTL: i64 = 600;
/// Pending SAML requests share the OIDC pending-request table under this id prefix, so
/// that `/login?pending=` knows where to resume.
pub const PENDING_PREFIX: &str = "saml-";

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

impl Core {
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
