//! Customer lifecycle on the MSP host (product.md "Customer lifecycle", api.md
//! `/api/v1/customers`): the MSP overview, creating a customer (optionally cloned from a
//! template customer), and deleting one.
//!
//! Cloning copies networks and tags (new ids), port privileges, role mappings (their
//! network grants re-pointed to the new ids) and settings (login policy, require-approval,
//! branding); users, admins, secrets, keys and passkeys never carry over.

use super::audit::{self, Change};
use super::privileges::{bundle_from_json, bundle_to_json, Principal};
use super::tenants::NewTenant;
use super::{Core, Error, Result};
use crate::authz::{Grant, Target};
use crate::clock::rfc3339;
use crate::ids::{MappingId, NetworkId, TenantId};
use crate::store::{self, tenants as tenant_rows, Conn};
use crate::tenancy::{Tenant, TenantKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One line of the MSP overview.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerSummary {
    pub name: String,
    pub display_name: String,
    pub issuer: String,
    pub users: i64,
    pub admins: i64,
    pub org_full_admins: i64,
    pub enrolled_admins: i64,
    pub pending_admins: i64,
    pub active_delegations: i64,
    /// Last successful SCIM write, if the customer's directory ever synced.
    pub scim_last_sync: Option<String>,
    /// SCIM requests that failed in the last 24 hours.
    pub scim_recent_errors: i64,
    /// Inbound federation connections (the customer's own SSO) configured.
    pub federation_connections: i64,
    /// The newest sign-in by passkey or federation, if anyone ever signed in.
    pub last_sign_in: Option<String>,
    /// Fewer than two org-full admins of the customer's own (privileges.md rule 4).
    pub warnings: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// The customer part of the label: `globex` becomes `globex-{msp}`.
    pub name: String,
    pub display_name: Option<String>,
    pub admin_email: Option<String>,
    /// A customer of this MSP to copy networks, mappings and settings from.
    pub clone_from: Option<String>,
}

async fn counts(
    conn: &mut Conn,
    sql: &'static str,
    msp: &TenantId,
    now: Option<i64>,
) -> Result<HashMap<String, i64>> {
    let mut q = sqlx::query_as::<_, (String, i64)>(sql).bind(msp.as_str());
    if let Some(n) = now {
        q = q.bind(n);
    }
    Ok(q.fetch_all(conn)
        .await
        .map_err(store::db)?
        .into_iter()
        .collect())
}

impl Core {
    /// The caller must be on its MSP's host; `full` also needs org full there (super-user).
    async fn msp_of(&self, principal: &Principal, full: bool) -> Result<Arc<Tenant>> {
        if principal.home.kind != TenantKind::Msp {
            return Err(Error::NotFound);
        }
        if full {
            let call = self.org_call(principal, &principal.home.name, None).await?;
            call.require_org_full("manage customers")?;
        }
        Ok(principal.home.clone())
    }

    /// GET /customers: every customer the caller reaches, with the overview counts, in
    /// a fixed number of grouped queries whatever the number of customers.
    pub async fn api_list_customers(&self, principal: &Principal) -> Result<Vec<CustomerSummary>> {
        let msp = self.msp_of(principal, false).await?;
        let now = self.clock.now();
        let mut conn = self.store.conn().await?;
        let all = tenant_rows::list_customers(self.store.pool(), &msp.id).await?;
        let standing =
            super::standing::Standing::load(&mut conn, &msp.id, &principal.user_id).await?;
        let delegated: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT tenant_id FROM delegations WHERE msp_tenant_id = $1 AND msp_user_id = $2 \
             AND state = 'approved' AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(msp.id.as_str())
        .bind(&principal.user_id)
        .bind(now)
        .fetch_all(&mut *conn)
        .await
        .map_err(store::db)?;
        let reach = |id: &str| standing.reaches(id) || delegated.iter().any(|(c,)| c == id);
        let users = counts(&mut conn, "SELECT u.tenant_id, COUNT(*) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.msp_id = $1 GROUP BY u.tenant_id", &msp.id, None).await?;
        let admins = counts(&mut conn, "SELECT m.tenant_id, COUNT(*) FROM admin_memberships m JOIN tenants t ON t.id = m.tenant_id WHERE t.msp_id = $1 GROUP BY m.tenant_id", &msp.id, None).await?;
        let full = counts(&mut conn, "SELECT m.tenant_id, COUNT(*) FROM admin_memberships m JOIN tenants t ON t.id = m.tenant_id WHERE t.msp_id = $1 AND m.org_access = 'full' GROUP BY m.tenant_id", &msp.id, None).await?;
        let enrolled = counts(&mut conn, "SELECT m.tenant_id, COUNT(*) FROM admin_memberships m JOIN tenants t ON t.id = m.tenant_id WHERE t.msp_id = $1 AND m.enrolment = 'enrolled' GROUP BY m.tenant_id", &msp.id, None).await?;
        let delegations = counts(
            &mut conn,
            "SELECT d.tenant_id, COUNT(*) FROM delegations d WHERE d.msp_tenant_id = $1 AND d.state = 'approved' \
             AND (d.expires_at IS NULL OR d.expires_at > $2) GROUP BY d.tenant_id",
            &msp.id,
            Some(now),
        )
        .await?;
        let scim: HashMap<String, (Option<i64>, i64, i64)> = sqlx::query_as::<_, (String, Option<i64>, i64, i64)>(
            "SELECT s.tenant_id, s.last_sync_at, s.error_count, s.error_window_start FROM scim_status s \
             JOIN tenants t ON t.id = s.tenant_id WHERE t.msp_id = $1",
        )
        .bind(msp.id.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(store::db)?
        .into_iter()
        .map(|(id, last, n, start)| (id, (last, n, start)))
        .collect();
        let federation = counts(&mut conn, "SELECT f.tenant_id, COUNT(*) FROM federation_connections f JOIN tenants t ON t.id = f.tenant_id WHERE t.msp_id = $1 GROUP BY f.tenant_id", &msp.id, None).await?;
        let passkey_use = counts(&mut conn, "SELECT p.tenant_id, MAX(p.last_used_at) FROM passkeys p JOIN tenants t ON t.id = p.tenant_id WHERE t.msp_id = $1 AND p.last_used_at IS NOT NULL GROUP BY p.tenant_id", &msp.id, None).await?;
        let federated_use = counts(&mut conn, "SELECT i.tenant_id, MAX(i.last_login_at) FROM federated_identities i JOIN tenants t ON t.id = i.tenant_id WHERE t.msp_id = $1 GROUP BY i.tenant_id", &msp.id, None).await?;
        let get = |m: &HashMap<String, i64>, id: &str| m.get(id).copied().unwrap_or(0);
        Ok(all
            .into_iter()
            .filter(|c| reach(&c.id))
            .map(|c| {
                let org_full = get(&full, &c.id);
                let admin_count = get(&admins, &c.id);
                let enrolled_count = get(&enrolled, &c.id);
                let mut warnings = Vec::new();
                if org_full < 2 {
                    warnings.push(format!(
                        "only {org_full} admin(s) with org full access of the customer's own"
                    ));
                }
                CustomerSummary {
                    issuer: self.issuer(&c.name),
                    users: get(&users, &c.id),
                    admins: admin_count,
                    org_full_admins: org_full,
                    enrolled_admins: enrolled_count,
                    pending_admins: admin_count - enrolled_count,
                    active_delegations: get(&delegations, &c.id),
                    scim_last_sync: scim.get(&c.id).and_then(|s| s.0).map(rfc3339),
                    scim_recent_errors: scim
                        .get(&c.id)
                        .filter(|s| s.2 >= now - 86_400)
                        .map_or(0, |s| s.1),
                    federation_connections: get(&federation, &c.id),
                    last_sign_in: passkey_use
                        .get(&c.id)
                        .copied()
                        .max(federated_use.get(&c.id).copied())
                        .map(rfc3339),
                    warnings,
                    created_at: rfc3339(c.created_at),
                    name: c.name,
                    display_name: c.display_name,
                }
            })
            .collect())
    }

    pub async fn api_get_customer(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<CustomerSummary> {
        self.api_list_customers(principal)
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or(Error::NotFound)
    }

    /// POST /customers: MSP super-users; optionally cloned from a template customer.
    pub async fn api_create_customer(
        &self,
        principal: &Principal,
        new: NewCustomer,
        request_id: Option<&str>,
    ) -> Result<CustomerSummary> {
        let msp = self.msp_of(principal, true).await?;
        let template = match &new.clone_from {
            Some(name) => match self.tenants.by_name(name).await? {
                Some(t) if t.msp_id.as_ref() == Some(&msp.id) => Some(t),
                _ => {
                    return Err(Error::invalid(
                        "unknown_template",
                        format!("{name} is not a customer of {}", msp.name),
                    ))
                }
            },
            None => None,
        };
        let actor = principal.actor_in(&msp);
        let created = self
            .create_customer(
                NewTenant {
                    name: &new.name,
                    display_name: new.display_name.as_deref(),
                    admin_email: new.admin_email.as_deref(),
                },
                &msp.name,
                &actor,
            )
            .await?;
        if let Some(t) = template {
            let target = self.find_tenant(&created.tenant.name).await?;
            self.clone_customer(&t, &target, &actor, request_id).await?;
        }
        self.api_get_customer(principal, &created.tenant.name).await
    }

    /// Copy the template's layout, mappings and settings into a fresh customer.
    async fn clone_customer(
        &self,
        from: &Tenant,
        to: &Tenant,
        actor: &audit::Actor,
        request_id: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &to.id).await? {
            return Err(Error::NotFound);
        }
        let mut new_ids: BTreeMap<String, String> = BTreeMap::new();
        for n in store::networks::list(&mut tx, &from.id).await? {
            let id = NetworkId::generate();
            store::networks::insert(
                &mut tx,
                &to.id,
                &store::networks::NetworkRow {
                    id: id.to_string(),
                    name: n.name.clone(),
                    created_at: now,
                },
            )
            .await?;
            for tag in store::networks::tags_of(&mut tx, &from.id, &n.id).await? {
                store::networks::add_tag(&mut tx, &to.id, &id, &tag).await?;
            }
            for p in store::networks::port_privileges_of(&mut tx, &from.id, &n.id).await? {
                let tags: Vec<String> = serde_json::from_str(&p.port_tags).unwrap_or_default();
                store::networks::add_port_privilege(
                    &mut tx,
                    &to.id,
                    &id,
                    &p.name,
                    &tags,
                    p.allow_capture != 0,
                    now,
                )
                .await?;
            }
            new_ids.insert(n.id, id.to_string());
        }
        #[derive(sqlx::FromRow)]
        struct MappingRow {
            id: String,
            name: String,
            bundle: String,
            msp_role: Option<String>,
            msp_scope: Option<String>,
        }
        let mappings: Vec<MappingRow> =
            sqlx::query_as("SELECT id, name, bundle, msp_role, msp_scope FROM role_mappings WHERE tenant_id = $1 ORDER BY name")
                .bind(from.id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(store::db)?;
        for m in &mappings {
            let mut b = bundle_from_json(&m.bundle);
            b.grants = b
                .grants
                .into_iter()
                .filter_map(|g| match &g.target {
                    Target::Network(id) => new_ids.get(id).map(|n| Grant {
                        target: Target::Network(n.clone()),
                        access: g.access.clone(),
                    }),
                    _ => Some(g),
                })
                .collect();
            let id = MappingId::generate().to_string();
            sqlx::query(
                "INSERT INTO role_mappings (tenant_id, id, name, bundle, msp_role, msp_scope, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(to.id.as_str())
            .bind(&id)
            .bind(&m.name)
            .bind(bundle_to_json(&b))
            .bind(&m.msp_role)
            .bind(&m.msp_scope)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(store::db)?;
            sqlx::query(
                "INSERT INTO role_mapping_selectors (tenant_id, mapping_id, kind, claim, value) \
                 SELECT $1, $2, kind, claim, value FROM role_mapping_selectors WHERE tenant_id = $3 AND mapping_id = $4",
            )
            .bind(to.id.as_str())
            .bind(&id)
            .bind(from.id.as_str())
            .bind(&m.id)
            .execute(&mut *tx)
            .await
            .map_err(store::db)?;
        }
        if let Some((_, settings)) = tenant_rows::settings(&mut tx, &from.id).await? {
            let (display, _) = tenant_rows::settings(&mut tx, &to.id)
                .await?
                .unwrap_or_default();
            tenant_rows::set_settings(&mut tx, &to.id, &display, &settings).await?;
        }
        audit::append(
            &self.keys,
            &mut tx,
            &to.id,
            actor,
            Change {
                action: "tenant.clone",
                target: format!("tenant:{}", to.name),
                before: None,
                after: Some(json!({"from": from.name, "networks": new_ids.len(), "role_mappings": mappings.len()})),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(())
    }

    /// DELETE /customers/{name}: MSP super-users; everything the customer owns goes.
    pub async fn api_delete_customer(&self, principal: &Principal, name: &str) -> Result<()> {
        let msp = self.msp_of(principal, true).await?;
        match self.tenants.by_name(name).await? {
            Some(t) if t.msp_id.as_ref() == Some(&msp.id) => {}
            _ => return Err(Error::NotFound),
        }
        self.delete_tenant(name, false, &principal.actor_in(&msp))
            .await
            .map(|_| ())
    }
}
