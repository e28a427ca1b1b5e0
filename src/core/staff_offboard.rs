//! Offboarding an MSP user everywhere (api.md `DELETE /api/v1/staff/{id}`, CLI `tenantry
//! msp offboard`; security.md "Revocation cascades"): the staff role and scope, the
//! user's admin membership in the MSP itself (rule 4 still holds: 409 `last_full_admin`),
//! every API key and unused enrolment link, and every delegation of the user in every
//! customer (state `revoked`, the row kept). The user record stays, so the revoked
//! delegations and the audit entries keep naming who they were; a later PATCH
//! /staff/{id} with a role re-hires the same account.
//!
//! One transaction: the MSP's tenant row is bumped first, then every affected customer's
//! in id order; each revocation is audited in its customer's log, the loss of an MSP role
//! in every customer it reached, and the whole in the MSP's log.

use super::customer_actor;
use crate::core::admins::normalise_email;
use crate::core::audit::{self, Actor, Change};
use crate::core::privileges::Principal;
use crate::core::{Core, Error, Result};
use crate::store::{
    self, apikeys as key_rows, delegations as del_rows, privileges as priv_rows, staff as rows,
    tenants as tenant_rows, users as user_rows,
};
use crate::tenancy::{Tenant, TenantKind};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What offboarding removed.
#[derive(Debug, Clone, Serialize)]
pub struct OffboardReport {
    pub msp: String,
    pub user_id: String,
    pub email: String,
    /// The MSP role the user held (`technician` for staff without one), null if none.
    pub role: Option<String>,
    /// Whether the user's own admin membership in the MSP went too.
    pub membership_removed: bool,
    pub api_keys_revoked: u64,
    pub enrolment_links_revoked: u64,
    /// `{"id", "customer"}` of every delegation revoked.
    pub delegations_revoked: Vec<Value>,
}

impl Core {
    /// DELETE /staff/{id}: MSP org-full admins only; nobody offboards themselves.
    pub async fn api_offboard_staff(
        &self,
        principal: &Principal,
        request_id: Option<String>,
        id: &str,
    ) -> Result<OffboardReport> {
        let call = self.staff_call(principal, request_id).await?;
        call.require_org_full("offboard MSP staff")?;
        {
            let mut conn = self.store.conn().await?;
            rows::get(&mut conn, &call.org.id, id)
                .await?
                .ok_or(Error::NotFound)?;
        }
        if id == principal.user_id {
            return Err(Error::conflict(
                "cannot_change_self",
                "ask another super-user to offboard you",
            ));
        }
        self.offboard(
            &call.org,
            id,
            &call.actor(),
            &customer_actor(principal),
            call.request_id.as_deref(),
        )
        .await
    }

    /// `tenantry msp offboard --msp MSP --email E`: the server's own break-glass path.
    pub async fn cli_offboard(&self, msp_name: &str, email: &str) -> Result<OffboardReport> {
        let msp = match self.find_tenant(msp_name).await {
            Ok(t) if t.kind == TenantKind::Msp => t,
            _ => {
                return Err(Error::invalid(
                    "unknown_msp",
                    format!("there is no MSP named '{msp_name}'"),
                ))
            }
        };
        let user = {
            let mut conn = self.store.conn().await?;
            user_rows::find_user_by_email(&mut conn, &msp.id, &normalise_email(email)).await?
        };
        let Some(user) = user else {
            return Err(Error::invalid(
                "unknown_user",
                format!("{msp_name} has no user {email}"),
            ));
        };
        let cli = Actor::cli();
        self.offboard(&msp, &user.id, &cli, &cli, None).await
    }

    async fn offboard(
        &self,
        msp: &Tenant,
        user: &str,
        msp_actor: &Actor,
        customer_actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<OffboardReport> {
        let customers = self.customers_of(&msp.id).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &msp.id).await? {
            return Err(Error::NotFound);
        }
        let u = user_rows::user_by_id(&mut tx, &msp.id, user)
            .await?
            .ok_or(Error::NotFound)?;
        let old = self
            .stored_role(&mut tx, &msp.id, user)
            .await?
            .map(|(_, r)| r);
        let open = del_rows::open_of_user(&mut tx, &msp.id, user).await?;
        let reached: Vec<&(String, String)> = customers
            .iter()
            .filter(|(c, _)| old.as_ref().is_some_and(|o| o.reach(c).is_some()))
            .collect();
        let bump: BTreeSet<String> = reached
            .iter()
            .map(|(c, _)| c.clone())
            .chain(open.iter().map(|d| d.tenant_id.clone()))
            .collect();
        let mut live = BTreeSet::new();
        for c in bump {
            if tenant_rows::bump_version(&mut tx, &crate::ids::TenantId(c.clone())).await? {
                live.insert(c);
            }
        }
        let membership = priv_rows::membership_of_user(&mut tx, &msp.id, user).await?;
        if let Some(m) = &membership {
            if m.org_access == "full"
                && user_rows::count_full_admins(&mut tx, &msp.id, now).await? <= 1
            {
                return Err(Error::conflict(
                    "last_full_admin",
                    format!("{} is the last admin of {} with org full access through their own account; add another before offboarding", u.email, msp.name),
                ));
            }
            user_rows::delete_membership(&mut tx, &msp.id, &m.id).await?;
        }
        rows::delete_role(&mut tx, &msp.id, user).await?;
        let keys = key_rows::delete_for_user(&mut tx, &msp.id, user).await?;
        // Sessions and tokens end on every host: the MSP's and each customer's.
        crate::core::sessions::end_user(&mut tx, &msp.id, user, now).await?;
        crate::core::sessions::end_msp_user_in_customers(&mut tx, &msp.id, user, None, now).await?;
        let links = rows::delete_open_enrolment_links(&mut tx, &msp.id, user).await?;
        let open: Vec<_> = open
            .into_iter()
            .filter(|d| live.contains(&d.tenant_id))
            .collect();
        let revoked = self
            .revoke_delegations_in(&mut tx, &open, customer_actor, request_id)
            .await?;
        for (c, _) in reached.iter().filter(|(c, _)| live.contains(c)) {
            let before = json!({
                "msp": msp.name,
                "email": u.email,
                "role": old.as_ref().and_then(|o| o.reach(c)),
            });
            self.audit_customer(
                &mut tx,
                c,
                customer_actor,
                "msp_staff.remove",
                user,
                Some(before),
                None,
                request_id,
            )
            .await?;
        }
        let report = OffboardReport {
            msp: msp.name.clone(),
            user_id: u.id.clone(),
            email: u.email.clone(),
            role: old.as_ref().map(|o| o.role.clone()),
            membership_removed: membership.is_some(),
            api_keys_revoked: keys,
            enrolment_links_revoked: links,
            delegations_revoked: revoked,
        };
        audit::append(
            &self.keys,
            &mut tx,
            &msp.id,
            msp_actor,
            Change {
                action: "staff.offboard",
                target: format!("user:{user}"),
                before: Some(json!({
                    "email": u.email,
                    "role": report.role,
                    "scope": old.as_ref().map(|o| o.scope_view()),
                    "membership": membership.as_ref().map(|m| m.org_access.clone()),
                })),
                after: Some(json!({
                    "delegations_revoked": report.delegations_revoked,
                    "api_keys_revoked": keys,
                    "enrolment_links_revoked": links,
                })),
            },
            now,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        // Revoked tokens stop answering from this process's caches at once.
        self.tenants.invalidate();
        Ok(report)
    }
}
