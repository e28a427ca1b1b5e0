//! MSP staff on the MSP host (api.md `/api/v1/staff`; product.md "MSP model";
//! privileges.md rules 9 and 11): each staff member has an MSP role (`super-user`,
//! `network-admin`, `observer`, `installer`, `helpdesk`) or none (a technician, stored as
//! role `technician`), scoped to every customer or to listed ones. A super-user's scope
//! and a technician's are always every customer (a technician reaches customers only
//! through delegations).
//!
//! MSP org read-only admins list staff; only MSP org-full admins (super-users) change
//! them (403 `org_full_required`). Codes: `invalid_role`, `invalid_scope`,
//! `scope_required`, `unknown_customer`, `role_required` (400); `email_in_use`,
//! `cannot_change_self`, `last_full_admin` (409). Offboarding lives in `staff_offboard`.
//!
//! Every change is audited in the MSP's log and, where an MSP role's reach into a
//! customer changes, in that customer's log too (rule 11). Writes bump the MSP's tenant
//! row first, then the customers' in id order.

#[path = "staff_offboard.rs"]
mod offboard;

pub use offboard::OffboardReport;

use super::admins::{normalise_email, validate_email};
use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
use super::privileges::Principal;
use super::{Core, Error, Result};
use crate::authz::MSP_ROLES;
use crate::clock::rfc3339;
use crate::ids::{TenantId, UserId};
use crate::store::{
    self, delegations as del_rows, staff as rows, tenants as tenant_rows, users as user_rows, Conn,
};
use crate::tenancy::{Tenant, TenantKind};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const TECHNICIAN: &str = "technician";
const SUPER_USER: &str = "super-user";

/// POST /staff body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSpec {
    pub email: String,
    pub name: Option<String>,
    /// An MSP role; absent or null makes a technician.
    pub role: Option<String>,
    /// `"all"` or a list of customer names.
    pub scope: Option<Value>,
}

/// PATCH /staff/{id} body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    /// Absent: unchanged; null: technician.
    #[serde(default, deserialize_with = "present")]
    pub role: Option<Option<String>>,
    pub scope: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize)]
pub struct StaffResource {
    /// The MSP user's id (`usr_...`).
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// null for a technician.
    pub role: Option<String>,
    /// `"all"` or the customers' canonical names.
    pub scope: Value,
    pub created_at: String,
    pub updated_at: String,
}

/// Which customers a role reaches: every one, or the listed ids.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    All,
    Listed(BTreeMap<String, String>),
}

/// A staff role with its scope, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Role {
    role: String,
    scope: Scope,
}

impl Role {
    /// The MSP role that reaches `customer`, if any (technicians reach nothing by role).
    fn reach(&self, customer: &str) -> Option<&str> {
        let covered = match &self.scope {
            Scope::All => true,
            Scope::Listed(ids) => self.role == SUPER_USER || ids.contains_key(customer),
        };
        (self.role != TECHNICIAN && covered).then_some(self.role.as_str())
    }

    fn scope_view(&self) -> Value {
        match &self.scope {
            Scope::All => json!("all"),
            Scope::Listed(ids) => json!(ids.values().collect::<Vec<_>>()),
        }
    }
}

fn parse_role(role: Option<&str>) -> Result<String> {
    match role {
        None | Some(TECHNICIAN) => Ok(TECHNICIAN.to_string()),
        Some(r) if MSP_ROLES.contains(&r) => Ok(r.to_string()),
        Some(r) => Err(Error::invalid(
            "invalid_role",
            format!(
                "'{r}' is not an MSP role; use one of {} or null for a technician",
                MSP_ROLES.join(", ")
            ),
        )),
    }
}

/// The actor for an MSP user's action recorded in a customer's log (like
/// `Principal::actor_in` for a customer of the principal's MSP).
pub(crate) fn customer_actor(p: &Principal) -> Actor {
    Actor {
        id: p.user_id.clone(),
        msp: Some(p.home.name.clone()),
        msp_user: Some(p.email.clone()),
    }
}

impl Core {
    /// `/api/v1/staff` exists on MSP hosts only; the call is into the MSP itself.
    async fn staff_call(
        &self,
        principal: &Principal,
        request_id: Option<String>,
    ) -> Result<OrgCall> {
        if principal.home.kind != TenantKind::Msp {
            return Err(Error::NotFound);
        }
        self.org_call(principal, &principal.home.name, request_id)
            .await
    }

