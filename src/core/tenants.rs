//! Tenant lifecycle: MSPs, customers and standalone orgs (product.md "Tenants and
//! addresses", decisions.md "Foundation").

use super::admins::{AdminSpec, CreatedAdmin};
use super::audit::{self, Actor, Change};
use super::secrets::MasterKey;
use super::{Core, Error, Result};
use crate::authz::OrgAccess;
use crate::clock::rfc3339;
use crate::ids::{AuditId, TenantId};
use crate::store::{self, tenants as rows, Tx};
use crate::tenancy::names;
use crate::tenancy::{Tenant, TenantKind};
use serde::Serialize;
use serde_json::json;

/// A deleted tenant's name stays unusable this long.
pub const QUARANTINE_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub kind: TenantKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msp: Option<String>,
    pub display_name: String,
    pub issuer: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub tenant: TenantView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<CreatedAdmin>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    pub deleted: Vec<String>,
    pub quarantined_until: String,
}

pub struct NewTenant<'a> {
    pub name: &'a str,
    pub display_name: Option<&'a str>,
    pub admin_email: Option<&'a str>,
}

impl Core {
    fn view(&self, t: &Tenant, msp_name: Option<String>) -> TenantView {
        TenantView {
            id: t.id.to_string(),
            name: t.name.clone(),
            kind: t.kind,
            msp: msp_name,
            display_name: t.display_name.clone(),
            issuer: self.issuer(&t.name),
            created_at: rfc3339(t.created_at),
        }
    }

    /// The tenant with this canonical name, read from the database.
    pub async fn find_tenant(&self, name: &str) -> Result<Tenant> {
        let mut conn = self.store.conn().await?;
        rows::find_by_name(&mut conn, name)
            .await?
            .and_then(Tenant::from_row)
            .ok_or(Error::NotFound)
    }

    /// Create an MSP; its admin becomes an MSP super-user (org `full` in the MSP itself).
    pub async fn create_msp(&self, new: NewTenant<'_>, actor: &Actor) -> Result<Created> {
        names::validate_top_level("MSP", new.name)?;
        let email = new
            .admin_email
            .ok_or_else(|| Error::invalid("admin_email_required", "an MSP needs --admin-email"))?;
        self.create(
            new.name,
            TenantKind::Msp,
            None,
            new.display_name,
            Some(email),
            actor,
        )
        .await
    }

    /// Create a standalone org; it needs its first admin.
    pub async fn create_standalone(&self, new: NewTenant<'_>, actor: &Actor) -> Result<Created> {
        names::validate_top_level("organization", new.name)?;
        let email = new.admin_email.ok_or_else(|| {
            Error::invalid(
                "admin_email_required",
                "a standalone organization (no --msp) needs --admin-email",
            )
        })?;
        self.create(
            new.name,
            TenantKind::Standalone,
            None,
            new.display_name,
            Some(email),
            actor,
        )
        .await
    }

    /// Create customer `{name}-{msp}`; its optional first admin gets org `full`.
    pub async fn create_customer(
        &self,
        new: NewTenant<'_>,
        msp_name: &str,
        actor: &Actor,
    ) -> Result<Created> {
        let label = names::customer_label(new.name, msp_name)?;
        let msp = match self.find_tenant(msp_name).await {
            Ok(t) if t.kind == TenantKind::Msp => t,
            _ => {
                return Err(Error::invalid(
                    "unknown_msp",
                    format!("there is no MSP named '{msp_name}'"),
                ))
            }
        };
        self.create(
            &label,
            TenantKind::Customer,
            Some(&msp),
            new.display_name,
            new.admin_email,
            actor,
        )
        .await
    }

