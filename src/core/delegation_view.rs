//! How a delegation is shown (api.md): names instead of ids, RFC 3339 times, the bundle
//! as the engine reads it, and the state computed from the clock (`expired` is never
//! stored).

use crate::authz::{Bundle, OrgAccess};
use crate::clock::rfc3339;
use crate::core::privileges::bundle_from_json;
use crate::core::{Core, Error, Result};
use crate::ids::TenantId;
use crate::store::{delegations as rows, users as user_rows, Conn};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct DelegationResource {
    pub id: String,
    /// The customer's canonical name.
    pub customer: String,
    pub msp: String,
    pub msp_user: Value,
    /// `org_access` resolved as the engine reads it, and the grants.
    pub bundle: Value,
    /// pending | approved | revoked | expired
    pub state: &'static str,
    pub expires_at: Option<String>,
    pub created_by: Value,
    pub created_at: String,
    pub approved_by: Option<Value>,
    pub approved_at: Option<String>,
    pub revoked_by: Option<Value>,
    pub revoked_at: Option<String>,
}

/// The state the API shows: `revoked` as stored; otherwise `expired` once `now >=
/// expires_at` (a pending delegation past its expiry can never count either), else as stored.
pub fn state_at(stored: &str, expires_at: Option<i64>, now: i64) -> &'static str {
    match stored {
        "revoked" => "revoked",
        _ if expires_at.is_some_and(|at| now >= at) => "expired",
        "pending" => "pending",
        _ => "approved",
    }
}

/// The org access a delegation's bundle gives (privileges.md "Where grants come from").
pub(super) fn resolved_access(b: &Bundle) -> OrgAccess {
    match (b.org_access, b.grants.is_empty()) {
        (Some(a), _) => a,
        (None, true) => OrgAccess::Full,
        (None, false) => OrgAccess::None,
    }
}

pub(super) fn bundle_view(b: &Bundle) -> Value {
    json!({
        "org_access": resolved_access(b),
        "grants": b.grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

impl Core {
    pub(super) async fn api_delegation_unchecked(
        &self,
        customer: &TenantId,
        id: &str,
    ) -> Result<DelegationResource> {
        let mut conn = self.store.conn().await?;
        let row = rows::get(&mut conn, customer, id)
            .await?
            .ok_or(Error::NotFound)?;
        self.delegation_view(&mut conn, row).await
    }

    pub(super) async fn delegation_view(
        &self,
        conn: &mut Conn,
        row: rows::DelegationRow,
    ) -> Result<DelegationResource> {
        self.delegation_views(conn, vec![row])
            .await?
            .pop()
            .ok_or(Error::NotFound)
    }

    pub(super) async fn delegation_views(
        &self,
        conn: &mut Conn,
        found: Vec<rows::DelegationRow>,
    ) -> Result<Vec<DelegationResource>> {
        let now = self.clock.now();
        let mut people = People::default();
        let mut out = Vec::with_capacity(found.len());
        for d in found {
            let msp_name = self.tenant_name(&d.msp_tenant_id).await?;
            let bundle = bundle_from_json(&d.bundle);
            let created_by = people.get(self, conn, &d, &d.created_by).await?;
            let approved_by = match &d.approved_by {
                Some(by) => Some(people.get(self, conn, &d, by).await?),
                None => None,
            };
            let revoked_by = match &d.revoked_by {
                Some(by) => Some(people.get(self, conn, &d, by).await?),
                None => None,
            };
            out.push(DelegationResource {
                state: state_at(&d.state, d.expires_at, now),
                msp_user: json!({"id": d.msp_user_id, "email": d.msp_user_email}),
                bundle: bundle_view(&bundle),
                expires_at: d.expires_at.map(rfc3339),
                created_by,
                created_at: rfc3339(d.created_at),
                approved_by,
                approved_at: d.approved_at.map(rfc3339),
                revoked_by,
                revoked_at: d.revoked_at.map(rfc3339),
                customer: d.customer,
                msp: msp_name,
                id: d.id,
            });
        }
        Ok(out)
    }

    async fn tenant_name(&self, id: &str) -> Result<String> {
        Ok(self
            .tenants
            .by_id(&TenantId(id.to_string()))
            .await?
            .map(|t| t.name.clone())
            .unwrap_or_default())
    }
}

/// Who created, approved or revoked a delegation: `{"id", "email", "msp"}` where `msp`
/// names the MSP for its staff and is null for the customer's own admins; `cli` for the
/// server's command line. Looked up once per list.
#[derive(Default)]
struct People(HashMap<String, Value>);

impl People {
    async fn get(
        &mut self,
        core: &Core,
        conn: &mut Conn,
        d: &rows::DelegationRow,
        by: &str,
    ) -> Result<Value> {
        if let Some(v) = self.0.get(by) {
            return Ok(v.clone());
        }
        let customer = TenantId(d.tenant_id.clone());
        let msp = TenantId(d.msp_tenant_id.clone());
        let v = if by == "cli" {
            json!({"id": "cli", "email": null, "msp": null})
        } else if let Some(u) = user_rows::user_by_id(conn, &customer, by).await? {
            json!({"id": by, "email": u.email, "msp": null})
        } else if let Some(u) = user_rows::user_by_id(conn, &msp, by).await? {
            json!({"id": by, "email": u.email, "msp": core.tenant_name(&d.msp_tenant_id).await?})
        } else {
            json!({"id": by, "email": null, "msp": null})
        };
        self.0.insert(by.to_string(), v.clone());
        Ok(v)
    }
}