    /// (id, canonical name) of every customer of the MSP.
    async fn customers_of(&self, msp: &TenantId) -> Result<Vec<(String, String)>> {
        Ok(tenant_rows::list_customers(self.store.pool(), msp)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect())
    }

    /// `"all"` or customer names (canonical `globex-acme`, or `globex` for short).
    fn parse_scope(
        &self,
        msp: &Tenant,
        role: &str,
        scope: Option<&Value>,
        customers: &[(String, String)],
    ) -> Result<Option<Scope>> {
        let scope = match scope {
            None => return Ok(None),
            Some(Value::String(s)) if s == "all" => Scope::All,
            Some(Value::Array(names)) => {
                let mut ids = BTreeMap::new();
                for n in names {
                    let Some(n) = n.as_str() else {
                        return Err(Error::invalid(
                            "invalid_scope",
                            "scope is \"all\" or a list of customer names",
                        ));
                    };
                    let long = format!("{n}-{}", msp.name);
                    let found = customers
                        .iter()
                        .find(|(_, name)| name == n || *name == long);
                    let Some((id, name)) = found else {
                        return Err(Error::invalid(
                            "unknown_customer",
                            format!("{} has no customer '{n}'", msp.name),
                        ));
                    };
                    ids.insert(id.clone(), name.clone());
                }
                Scope::Listed(ids)
            }
            Some(_) => {
                return Err(Error::invalid(
                    "invalid_scope",
                    "scope is \"all\" or a list of customer names",
                ))
            }
        };
        if matches!(scope, Scope::Listed(_)) && (role == SUPER_USER || role == TECHNICIAN) {
            return Err(Error::invalid(
                "invalid_scope",
                if role == SUPER_USER {
                    "a super-user's scope is always every customer"
                } else {
                    "a technician reaches customers only through delegations; the scope is always \"all\""
                },
            ));
        }
        Ok(Some(scope))
    }

    /// The stored role of an MSP user, if staff.
    async fn stored_role(
        &self,
        conn: &mut Conn,
        msp: &TenantId,
        user: &str,
    ) -> Result<Option<(rows::StaffMemberRow, Role)>> {
        let Some(row) = rows::get(conn, msp, user).await? else {
            return Ok(None);
        };
        let scope = if row.scope_all != 0 || row.role == SUPER_USER || row.role == TECHNICIAN {
            Scope::All
        } else {
            Scope::Listed(rows::scope(conn, msp, user).await?.into_iter().collect())
        };
        let role = Role {
            role: row.role.clone(),
            scope,
        };
        Ok(Some((row, role)))
    }

    async fn staff_resource(
        &self,
        conn: &mut Conn,
        msp: &TenantId,
        user: &str,
    ) -> Result<StaffResource> {
        let (row, role) = self
            .stored_role(conn, msp, user)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(StaffResource {
            id: row.user_id,
            email: row.email,
            name: row.display_name,
            role: (row.role != TECHNICIAN).then_some(row.role),
            scope: role.scope_view(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        })
    }

    /// GET /staff: MSP org read-only and above.
    pub async fn api_list_staff(
        &self,
        principal: &Principal,
        q: Option<&str>,
    ) -> Result<Vec<StaffResource>> {
        let call = self.staff_call(principal, None).await?;
        if !call.can("org", "org.admins.view") {
            return Err(Error::forbidden(
                "insufficient_privileges",
                "listing staff needs org read-only access in the MSP",
            ));
        }
        let q = q.map(str::to_lowercase);
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for row in rows::list(&mut conn, &call.org.id).await? {
            let res = self
                .staff_resource(&mut conn, &call.org.id, &row.user_id)
                .await?;
            let hit = q.as_deref().is_none_or(|q| {
                res.email.to_lowercase().contains(q)
                    || res
                        .name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(q))
            });
            if hit {
                out.push(res);
            }
        }
        Ok(out)
    }

    /// GET /staff/{id}
    pub async fn api_staff(&self, principal: &Principal, id: &str) -> Result<StaffResource> {
        let call = self.staff_call(principal, None).await?;
        if !call.can("org", "org.admins.view") {
            return Err(Error::NotFound);
        }
        let mut conn = self.store.conn().await?;
        self.staff_resource(&mut conn, &call.org.id, id).await
    }