    async fn create(
        &self,
        label: &str,
        kind: TenantKind,
        msp: Option<&Tenant>,
        display_name: Option<&str>,
        admin_email: Option<&str>,
        actor: &Actor,
    ) -> Result<Created> {
        let display_name = match display_name.map(str::trim) {
            Some(d) if d.is_empty() || d.len() > 200 || d.chars().any(char::is_control) => {
                return Err(Error::invalid(
                    "invalid_display_name",
                    "the display name must be 1 to 200 printable characters",
                ))
            }
            Some(d) => d.to_string(),
            None => label.to_string(),
        };
        let admin_spec = admin_email
            .map(|email| AdminSpec::new(email, None, Some(OrgAccess::Full), Vec::new()))
            .transpose()?;
        let now = self.clock.now();
        let tenant = Tenant {
            id: TenantId::generate(),
            name: label.to_string(),
            kind,
            msp_id: msp.map(|m| m.id.clone()),
            display_name,
            version: 1,
            created_at: now,
        };

        let mut tx = self.store.begin().await?;
        rows::bump_tenants_version(&mut tx).await?;
        if let Some(until) = rows::quarantined_until(&mut tx, label, now).await? {
            return Err(Error::conflict(
                "name_quarantined",
                format!(
                    "the name '{label}' belonged to a deleted tenant and is reserved until {}",
                    rfc3339(until)
                ),
            ));
        }
        if let Some(m) = msp {
            // Re-check the MSP inside the transaction: it may have been deleted meanwhile.
            if !rows::bump_version(&mut tx, &m.id).await? {
                return Err(Error::invalid(
                    "unknown_msp",
                    format!("there is no MSP named '{}'", m.name),
                ));
            }
        }
        rows::insert(
            &mut tx,
            &rows::TenantRow {
                id: tenant.id.to_string(),
                name: tenant.name.clone(),
                kind: kind.as_str().to_string(),
                msp_id: tenant.msp_id.as_ref().map(ToString::to_string),
                display_name: tenant.display_name.clone(),
                settings: "{}".into(),
                version: 1,
                created_at: now,
            },
        )
        .await?;
        let after = json!({"id": tenant.id, "name": tenant.name, "kind": kind.as_str()});
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "tenant.create",
                target: format!("tenant:{}", tenant.name),
                before: None,
                after: Some(after.clone()),
            },
            now,
            None,
        )
        .await?;
        if let Some(m) = msp {
            audit::append(
                &self.keys,
                &mut tx,
                &m.id,
                actor,
                Change {
                    action: "customer.create",
                    target: format!("tenant:{}", tenant.name),
                    before: None,
                    after: Some(after),
                },
                now,
                None,
            )
            .await?;
        }
        let admin = match admin_spec {
            Some(spec) => {
                let role = (kind == TenantKind::Msp).then_some("super-user");
                Some(
                    self.insert_admin(&mut tx, &tenant, &spec, role, actor, None)
                        .await?,
                )
            }
            None => None,
        };
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        if let Some(a) = &admin {
            self.send_created_admin(&tenant, a).await;
        }
        Ok(Created {
            tenant: self.view(&tenant, msp.map(|m| m.name.clone())),
            admin,
        })
    }

    /// Every tenant, or the customers of one MSP.
    pub async fn list_tenants(&self, msp_name: Option<&str>) -> Result<Vec<TenantView>> {
        let all = rows::all(self.store.pool()).await?;
        let tenants: Vec<Tenant> = all.into_iter().filter_map(Tenant::from_row).collect();
        let name_of = |id: &TenantId| tenants.iter().find(|t| &t.id == id).map(|t| t.name.clone());
        let filter = match msp_name {
            Some(name) => match tenants
                .iter()
                .find(|t| t.name == name && t.kind == TenantKind::Msp)
            {
                Some(m) => Some(m.id.clone()),
                None => {
                    return Err(Error::invalid(
                        "unknown_msp",
                        format!("there is no MSP named '{name}'"),
                    ))
                }
            },
            None => None,
        };
        Ok(tenants
            .iter()
            .filter(|t| filter.is_none() || t.msp_id == filter)
            .map(|t| self.view(t, t.msp_id.as_ref().and_then(name_of)))
            .collect())
    }

    /// Delete a tenant and everything it owns. An MSP with customers needs `cascade`.
    pub async fn delete_tenant(&self, name: &str, cascade: bool, actor: &Actor) -> Result<Deleted> {
        let tenant = self.find_tenant(name).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        rows::bump_tenants_version(&mut tx).await?;
        let mut deleted = Vec::new();
        if tenant.kind == TenantKind::Msp {
            let customers = rows::list_customers(self.store.pool(), &tenant.id).await?;
            if !customers.is_empty() && !cascade {
                return Err(Error::conflict(
                    "has_customers",
                    format!(
                        "MSP '{name}' still has {} customer(s); delete them first or pass --cascade",
                        customers.len()
                    ),
                ));
            }
            for c in customers {
                // The MSP's own chain goes with it, so these land in the server audit.
                delete_one(
                    &self.keys,
                    &mut tx,
                    &TenantId(c.id),
                    &c.name,
                    None,
                    actor,
                    now,
                )
                .await?;
                deleted.push(c.name);
            }
        }
        let parent = match (&tenant.kind, &tenant.msp_id) {
            (TenantKind::Customer, Some(msp)) => Some(msp.clone()),
            _ => None,
        };
        if !delete_one(
            &self.keys,
            &mut tx,
            &tenant.id,
            &tenant.name,
            parent.as_ref(),
            actor,
            now,
        )
        .await?
        {
            return Err(Error::NotFound);
        }
        deleted.push(tenant.name.clone());
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(Deleted {
            deleted,
            quarantined_until: rfc3339(now + QUARANTINE_SECONDS),
        })
    }

    /// Lift a name's quarantine early.
    pub async fn purge_name(&self, name: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.store.begin().await?;
        if !rows::purge_name(&mut tx, name).await? {
            return Err(Error::NotFound);
        }
        store::audit::insert_server_entry(
            &mut tx,
            AuditId::generate().as_str(),
            self.clock.now(),
            &actor.id,
            "tenant.purge_name",
            &format!("tenant:{name}"),
            "{}",
        )
        .await?;
        tx.commit().await.map_err(store::db)
    }
}

/// Delete one tenant row (everything it owns cascades), quarantine its name, and record the
/// deletion in the parent MSP's chain, or in the server audit when there is none.
async fn delete_one(
    keys: &MasterKey,
    tx: &mut Tx,
    id: &TenantId,
    name: &str,
    parent: Option<&TenantId>,
    actor: &Actor,
    now: i64,
) -> Result<bool> {
    if !rows::delete(tx, id).await? {
        return Ok(false);
    }
    rows::quarantine(tx, name, now + QUARANTINE_SECONDS).await?;
    let target = format!("tenant:{name}");
    match parent {
        Some(msp) => {
            audit::append(
                keys,
                tx,
                msp,
                actor,
                Change {
                    action: "customer.delete",
                    target,
                    before: Some(json!({"name": name})),
                    after: None,
                },
                now,
                None,
            )
            .await?;
        }
        None => {
            store::audit::insert_server_entry(
                tx,
                AuditId::generate().as_str(),
                now,
                &actor.id,
                "tenant.delete",
                &target,
                &json!({"name": name}).to_string(),
            )
            .await?;
        }
    }
    Ok(true)
}
