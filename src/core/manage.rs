//! Managing admins through the admin API: privileges.md "Rules for managing admins",
//! each refusal with its own code. Decisions are asked of the pure engine (crate::authz);
//! this module only loads, checks and writes.
//!
//! Codes: rule 1 `org_full_required` / `network_full_required`, rule 2 the same (read-only
//! admins change nothing), rule 4 `last_full_admin`, rule 5 `exceeds_own_privileges`,
//! rule 6 `unlock_not_allowed` (unlock and recover), rule 7 `email_in_use`, rule 8 `already_enrolled`.

use super::admins::{AdminSpec, CreatedAdmin, GrantView};
use super::audit::{self, Change};
use super::privileges::{own_bundle, Principal};
use super::{Core, Error, Result};
use crate::authz::{self, AdminInput, Effective, Grant, OrgAccess, OrgModel, Target};
use crate::clock::rfc3339;
use crate::store::{self, privileges as priv_rows, tenants as tenant_rows, users as rows, Conn};
use crate::tenancy::{Tenant, TenantKind};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// One call into an organization: who, where, and what the caller holds there.
pub struct OrgCall {
    pub org: Arc<Tenant>,
    pub principal: Principal,
    pub model: OrgModel,
    pub eff: Effective,
    pub request_id: Option<String>,
}

impl OrgCall {
    pub fn actor(&self) -> audit::Actor {
        self.principal.actor_in(&self.org)
    }

    pub fn is_org_full(&self) -> bool {
        self.eff.org_access == OrgAccess::Full
    }

    pub fn require_org_full(&self, what: &str) -> Result<()> {
        if self.is_org_full() {
            Ok(())
        } else {
            Err(Error::forbidden(
                "org_full_required",
                format!("only admins with org full access may {what}"),
            ))
        }
    }

    pub fn can(&self, scope: &str, capability: &str) -> bool {
        self.eff.can(&self.model, scope, capability)
    }
}

/// An admin of an organization as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AdminResource {
    /// `adm_...` for a local admin; the MSP user's `usr_...` for MSP staff and delegates.
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    /// pending (not yet enrolled), active, locked, disabled.
    pub status: String,
    /// Own-account org access (local admins).
    pub org_access: Option<OrgAccess>,
    /// Own-account grants (local admins).
    pub grants: Vec<GrantView>,
    /// `org` (local account), `msp` (MSP staff through a role), `delegation`.
    pub designations: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msp: Option<serde_json::Value>,
    pub effective: EffectiveSummary,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EffectiveSummary {
    pub org_access: OrgAccess,
    pub org_roles: Vec<String>,
    /// Number of networks the admin sees.
    pub networks: usize,
}

/// Where an admin of the org lives and why they are one.
#[derive(Debug, Clone)]
pub struct AdminRef {
    pub id: String,
    pub home: Arc<Tenant>,
    pub user_id: String,
    pub membership: Option<priv_rows::MembershipRow>,
    pub designations: Vec<&'static str>,
    pub msp_role: Option<String>,
}

fn status_of(user: &rows::FullUserRow, enrolment: Option<&str>, now: i64) -> &'static str {
    if user.status != "active" {
        "disabled"
    } else if user.locked_until.is_some_and(|t| t > now) {
        "locked"
    } else if enrolment == Some("pending") {
        "pending"
    } else {
        "active"
    }
}

impl Core {
    /// Resolve the org a path names and what the caller holds there; an MSP caller who
    /// holds nothing in a customer gets "not found".
    pub async fn org_call(
        &self,
        principal: &Principal,
        org_name: &str,
        request_id: Option<String>,
    ) -> Result<OrgCall> {
        let org = self.resolve_org(&principal.home, org_name).await?;
        let (model, _, eff) = self.caller_privileges(principal, &org).await?;
        Ok(OrgCall {
            org,
            principal: principal.clone(),
            model,
            eff,
            request_id,
        })
    }

