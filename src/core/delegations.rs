//! Delegations: a technician's privilege bundle in one customer (privileges.md rules 5, 9,
//! 10 and 11; product.md "MSP model"; api.md `/orgs/{org}/delegations`).
//!
//! - Created by the MSP's super-users (on the MSP host, the path naming the customer) or
//!   by a customer admin with org full from the customer's own sources (on the customer
//!   host; such a delegation counts as approved). Otherwise, when the customer requires
//!   approval, a new delegation starts `pending`.
//! - Only a customer admin with org full from its own sources approves (403
//!   `approval_not_allowed`), never the delegate, never through MSP privileges.
//! - Either side revokes; the row stays, with state `revoked`.
//! - `expired` is computed from the clock, never stored.
//!
//! Codes: `delegation_not_allowed`, `approval_not_allowed`, `revoke_not_allowed` (403);
//! `super_user_not_delegable`, `not_pending`, `already_revoked` (409); `unknown_msp_user`,
//! `not_msp_staff`, `invalid_expiry`, `invalid_bundle`, `empty_bundle`, `invalid_grant`,
//! `unknown_network`, `unknown_port_privilege` (400); rule 5 `exceeds_own_privileges` (403).
//!
//! Writes touching both sides bump (lock) the MSP's tenant row before the customer's, the
//! order every multi-tenant write here uses. Imports store and authz, never http.

#[path = "delegation_view.rs"]
mod view;

pub use view::{state_at, DelegationResource};

use super::admins::{check_grants, normalise_email};
use super::audit::{self, Actor, Change};
use super::manage::OrgCall;
use super::privileges::bundle_to_json;
use super::{settings, Core, Error, Result};
use crate::authz::{self, Bundle, Grant, OrgAccess, Target};
use crate::clock::rfc3339;
use crate::ids::{DelegationId, TenantId};
use crate::store::{self, delegations as rows, tenants as tenant_rows, users as user_rows, Conn};
use crate::tenancy::{Tenant, TenantKind};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use view::{bundle_view, resolved_access};

/// POST /delegations body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationSpec {
    /// The MSP user: `usr_...` or an e-mail of the customer's MSP.
    pub msp_user: String,
    pub bundle: Option<BundleSpec>,
    /// RFC 3339; absent means no expiry.
    pub expires_at: Option<String>,
}

/// A delegation's bundle as the API takes it. No bundle at all (or no org access and no
/// grants) means org `full`; grants without org access mean org access `none`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSpec {
    pub org_access: Option<OrgAccess>,
    #[serde(default)]
    pub org_roles: Vec<String>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// `?state=&limit=&cursor=` of GET /delegations.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationFilter {
    pub state: Option<String>,
    pub msp_user: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn parse_expiry(text: Option<&str>, now: i64) -> Result<Option<i64>> {
    let Some(text) = text else { return Ok(None) };
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            Error::invalid(
                "invalid_expiry",
                "expires_at must be an RFC 3339 time such as 2030-01-31T18:00:00Z",
            )
        })?
        .unix_timestamp();
    if at <= now {
        return Err(Error::invalid(
            "invalid_expiry",
            "expires_at must lie in the future",
        ));
    }
    Ok(Some(at))
}

/// Shape checks of a bundle that need no database.
fn validate_bundle(spec: Option<BundleSpec>) -> Result<Bundle> {
    let spec = spec.unwrap_or_default();
    if !spec.org_roles.is_empty() {
        return Err(Error::invalid(
            "invalid_bundle",
            "a delegation carries org access and network grants; org roles come from MSP roles and role mappings",
        ));
    }
    if spec.grants.iter().any(|g| g.target == Target::All) {
        return Err(Error::invalid(
            "invalid_grant",
            "the target 'all' belongs to MSP roles; grant a network or a tag",
        ));
    }
    if spec.org_access == Some(OrgAccess::None) && spec.grants.is_empty() {
        return Err(Error::invalid(
            "empty_bundle",
            "org access none without any grant would give nothing",
        ));
    }
    let grants: BTreeSet<Grant> = spec.grants.into_iter().collect();
    Ok(Bundle {
        org_access: spec.org_access,
        org_roles: Vec::new(),
        grants: grants.into_iter().collect(),
    })
}