    /// POST /staff: a new MSP user with a staff role and an enrolment link (shown once).
    pub async fn api_create_staff(
        &self,
        principal: &Principal,
        request_id: Option<String>,
        spec: StaffSpec,
    ) -> Result<(StaffResource, String, String)> {
        let call = self.staff_call(principal, request_id).await?;
        call.require_org_full("change MSP staff")?;
        let msp = call.org.clone();
        let email = spec.email.trim().to_string();
        validate_email(&email)?;
        let name = spec
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.len() > 200 || n.chars().any(char::is_control)) {
            return Err(Error::invalid(
                "invalid_name",
                "the name must be at most 200 printable characters",
            ));
        }
        let role = parse_role(spec.role.as_deref())?;
        let customers = self.customers_of(&msp.id).await?;
        let scope = match self.parse_scope(&msp, &role, spec.scope.as_ref(), &customers)? {
            Some(s) => s,
            None if role == SUPER_USER || role == TECHNICIAN => Scope::All,
            None => {
                return Err(Error::invalid(
                    "scope_required",
                    "give the role a scope: \"all\" or a list of customer names",
                ))
            }
        };
        let new = Role { role, scope };
        let now = self.clock.now();
        let user = UserId::generate();
        // Customers' rows are bumped in id order, as every multi-tenant write here does.
        let mut reached: Vec<&(String, String)> = customers
            .iter()
            .filter(|(id, _)| new.reach(id).is_some())
            .collect();
        reached.sort();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &msp.id).await? {
            return Err(Error::NotFound);
        }
        let mut touched = Vec::new();
        for (id, name) in &reached {
            if tenant_rows::bump_version(&mut tx, &TenantId(id.clone())).await? {
                touched.push((id.clone(), name.clone()));
            }
        }
        let email_norm = normalise_email(&email);
        if let Some(existing) = user_rows::find_user_by_email(&mut tx, &msp.id, &email_norm).await?
        {
            return Err(email_in_use(&email, &msp.name, &existing.id));
        }
        user_rows::insert_user(
            &mut tx,
            &msp.id,
            &user_rows::UserRow {
                id: user.to_string(),
                email: email.clone(),
                display_name: name.map(str::to_string),
                status: "active".into(),
                created_at: now,
            },
            &email_norm,
        )
        .await
        .map_err(|e| match e {
            Error::Conflict { .. } => email_in_use(&email, &msp.name, ""),
            other => other,
        })?;
        self.write_role(&mut tx, &msp.id, user.as_str(), &new, now)
            .await?;
        let after = json!({"email": email, "role": new.role, "scope": new.scope_view()});
        audit::append(
            &self.keys,
            &mut tx,
            &msp.id,
            &call.actor(),
            Change {
                action: "staff.add",
                target: format!("user:{user}"),
                before: None,
                after: Some(after),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        let actor = customer_actor(principal);
        for (id, _) in &touched {
            let after = json!({"msp": msp.name, "email": email, "role": new.reach(id)});
            self.audit_customer(
                &mut tx,
                id,
                &actor,
                "msp_staff.add",
                user.as_str(),
                None,
                Some(after),
                call.request_id.as_deref(),
            )
            .await?;
        }
        let (url, expires) = self.issue_enrolment_link(&mut tx, &msp, &user, now).await?;
        let res = self.staff_resource(&mut tx, &msp.id, user.as_str()).await?;
        tx.commit().await.map_err(store::db)?;
        let expires = rfc3339(expires);
        self.send_enrolment(&msp, &email, &url, &expires).await;
        Ok((res, url, expires))
    }

    /// PATCH /staff/{id}: role and/or scope. An MSP user who is not staff yet (an
    /// offboarded one, or a local admin of the MSP) becomes staff when a role is given.
    /// Promotion to super-user revokes the user's delegations (super-users are not
    /// delegable, rule 9).
    pub async fn api_update_staff(
        &self,
        principal: &Principal,
        request_id: Option<String>,
        id: &str,
        change: StaffChange,
    ) -> Result<StaffResource> {
        let call = self.staff_call(principal, request_id).await?;
        call.require_org_full("change MSP staff")?;
        let msp = call.org.clone();
        let customers = self.customers_of(&msp.id).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &msp.id).await? {
            return Err(Error::NotFound);
        }
        let user = user_rows::user_by_id(&mut tx, &msp.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        if id == principal.user_id {
            return Err(Error::conflict(
                "cannot_change_self",
                "ask another super-user to change your own staff role",
            ));
        }
        let old = self
            .stored_role(&mut tx, &msp.id, id)
            .await?
            .map(|(_, r)| r);
        let role = match (&change.role, &old) {
            (Some(r), _) => parse_role(r.as_deref())?,
            (None, Some(o)) => o.role.clone(),
            (None, None) => {
                return Err(Error::invalid(
                    "role_required",
                    format!(
                        "{} is not staff yet; give a role (null for a technician)",
                        user.email
                    ),
                ))
            }
        };
        let scope = match self.parse_scope(&msp, &role, change.scope.as_ref(), &customers)? {
            Some(s) => s,
            None if role == SUPER_USER || role == TECHNICIAN => Scope::All,
            None => match &old {
                Some(o) if o.role != SUPER_USER && o.role != TECHNICIAN => o.scope.clone(),
                _ => {
                    return Err(Error::invalid(
                        "scope_required",
                        "give the role a scope: \"all\" or a list of customer names",
                    ))
                }
            },
        };
        let new = Role { role, scope };
        let promoted = new.role == SUPER_USER && old.as_ref().is_none_or(|o| o.role != SUPER_USER);
        let open = if promoted {
            del_rows::open_of_user(&mut tx, &msp.id, id).await?
        } else {
            Vec::new()
        };
        let old_reach = |c: &str| old.as_ref().and_then(|o| o.reach(c).map(str::to_string));
        let changed: Vec<&(String, String)> = customers
            .iter()
            .filter(|(c, _)| old_reach(c).as_deref() != new.reach(c))
            .collect();
        let bump: BTreeSet<String> = changed
            .iter()
            .map(|(c, _)| c.clone())
            .chain(open.iter().map(|d| d.tenant_id.clone()))
            .collect();
        let mut live = BTreeSet::new();
        for c in &bump {
            if tenant_rows::bump_version(&mut tx, &TenantId(c.clone())).await? {
                live.insert(c.clone());
            }
        }
        self.write_role(&mut tx, &msp.id, id, &new, now).await?;
        let actor = customer_actor(principal);
        let open: Vec<_> = open
            .into_iter()
            .filter(|d| live.contains(&d.tenant_id))
            .collect();
        let revoked = self
            .revoke_delegations_in(&mut tx, &open, &actor, call.request_id.as_deref())
            .await?;
        let view = |r: &Role| json!({"role": r.role, "scope": r.scope_view()});
        audit::append(
            &self.keys,
            &mut tx,
            &msp.id,
            &call.actor(),
            Change {
                action: "staff.update",
                target: format!("user:{id}"),
                before: old.as_ref().map(view),
                after: Some(json!({"role": new.role, "scope": new.scope_view(), "delegations_revoked": revoked})),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        for (c, _) in changed.iter().filter(|(c, _)| live.contains(c)) {
            let before = json!({"msp": msp.name, "email": user.email, "role": old_reach(c)});
            let after = json!({"msp": msp.name, "email": user.email, "role": new.reach(c)});
            self.audit_customer(
                &mut tx,
                c,
                &actor,
                "msp_staff.update",
                id,
                Some(before),
                Some(after),
                call.request_id.as_deref(),
            )
            .await?;
        }
        let res = self.staff_resource(&mut tx, &msp.id, id).await?;
        tx.commit().await.map_err(store::db)?;
        Ok(res)
    }

    /// Store role and scope (scope rows only for a listed scope).
    async fn write_role(
        &self,
        conn: &mut Conn,
        msp: &TenantId,
        user: &str,
        r: &Role,
        now: i64,
    ) -> Result<()> {
        rows::set_role(conn, msp, user, &r.role, r.scope == Scope::All, now).await?;
        let listed: Vec<TenantId> = match &r.scope {
            Scope::All => Vec::new(),
            Scope::Listed(ids) => ids.keys().cloned().map(TenantId).collect(),
        };
        rows::replace_scope(conn, msp, user, &listed).await
    }

    /// One entry in a customer's log about an MSP user.
    #[allow(clippy::too_many_arguments)]
    async fn audit_customer(
        &self,
        conn: &mut Conn,
        customer: &str,
        actor: &Actor,
        action: &str,
        user: &str,
        before: Option<Value>,
        after: Option<Value>,
        request_id: Option<&str>,
    ) -> Result<()> {
        audit::append(
            &self.keys,
            conn,
            &TenantId(customer.to_string()),
            actor,
            Change {
                action,
                target: format!("user:{user}"),
                before,
                after,
            },
            self.clock.now(),
            request_id,
        )
        .await?;
        Ok(())
    }
}

fn email_in_use(email: &str, msp: &str, id: &str) -> Error {
    Error::conflict(
        "email_in_use",
        format!(
            "{email} is already known in {msp}; give the existing account a staff role instead \
             (PATCH /api/v1/staff/{})",
            if id.is_empty() { "{id}" } else { id }
        ),
    )
}