    /// Every admin of the org: local memberships, MSP staff in scope, delegates, and users
    /// holding mapped roles.
    pub async fn org_admins(&self, conn: &mut Conn, org: &Arc<Tenant>) -> Result<Vec<AdminRef>> {
        let mut out: Vec<AdminRef> = Vec::new();
        for m in rows::members(conn, &org.id).await? {
            let membership = priv_rows::membership(conn, &org.id, &m.membership_id).await?;
            out.push(AdminRef {
                id: m.membership_id,
                home: org.clone(),
                user_id: m.user_id,
                membership,
                designations: vec!["org"],
                msp_role: None,
            });
        }
        for user in priv_rows::mapped_users(conn, &org.id).await? {
            if !out.iter().any(|a| a.user_id == user) {
                out.push(AdminRef {
                    id: user.clone(),
                    home: org.clone(),
                    user_id: user,
                    membership: None,
                    designations: vec!["org"],
                    msp_role: None,
                });
            }
        }
        let msp = match (&org.kind, &org.msp_id) {
            (TenantKind::Customer, Some(msp_id)) => self.tenants.by_id(msp_id).await?,
            (TenantKind::Msp, _) => {
                for s in priv_rows::staff_in_scope(conn, &org.id, &org.id).await? {
                    if s.role == "super-user" {
                        match out.iter_mut().find(|a| a.user_id == s.user_id) {
                            Some(a) => {
                                a.designations.push("msp");
                                a.msp_role = Some(s.role);
                            }
                            None => out.push(AdminRef {
                                id: s.user_id.clone(),
                                home: org.clone(),
                                user_id: s.user_id,
                                membership: None,
                                designations: vec!["msp"],
                                msp_role: Some(s.role),
                            }),
                        }
                    }
                }
                None
            }
            _ => None,
        };
        if let Some(msp) = msp {
            for s in priv_rows::staff_in_scope(conn, &msp.id, &org.id).await? {
                out.push(AdminRef {
                    id: s.user_id.clone(),
                    home: msp.clone(),
                    user_id: s.user_id,
                    membership: None,
                    designations: vec!["msp"],
                    msp_role: Some(s.role),
                });
            }
            // MSP staff from the MSP's own directory, by a mapping naming an MSP role.
            let mapped = crate::store::mappings::msp_mapped_staff(conn, &msp.id).await?;
            for (user, role, scope) in mapped {
                let covers = super::privileges::msp_scope_covers(&role, scope.as_deref(), &org.id);
                if covers && !out.iter().any(|a| a.home.id == msp.id && a.user_id == user) {
                    out.push(AdminRef {
                        id: user.clone(),
                        home: msp.clone(),
                        user_id: user,
                        membership: None,
                        designations: vec!["msp"],
                        msp_role: Some(role),
                    });
                }
            }
            for user in priv_rows::active_delegates(conn, &org.id, self.clock.now()).await? {
                match out
                    .iter_mut()
                    .find(|a| a.home.id == msp.id && a.user_id == user)
                {
                    Some(a) => a.designations.push("delegation"),
                    None => out.push(AdminRef {
                        id: user.clone(),
                        home: msp.clone(),
                        user_id: user,
                        membership: None,
                        designations: vec!["delegation"],
                        msp_role: None,
                    }),
                }
            }
        }
        Ok(out)
    }

    /// The admin's sources and effective privileges in the org.
    pub async fn admin_effective(
        &self,
        conn: &mut Conn,
        org: &Tenant,
        model: &OrgModel,
        a: &AdminRef,
    ) -> Result<(AdminInput, Effective)> {
        let input = self.admin_input(conn, org, &a.home.id, &a.user_id).await?;
        let eff = authz::effective(model, &input, self.clock.now());
        Ok((input, eff))
    }