impl Core {
    /// The customer a delegation path names (404 for the MSP itself or a standalone org)
    /// and its MSP.
    async fn delegation_parties(&self, call: &OrgCall) -> Result<(Arc<Tenant>, Arc<Tenant>)> {
        let msp_id = match (&call.org.kind, &call.org.msp_id) {
            (TenantKind::Customer, Some(id)) => id,
            _ => return Err(Error::NotFound),
        };
        let msp = self.tenants.by_id(msp_id).await?.ok_or(Error::NotFound)?;
        Ok((call.org.clone(), msp))
    }

    /// Is the caller one of the customer's MSP super-users, acting from the MSP host?
    async fn is_msp_super_user(&self, conn: &mut Conn, call: &OrgCall) -> Result<bool> {
        let p = &call.principal;
        if p.home.kind != TenantKind::Msp || call.org.msp_id.as_ref() != Some(&p.home.id) {
            return Ok(false);
        }
        Ok(
            super::standing::Standing::load(conn, &p.home.id, &p.user_id)
                .await?
                .is_super_user(),
        )
    }

    /// Delegations are visible to whoever sees the organization's admins.
    fn may_see_delegations(call: &OrgCall) -> bool {
        call.can("org", "org.admins.view")
    }

    /// GET /delegations: a customer's delegations, or on the MSP host for the MSP itself,
    /// the MSP's delegations in every customer.
    pub async fn api_list_delegations(
        &self,
        call: &OrgCall,
        filter: &DelegationFilter,
    ) -> Result<Vec<DelegationResource>> {
        if !Self::may_see_delegations(call) {
            return Err(Error::forbidden(
                "insufficient_privileges",
                "listing delegations needs org read-only access",
            ));
        }
        if let Some(s) = filter.state.as_deref() {
            if !["pending", "approved", "revoked", "expired"].contains(&s) {
                return Err(Error::invalid(
                    "invalid_query",
                    "state is one of pending, approved, revoked, expired",
                ));
            }
        }
        let mut conn = self.store.conn().await?;
        let found = match call.org.kind {
            TenantKind::Customer => rows::list_for_customer(&mut conn, &call.org.id).await?,
            TenantKind::Msp => rows::list_for_msp(&mut conn, &call.org.id).await?,
            TenantKind::Standalone => Vec::new(),
        };
        let all = self.delegation_views(&mut conn, found).await?;
        let wanted = filter.msp_user.as_deref().map(normalise_email);
        Ok(all
            .into_iter()
            .filter(|d| filter.state.as_deref().is_none_or(|s| d.state == s))
            .filter(|d| {
                wanted.as_deref().is_none_or(|w| {
                    d.msp_user["id"] == w
                        || d.msp_user["email"].as_str().map(normalise_email).as_deref() == Some(w)
                })
            })
            .collect())
    }

    /// GET /delegations/{id}
    pub async fn api_delegation(&self, call: &OrgCall, id: &str) -> Result<DelegationResource> {
        if !Self::may_see_delegations(call) {
            return Err(Error::NotFound);
        }
        let mut conn = self.store.conn().await?;
        let row = match call.org.kind {
            TenantKind::Customer => rows::get(&mut conn, &call.org.id, id).await?,
            TenantKind::Msp => rows::list_for_msp(&mut conn, &call.org.id)
                .await?
                .into_iter()
                .find(|d| d.id == id),
            TenantKind::Standalone => None,
        }
        .ok_or(Error::NotFound)?;
        self.delegation_view(&mut conn, row).await
    }