    pub async fn admin_resource(
        &self,
        conn: &mut Conn,
        call: &OrgCall,
        a: &AdminRef,
    ) -> Result<(AdminResource, Effective)> {
        let now = self.clock.now();
        let user = rows::user_by_id(conn, &a.home.id, &a.user_id)
            .await?
            .ok_or(Error::NotFound)?;
        let (_, eff) = self
            .admin_effective(conn, &call.org, &call.model, a)
            .await?;
        let (org_access, grants) = match &a.membership {
            Some(m) => {
                let b = own_bundle(conn, &call.org.id, m).await?;
                (
                    b.org_access,
                    b.grants
                        .iter()
                        .map(|g| GrantView {
                            target: g.target.to_string(),
                            access: g.access.to_string(),
                        })
                        .collect(),
                )
            }
            None => (None, Vec::new()),
        };
        let (created_at, updated_at) = match &a.membership {
            Some(m) => (m.created_at, m.updated_at),
            None => (user.created_at, user.updated_at),
        };
        let resource = AdminResource {
            id: a.id.clone(),
            user_id: a.user_id.clone(),
            email: user.email.clone(),
            name: user.display_name.clone(),
            status: status_of(
                &user,
                a.membership.as_ref().map(|m| m.enrolment.as_str()),
                now,
            )
            .to_string(),
            org_access,
            grants,
            designations: a.designations.clone(),
            msp: a
                .msp_role
                .as_ref()
                .map(|role| json!({"tenant": a.home.name, "role": role}))
                .or_else(|| {
                    (a.home.id != call.org.id).then(|| json!({"tenant": a.home.name, "role": null}))
                }),
            effective: EffectiveSummary {
                org_access: eff.org_access,
                org_roles: eff.org_roles.clone(),
                networks: eff.networks.len(),
            },
            created_at: rfc3339(created_at),
            updated_at: rfc3339(updated_at),
        };
        Ok((resource, eff))
    }

    /// May the caller see this admin? Org read-only and above see everyone; an admin with
    /// full on some network sees every admin who sees such a network (the admins of that
    /// network, org admins included).
    fn may_view_admin(&self, call: &OrgCall, target: &Effective) -> bool {
        call.can("org", "org.admins.view")
            || target
                .networks
                .keys()
                .any(|id| call.can(id, "network.admins.manage"))
    }

    pub async fn find_admin(
        &self,
        conn: &mut Conn,
        call: &OrgCall,
        id: &str,
    ) -> Result<(AdminRef, AdminResource, Effective)> {
        let admins = self.org_admins(conn, &call.org).await?;
        let a = admins
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(Error::NotFound)?;
        let (res, eff) = self.admin_resource(conn, call, &a).await?;
        if !self.may_view_admin(call, &eff) {
            return Err(Error::NotFound);
        }
        Ok((a, res, eff))
    }

    /// GET /admins: every admin the caller may see, filtered.
    pub async fn list_org_admins(
        &self,
        call: &OrgCall,
        filter: &AdminFilter,
    ) -> Result<Vec<AdminResource>> {
        if !call.can("org", "org.admins.view")
            && !call
                .eff
                .networks
                .keys()
                .any(|n| call.can(n, "network.admins.manage"))
        {
            return Err(Error::forbidden(
                "insufficient_privileges",
                "listing admins needs org read-only access or full access on a network",
            ));
        }
        let mut conn = self.store.conn().await?;
        let mut out = Vec::new();
        for a in self.org_admins(&mut conn, &call.org).await? {
            let (res, eff) = self.admin_resource(&mut conn, call, &a).await?;
            if !self.may_view_admin(call, &eff) || !filter.matches(&res) {
                continue;
            }
            out.push(res);
        }
        out.sort_by(|a, b| a.email.cmp(&b.email).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// POST /admins: rules 1, 5 and 7.
    pub async fn api_add_admin(&self, call: &OrgCall, spec: AdminSpec) -> Result<CreatedAdmin> {
        if spec.org_access != OrgAccess::None {
            call.require_org_full("give an admin org access")?;
            authz::may_grant_org_access(&call.eff, spec.org_access)
                .map_err(|m| Error::forbidden("exceeds_own_privileges", m))?;
        }
        for g in &spec.grants {
            self.check_grant_change(call, g, true)?;
        }
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let created = self
            .insert_admin(
                &mut tx,
                &call.org,
                &spec,
                None,
                &call.actor(),
                call.request_id.as_deref(),
            )
            .await?;
        tx.commit().await.map_err(store::db)?;
        self.send_created_admin(&call.org, &created).await;
        Ok(created)
    }

    /// Rule 1 (who may touch which grant) and rule 5 (only what the caller holds) for one
    /// added or removed grant.
    fn check_grant_change(&self, call: &OrgCall, g: &Grant, adding: bool) -> Result<()> {
        match &g.target {
            Target::All => {
                return Err(Error::invalid(
                    "invalid_grant",
                    "the target 'all' belongs to MSP roles; grant a network or a tag",
                ))
            }
            Target::Tag(_) => {
                if matches!(g.access, crate::authz::NetworkAccess::Port(_)) {
                    return Err(Error::invalid(
                        "invalid_grant",
                        "a port privilege targets one network (network:ID=port:NAME)",
                    ));
                }
                call.require_org_full("change tag grants")?
            }
            Target::Network(id) => {
                let Some(def) = call.model.network(id).filter(|_| call.eff.is_visible(id)) else {
                    return Err(Error::invalid(
                        "unknown_network",
                        format!("there is no network '{id}' here"),
                    ));
                };
                if let crate::authz::NetworkAccess::Port(name) = &g.access {
                    if !def.ports.contains_key(name) {
                        return Err(Error::invalid(
                            "unknown_port_privilege",
                            format!("network '{id}' defines no port privilege '{name}'"),
                        ));
                    }
                }
                if !call.is_org_full() && !call.can(id, "network.admins.manage") {
                    return Err(Error::forbidden(
                        "network_full_required",
                        format!("changing grants on network {id} needs full access on it"),
                    ));
                }
            }
        }
        if adding {
            authz::may_grant(&call.eff, &call.model, g)
                .map_err(|m| Error::forbidden("exceeds_own_privileges", m))?;
        }
        Ok(())
    }

    /// PATCH /admins/{id}: org access and/or the whole set of own grants. Rules 1, 3, 4, 5.
    pub async fn api_update_admin(
        &self,
        call: &OrgCall,
        id: &str,
        change: AdminChange,
    ) -> Result<UpdateOutcome> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (a, before, _) = self.find_admin(&mut tx, call, id).await?;
        let Some(m) = a.membership.clone() else {
            return Err(Error::conflict("not_a_local_admin", "this admin holds privileges through the MSP or a directory role; change those instead (/api/v1/staff, delegations, role mappings)"));
        };
        let current = own_bundle(&mut tx, &call.org.id, &m).await?;
        let cur_access = current.org_access.unwrap_or(OrgAccess::None);
        let new_access = change.org_access.unwrap_or(cur_access);
        if new_access != cur_access {
            call.require_org_full("change an admin's org access")?;
            authz::may_grant_org_access(&call.eff, new_access)
                .map_err(|m| Error::forbidden("exceeds_own_privileges", m))?;
            if cur_access == OrgAccess::Full {
                self.guard_last_full_admin(&mut tx, &call.org, now).await?;
            }
        }
        let cur_grants: BTreeSet<Grant> = current.grants.iter().cloned().collect();
        let new_grants: BTreeSet<Grant> = match &change.grants {
            Some(g) => g.iter().cloned().collect(),
            None => cur_grants.clone(),
        };
        for g in new_grants.difference(&cur_grants) {
            self.check_grant_change(call, g, true)?;
        }
        for g in cur_grants.difference(&new_grants) {
            self.check_grant_change(call, g, false)?;
        }
        super::admins::check_grants(
            &mut tx,
            &call.org,
            &new_grants.iter().cloned().collect::<Vec<_>>(),
        )
        .await?;
        if new_access != cur_access {
            rows::set_org_access(&mut tx, &call.org.id, &m.id, new_access.as_str(), now).await?;
        }
        for g in cur_grants.difference(&new_grants) {
            rows::delete_grant(
                &mut tx,
                &call.org.id,
                &m.id,
                &g.target.to_string(),
                &g.access.to_string(),
            )
            .await?;
        }
        for g in new_grants.difference(&cur_grants) {
            let network = match &g.target {
                Target::Network(id) => Some(id.as_str()),
                _ => None,
            };
            let mid = crate::ids::MembershipId(m.id.clone());
            rows::insert_grant(
                &mut tx,
                &call.org.id,
                &mid,
                &g.target.to_string(),
                network,
                &g.access.to_string(),
                now,
            )
            .await?;
        }
        rows::touch_membership(&mut tx, &call.org.id, &m.id, now).await?;
        let show = |access: OrgAccess, grants: &BTreeSet<Grant>| json!({"org_access": access.as_str(), "grants": grants.iter().map(ToString::to_string).collect::<Vec<_>>()});
        // Rule 3: no own org access and no grant left removes the membership.
        let removed = new_access == OrgAccess::None && new_grants.is_empty();
        if removed {
            self.remove_membership(&mut tx, &call.org, &a, &m).await?;
        }
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: if removed {
                    "admin.remove"
                } else {
                    "admin.update"
                },
                target: format!("user:{}", a.user_id),
                before: Some(show(cur_access, &cur_grants)),
                after: (!removed).then(|| show(new_access, &new_grants)),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        if removed {
            tx.commit().await.map_err(store::db)?;
            return Ok(UpdateOutcome::Removed { id: before.id });
        }
        let (_, after, _) = self.find_admin(&mut tx, call, id).await?;
        tx.commit().await.map_err(store::db)?;
        Ok(UpdateOutcome::Updated(Box::new(after)))
    }

    /// Rule 4: the last unlocked own-account org-full admin stays. Called inside the
    /// write transaction, which holds the tenant's lock, so two concurrent demotions
    /// serialize and exactly one succeeds.
    async fn guard_last_full_admin(&self, conn: &mut Conn, org: &Tenant, now: i64) -> Result<()> {
        if rows::count_full_admins(conn, &org.id, now).await? <= 1 {
            return Err(Error::conflict("last_full_admin", "this is the last admin with org full access through their own account; add another before demoting or removing this one"));
        }
        Ok(())
    }

    async fn remove_membership(
        &self,
        conn: &mut Conn,
        org: &Tenant,
        a: &AdminRef,
        m: &priv_rows::MembershipRow,
    ) -> Result<()> {
        rows::delete_membership(conn, &org.id, &m.id).await?;
        crate::store::apikeys::delete_for_user(conn, &org.id, &a.user_id).await?;
        super::sessions::end_user(conn, &org.id, &a.user_id, self.clock.now()).await?;
        // The user record stays while it is still something else here (MSP staff); the
        // passkey issue adds sign-in methods to this check.
        if !super::standing::Standing::load(conn, &org.id, &a.user_id)
            .await?
            .is_staff()
        {
            rows::delete_user(conn, &org.id, &a.user_id).await?;
        }
        Ok(())
    }

    /// DELETE /admins/{id}: org full, or full on every network the admin's own grants
    /// name (for an admin without org access or tag grants). Rule 4 holds.
    pub async fn api_delete_admin(&self, call: &OrgCall, id: &str) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (a, before, _) = self.find_admin(&mut tx, call, id).await?;
        let Some(m) = a.membership.clone() else {
            return Err(Error::conflict("not_a_local_admin", "this admin holds privileges through the MSP or a directory role; remove those instead"));
        };
        let current = own_bundle(&mut tx, &call.org.id, &m).await?;
        if !call.is_org_full() {
            let network_only = current.org_access.unwrap_or(OrgAccess::None) == OrgAccess::None
                && current.grants.iter().all(|g| matches!(&g.target, Target::Network(n) if call.can(n, "network.admins.manage")));
            if !network_only {
                return Err(Error::forbidden(
                    "org_full_required",
                    "only admins with org full access may remove this admin",
                ));
            }
        }
        if current.org_access == Some(OrgAccess::Full) {
            self.guard_last_full_admin(&mut tx, &call.org, now).await?;
        }
        self.remove_membership(&mut tx, &call.org, &a, &m).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "admin.remove",
                target: format!("user:{}", a.user_id),
                before: Some(json!({"email": before.email, "org_access": before.org_access, "grants": before.grants.iter().map(|g| format!("{}={}", g.target, g.access)).collect::<Vec<_>>()})),
                after: None,
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        // Sessions ended and tokens revoked in the transaction (a version bump): drop this
        // process's cached tokens now.
        self.tenants.invalidate();
        Ok(())
    }