    /// POST /delegations: rules 5, 9 and 10.
    pub async fn api_create_delegation(
        &self,
        call: &OrgCall,
        spec: DelegationSpec,
    ) -> Result<DelegationResource> {
        let (customer, msp) = self.delegation_parties(call).await?;
        let own = self.own_org_full(call);
        let super_user = {
            let mut conn = self.store.conn().await?;
            self.is_msp_super_user(&mut conn, call).await?
        };
        if !own && !super_user {
            return Err(Error::forbidden(
                "delegation_not_allowed",
                "delegations are created by the MSP's super-users or by the organization's own org-full admins",
            ));
        }
        let now = self.clock.now();
        let expires_at = parse_expiry(spec.expires_at.as_deref(), now)?;
        let bundle = validate_bundle(spec.bundle)?;

        let mut tx = self.store.begin().await?;
        if super_user && !tenant_rows::bump_version(&mut tx, &msp.id).await? {
            return Err(Error::NotFound);
        }
        if !tenant_rows::bump_version(&mut tx, &customer.id).await? {
            return Err(Error::NotFound);
        }
        let wanted = spec.msp_user.trim();
        let user = if wanted.starts_with("usr_") {
            user_rows::user_by_id(&mut tx, &msp.id, wanted)
                .await?
                .map(|u| (u.id, u.email))
        } else {
            user_rows::find_user_by_email(&mut tx, &msp.id, &normalise_email(wanted))
                .await?
                .map(|u| (u.id, u.email))
        };
        let Some((user_id, email)) = user else {
            return Err(Error::invalid(
                "unknown_msp_user",
                format!("{} has no user '{wanted}'", msp.name),
            ));
        };
        let standing = super::standing::Standing::load(&mut tx, &msp.id, &user_id).await?;
        if !standing.is_staff() {
            return Err(Error::invalid(
                "not_msp_staff",
                format!(
                    "{email} is not staff of {}; give them a staff role first (/api/v1/staff)",
                    msp.name
                ),
            ));
        }
        if standing.is_super_user() {
            return Err(Error::conflict(
                "super_user_not_delegable",
                format!("{email} is an MSP super-user and already owns every customer; only staff who are not super-users can be delegated"),
            ));
        }
        check_grants(&mut tx, &customer, &bundle.grants).await?;
        authz::may_grant_org_access(&call.eff, resolved_access(&bundle))
            .map_err(|m| Error::forbidden("exceeds_own_privileges", m))?;
        for g in &bundle.grants {
            authz::may_grant(&call.eff, &call.model, g)
                .map_err(|m| Error::forbidden("exceeds_own_privileges", m))?;
        }
        let (_, s) = settings::load(&mut tx, &customer).await?;
        let approved = own || !s.require_approval;
        let id = DelegationId::generate();
        let by = call.principal.user_id.clone();
        let bundle_json = bundle_to_json(&bundle);
        rows::insert(
            &mut tx,
            &customer.id,
            &rows::NewDelegation {
                id: id.as_str(),
                msp_tenant_id: &msp.id,
                msp_user_id: &user_id,
                bundle: &bundle_json,
                state: if approved { "approved" } else { "pending" },
                expires_at,
                created_by: &by,
                // An own org-full creator approves by creating; without required approval
                // nobody has to.
                approved_by: own.then_some(by.as_str()),
                approved_at: approved.then_some(now),
                created_at: now,
            },
        )
        .await?;
        let after = json!({
            "customer": customer.name,
            "msp_user": email,
            "msp_user_id": user_id,
            "bundle": bundle_view(&bundle),
            "state": if approved { "approved" } else { "pending" },
            "expires_at": expires_at.map(rfc3339),
        });
        self.audit_both_sides(
            &mut tx,
            call,
            &customer,
            &msp,
            super_user,
            "delegation.create",
            &id.0,
            None,
            Some(after),
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.api_delegation_unchecked(&customer.id, &id.0).await
    }

    /// POST /delegations/{id}/approve: only the customer's own org-full admins.
    pub async fn api_approve_delegation(
        &self,
        call: &OrgCall,
        id: &str,
    ) -> Result<DelegationResource> {
        let (customer, _) = self.delegation_parties(call).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &customer.id).await? {
            return Err(Error::NotFound);
        }
        let row = rows::get(&mut tx, &customer.id, id)
            .await?
            .filter(|_| Self::may_see_delegations(call))
            .ok_or(Error::NotFound)?;
        let is_delegate = call.principal.home.id.as_str() == row.msp_tenant_id
            && call.principal.user_id == row.msp_user_id;
        if !self.own_org_full(call) || is_delegate {
            return Err(Error::forbidden(
                "approval_not_allowed",
                "only the organization's own org-full admins approve delegations, never through MSP privileges and never the delegate",
            ));
        }
        let state = state_at(&row.state, row.expires_at, now);
        if state != "pending"
            || !rows::approve(&mut tx, &customer.id, id, &call.principal.user_id, now).await?
        {
            return Err(Error::conflict(
                "not_pending",
                format!("this delegation is {state}, not pending"),
            ));
        }
        audit::append(
            &self.keys,
            &mut tx,
            &customer.id,
            &call.actor(),
            Change {
                action: "delegation.approve",
                target: format!("delegation:{id}"),
                before: Some(json!({"state": "pending"})),
                after: Some(json!({"state": "approved", "msp_user": row.msp_user_email})),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.api_delegation_unchecked(&customer.id, id).await
    }

    /// DELETE /delegations/{id}: the customer's own org-full admins or the MSP's
    /// super-users revoke; the row stays with state `revoked`.
    pub async fn api_revoke_delegation(&self, call: &OrgCall, id: &str) -> Result<()> {
        let (customer, msp) = self.delegation_parties(call).await?;
        let now = self.clock.now();
        let super_user = {
            let mut conn = self.store.conn().await?;
            self.is_msp_super_user(&mut conn, call).await?
        };
        let mut tx = self.store.begin().await?;
        if super_user && !tenant_rows::bump_version(&mut tx, &msp.id).await? {
            return Err(Error::NotFound);
        }
        if !tenant_rows::bump_version(&mut tx, &customer.id).await? {
            return Err(Error::NotFound);
        }
        let row = rows::get(&mut tx, &customer.id, id)
            .await?
            .filter(|_| Self::may_see_delegations(call))
            .ok_or(Error::NotFound)?;
        if !super_user && !self.own_org_full(call) {
            return Err(Error::forbidden(
                "revoke_not_allowed",
                "delegations are revoked by the organization's own org-full admins or the MSP's super-users",
            ));
        }
        let before = state_at(&row.state, row.expires_at, now);
        if !rows::revoke(&mut tx, &customer.id, id, &call.principal.user_id, now).await? {
            return Err(Error::conflict(
                "already_revoked",
                "this delegation is already revoked",
            ));
        }
        crate::core::sessions::end_msp_user_in_customers(
            &mut tx,
            &msp.id,
            &row.msp_user_id,
            Some(&customer.id),
            now,
        )
        .await?;
        self.audit_both_sides(
            &mut tx,
            call,
            &customer,
            &msp,
            super_user,
            "delegation.revoke",
            id,
            Some(json!({"state": before, "msp_user": row.msp_user_email})),
            Some(json!({"state": "revoked"})),
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        // The revocation cascade bumped the tenant version: this process's cached tokens
        // of the delegate go at once, other processes' within the re-read interval.
        self.tenants.invalidate();
        Ok(())
    }

    /// The customer's log always; the MSP's own log too when an MSP super-user acted.
    #[allow(clippy::too_many_arguments)]
    async fn audit_both_sides(
        &self,
        conn: &mut Conn,
        call: &OrgCall,
        customer: &Tenant,
        msp: &Tenant,
        msp_side: bool,
        action: &str,
        id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<()> {
        let now = self.clock.now();
        let target = format!("delegation:{id}");
        audit::append(
            &self.keys,
            conn,
            &customer.id,
            &call.actor(),
            Change {
                action,
                target: target.clone(),
                before: before.clone(),
                after: after.clone(),
            },
            now,
            call.request_id.as_deref(),
        )
        .await?;
        if msp_side {
            let with_customer = |v: Option<Value>| {
                v.map(|mut v| {
                    v["customer"] = json!(customer.name);
                    v
                })
            };
            audit::append(
                &self.keys,
                conn,
                &msp.id,
                &call.principal.actor_in(msp),
                Change {
                    action,
                    target,
                    before: with_customer(before),
                    after: with_customer(after),
                },
                now,
                call.request_id.as_deref(),
            )
            .await?;
        }
        Ok(())
    }

    /// Revoke the given open delegations (offboarding, promotion to super-user) inside
    /// the caller's transaction, which has already bumped every customer involved. Each
    /// revocation is audited in its customer's log.
    pub(crate) async fn revoke_delegations_in(
        &self,
        conn: &mut Conn,
        open: &[rows::DelegationRow],
        customer_actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<Vec<Value>> {
        let now = self.clock.now();
        let mut revoked = Vec::new();
        for d in open {
            let customer = TenantId(d.tenant_id.clone());
            if !rows::revoke(conn, &customer, &d.id, &customer_actor.id, now).await? {
                continue;
            }
            let msp = TenantId(d.msp_tenant_id.clone());
            crate::core::sessions::end_msp_user_in_customers(
                conn,
                &msp,
                &d.msp_user_id,
                Some(&customer),
                now,
            )
            .await?;
            audit::append(
                &self.keys,
                conn,
                &customer,
                customer_actor,
                Change {
                    action: "delegation.revoke",
                    target: format!("delegation:{}", d.id),
                    before: Some(json!({
                        "state": state_at(&d.state, d.expires_at, now),
                        "msp_user": d.msp_user_email,
                    })),
                    after: Some(json!({"state": "revoked"})),
                },
                now,
                request_id,
            )
            .await?;
            revoked.push(json!({"id": d.id, "customer": d.customer}));
        }
        Ok(revoked)
    }
}