    /// POST /admins/{id}/unlock: rule 6.
    pub async fn api_unlock_admin(&self, call: &OrgCall, id: &str) -> Result<AdminResource> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (a, res, target_eff) = self.find_admin(&mut tx, call, id).await?;
        require_local(call, &a, "MSP staff are unlocked in their MSP")?;
        if res.status != "locked" {
            return Err(Error::conflict("not_locked", "this admin is not locked"));
        }
        require_rule6(
            call,
            &target_eff,
            "unlocking needs privileges equal to or greater than the locked admin's",
        )?;
        rows::unlock_user(&mut tx, &call.org.id, &a.user_id, now).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "admin.unlock",
                target: format!("user:{}", a.user_id),
                before: None,
                after: None,
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        let (_, after, _) = self.find_admin(&mut tx, call, id).await?;
        tx.commit().await.map_err(store::db)?;
        Ok(after)
    }

    /// POST /admins/{id}/resend-enrolment: rule 8.
    pub async fn api_resend_enrolment(
        &self,
        call: &OrgCall,
        id: &str,
    ) -> Result<(AdminResource, String, String)> {
        call.require_org_full("resend an enrolment link")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (a, res, _) = self.find_admin(&mut tx, call, id).await?;
        if a.membership.as_ref().map(|m| m.enrolment.as_str()) != Some("pending") {
            return Err(Error::conflict(
                "already_enrolled",
                "this admin has already enrolled; use recovery instead",
            ));
        }
        let user = crate::ids::UserId(a.user_id.clone());
        let (url, expires) = self
            .issue_enrolment_link(&mut tx, &call.org, &user, now)
            .await?;
        audit::append(
            &self.keys,
            &mut tx,
            &call.org.id,
            &call.actor(),
            Change {
                action: "admin.enrolment_link",
                target: format!("user:{}", a.user_id),
                before: None,
                after: None,
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        let expires = rfc3339(expires);
        self.send_enrolment(&call.org, &res.email, &url, &expires)
            .await;
        Ok((res, url, expires))
    }

    /// For tests and the passkey issue's lockout policy: lock a local admin until `until`.
    pub async fn lock_admin(&self, org: &Tenant, user_id: &str, until: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        rows::lock_user(&mut tx, &org.id, user_id, until).await?;
        tx.commit().await.map_err(store::db)
    }
}

/// Unlock and recovery act on the org's own accounts only.
pub(crate) fn require_local(call: &OrgCall, a: &AdminRef, message: &str) -> Result<()> {
    if a.home.id == call.org.id {
        Ok(())
    } else {
        Err(Error::conflict("not_a_local_admin", message))
    }
}

/// Rule 6: equal or greater privileges than the target admin's (unlock and recovery).
pub(crate) fn require_rule6(call: &OrgCall, target: &Effective, message: &str) -> Result<()> {
    if authz::may_unlock(&call.eff, target) {
        Ok(())
    } else {
        Err(Error::forbidden("unlock_not_allowed", message))
    }
}

/// `?q=&access=&designation=&status=` of GET /admins.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFilter {
    pub q: Option<String>,
    pub access: Option<String>,
    pub designation: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl AdminFilter {
    fn matches(&self, a: &AdminResource) -> bool {
        let q_ok = self.q.as_deref().is_none_or(|q| {
            let q = q.to_lowercase();
            a.email.to_lowercase().contains(&q)
                || a.name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&q))
        });
        let access_ok = self
            .access
            .as_deref()
            .is_none_or(|x| a.effective.org_access.as_str() == x);
        let des_ok = self
            .designation
            .as_deref()
            .is_none_or(|d| a.designations.contains(&d));
        let status_ok = self.status.as_deref().is_none_or(|s| a.status == s);
        q_ok && access_ok && des_ok && status_ok
    }
}

/// PATCH /admins/{id} body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminChange {
    pub org_access: Option<OrgAccess>,
    /// The complete set of own grants after the change.
    pub grants: Option<Vec<Grant>>,
}

pub enum UpdateOutcome {
    Updated(Box<AdminResource>),
    /// Rule 3: nothing left, the membership is gone.
    Removed {
        id: String,
    },
}
