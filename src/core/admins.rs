//! Admins: a user plus an admin membership (org access and network/tag grants), and the
//! passkey enrolment link each new admin receives (product.md "Sign-in").
//!
//! The admin API's rules for who may grant what (privileges.md rules 1-11) arrive with
//! the privileges issue; here the server's own CLI acts, which may do anything.

use super::audit::{self, Actor, Change};
use super::{Core, Error, Result};
use crate::authz::{Grant, NetworkAccess, OrgAccess, Target};
use crate::clock::rfc3339;
use crate::ids::{credential, EnrolmentId, MembershipId, UserId};
use crate::store::{
    self, networks as net_rows, passkeys as pk_rows, tenants as tenant_rows, users as rows, Conn,
    Tx,
};
use crate::tenancy::Tenant;
use serde::Serialize;
use serde_json::json;

/// Enrolment links live 72 h (security.md "Lifetimes").
pub const ENROLMENT_SECONDS: i64 = 72 * 3600;
pub const ENROLMENT_PREFIX: &str = "tnt_enr_";
const ENROLMENT_PURPOSE: &str = "enrolment";

/// A new admin, validated.
#[derive(Debug, Clone)]
pub struct AdminSpec {
    pub email: String,
    pub display_name: Option<String>,
    pub org_access: OrgAccess,
    pub grants: Vec<Grant>,
}

impl AdminSpec {
    /// Check the e-mail and that some access is given (org access or at least one grant).
    pub fn new(
        email: &str,
        display_name: Option<&str>,
        org_access: Option<OrgAccess>,
        grants: Vec<Grant>,
    ) -> Result<Self> {
        let email = email.trim();
        validate_email(email)?;
        if org_access.is_none() && grants.is_empty() {
            return Err(Error::invalid(
                "no_access",
                "give the admin an org access (--org-access) or at least one grant (--grant)",
            ));
        }
        if grants.iter().any(|g| g.target == Target::All) {
            return Err(Error::invalid(
                "invalid_grant",
                "the target 'all' belongs to MSP roles; grant a network or a tag",
            ));
        }
        let display_name = display_name.map(str::trim).filter(|n| !n.is_empty());
        if display_name.is_some_and(|n| n.len() > 200 || n.chars().any(char::is_control)) {
            return Err(Error::invalid(
                "invalid_name",
                "the name must be at most 200 printable characters",
            ));
        }
        Ok(AdminSpec {
            email: email.to_string(),
            display_name: display_name.map(str::to_string),
            org_access: org_access.unwrap_or(OrgAccess::None),
            grants,
        })
    }
}

/// A deliberately plain check: one `@`, something on each side, no spaces, at most 254.
pub fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "invalid_email",
            format!("'{email}' is not an e-mail address"),
        ))
    }
}

/// E-mails are compared case-insensitively within a tenant.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatedAdmin {
    pub user_id: String,
    pub membership_id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub org_access: OrgAccess,
    pub grants: Vec<GrantView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msp_role: Option<String>,
    pub enrolment_url: String,
    pub enrolment_expires_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    pub target: String,
    pub access: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdminView {
    pub user_id: String,
    pub membership_id: String,
    pub email: String,
    pub org_access: String,
    pub enrolment: String,
    pub grants: Vec<GrantView>,
}

impl Core {
    /// `tenantry admin add`: a new user with an admin membership and an enrolment link.
    pub async fn add_admin(
        &self,
        tenant_name: &str,
        spec: AdminSpec,
        actor: &Actor,
    ) -> Result<CreatedAdmin> {
        let tenant = self.find_tenant(tenant_name).await?;
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let created = self
            .insert_admin(&mut tx, &tenant, &spec, None, actor, None)
            .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        self.send_created_admin(&tenant, &created).await;
        Ok(created)
    }

    /// Insert user, membership, grants, optional MSP role and an enrolment link, inside
    /// the caller's transaction.
    pub(crate) async fn insert_admin(
        &self,
        tx: &mut Tx,
        tenant: &Tenant,
        spec: &AdminSpec,
        msp_role: Option<&str>,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<CreatedAdmin> {
        let now = self.clock.now();
        let email_norm = normalise_email(&spec.email);
        if rows::find_user_by_email(tx, &tenant.id, &email_norm)
            .await?
            .is_some()
        {
            return Err(email_in_use(&spec.email, &tenant.name));
        }
        check_grants(tx, tenant, &spec.grants).await?;
        let user = UserId::generate();
        rows::insert_user(
            tx,
            &tenant.id,
            &rows::UserRow {
                id: user.to_string(),
                email: spec.email.clone(),
                display_name: spec.display_name.clone(),
                status: "active".into(),
                created_at: now,
            },
            &email_norm,
        )
        .await
        .map_err(|e| match e {
            Error::Conflict { .. } => email_in_use(&spec.email, &tenant.name),
            other => other,
        })?;
        let membership = MembershipId::generate();
        rows::insert_membership(
            tx,
            &tenant.id,
            &membership,
            &user,
            spec.org_access.as_str(),
            now,
        )
        .await?;
        let mut grants = Vec::new();
        for g in &spec.grants {
            let network = match &g.target {
                Target::Network(id) => Some(id.as_str()),
                _ => None,
            };
            let (target, access) = (g.target.to_string(), g.access.to_string());
            rows::insert_grant(tx, &tenant.id, &membership, &target, network, &access, now).await?;
            grants.push(GrantView { target, access });
        }
        if let Some(role) = msp_role {
            rows::insert_staff_role(tx, &tenant.id, &user, role, true, now).await?;
        }
        audit::append(&self.keys,
            tx,
            &tenant.id,
            actor,
            Change {
                action: "admin.add",
                target: format!("user:{user}"),
                before: None,
                after: Some(json!({
                    "email": spec.email,
                    "org_access": spec.org_access.as_str(),
                    "grants": grants.iter().map(|g| format!("{}={}", g.target, g.access)).collect::<Vec<_>>(),
                    "msp_role": msp_role,
                })),
            },
            now,
            request_id,
        )
        .await?;
        let (url, expires) = self.issue_enrolment_link(tx, tenant, &user, now).await?;
        Ok(CreatedAdmin {
            user_id: user.to_string(),
            membership_id: membership.to_string(),
            email: spec.email.clone(),
            display_name: spec.display_name.clone(),
            org_access: spec.org_access,
            grants,
            msp_role: msp_role.map(str::to_string),
            enrolment_url: url,
            enrolment_expires_at: rfc3339(expires),
        })
    }

    /// A fresh enrolment link for the user; any earlier unused link stops working. Only the
    /// keyed hash is stored; the URL is shown once.
    pub(crate) async fn issue_enrolment_link(
        &self,
        conn: &mut Conn,
        tenant: &Tenant,
        user: &UserId,
        now: i64,
    ) -> Result<(String, i64)> {
        let token = credential(ENROLMENT_PREFIX);
        let hash = self.keys.hash_credential(ENROLMENT_PURPOSE, &token);
        let expires = now + ENROLMENT_SECONDS;
        rows::replace_enrolment_link(
            conn,
            &tenant.id,
            user,
            EnrolmentId::generate().as_str(),
            &hash,
            expires,
            now,
        )
        .await?;
        Ok((
            format!("{}/enroll/{token}", self.issuer(&tenant.name)),
            expires,
        ))
    }

    /// Which user an enrolment token belongs to, if it is valid now (never consumes it).
    pub async fn enrolment_user(&self, tenant: &Tenant, token: &str) -> Result<Option<UserId>> {
        if !token.starts_with(ENROLMENT_PREFIX) {
            return Ok(None);
        }
        let hash = self.keys.hash_credential(ENROLMENT_PURPOSE, token);
        let mut conn = self.store.conn().await?;
        Ok(
            rows::enrolment_link_user(&mut conn, &tenant.id, &hash, self.clock.now())
                .await?
                .map(UserId),
        )
    }

    /// Admins of a tenant with their grants.
    pub async fn list_admins(&self, tenant: &Tenant) -> Result<Vec<AdminView>> {
        let mut conn = self.store.conn().await?;
        let admins = rows::list_admins(&mut conn, &tenant.id).await?;
        let mut out = Vec::with_capacity(admins.len());
        for a in admins {
            let grants = rows::grants_of(&mut conn, &tenant.id, &a.membership_id)
                .await?
                .into_iter()
                .map(|(target, access)| GrantView { target, access })
                .collect();
            out.push(AdminView {
                user_id: a.user_id,
                membership_id: a.membership_id,
                email: a.email,
                org_access: a.org_access,
                enrolment: a.enrolment,
                grants,
            });
        }
        Ok(out)
    }

    /// New enrolment links for every admin who has not enrolled yet (the old ones stop
    /// working): what `tenantry demo` prints on a re-run.
    pub async fn reissue_pending_enrolments(
        &self,
        tenant: &Tenant,
        actor: &Actor,
    ) -> Result<Vec<(String, String)>> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let mut links = Vec::new();
        for a in rows::list_admins(&mut tx, &tenant.id).await? {
            if a.enrolment != "pending" {
                continue;
            }
            let user = UserId(a.user_id.clone());
            let (url, expires) = self
                .issue_enrolment_link(&mut tx, tenant, &user, now)
                .await?;
            audit::append(
                &self.keys,
                &mut tx,
                &tenant.id,
                actor,
                Change {
                    action: "admin.enrolment_link",
                    target: format!("user:{user}"),
                    before: None,
                    after: None,
                },
                now,
                None,
            )
            .await?;
            links.push((a.email, url, expires));
        }
        tx.commit().await.map_err(store::db)?;
        let mut out = Vec::with_capacity(links.len());
        for (email, url, expires) in links {
            self.send_enrolment(tenant, &email, &url, &rfc3339(expires))
                .await;
            out.push((email, url));
        }
        Ok(out)
    }
}

/// What `tenantry admin unlock` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Unlocked {
    pub user_id: String,
    pub email: String,
    /// Whether a lock was in force when it was lifted.
    pub was_locked: bool,
    /// Failures counted against the account before they were cleared.
    pub failed_logins: i64,
}

/// A reset account: what `tenantry admin recover` prints and `POST .../recover` adds to
/// the admin resource.
#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    pub user_id: String,
    pub email: String,
    pub passkeys_removed: u64,
    pub enrolment: &'static str,
    pub enrolment_url: String,
    pub enrolment_expires_at: String,
}

impl Core {
    /// `tenantry admin unlock`: lift the lock and clear the failure counters (the server's
    /// own CLI acts, so rule 6 does not apply). Audited as `admin.unlock`.
    pub async fn cli_unlock_admin(
        &self,
        tenant_name: &str,
        email: &str,
        actor: &Actor,
    ) -> Result<Unlocked> {
        let tenant = self.find_tenant(tenant_name).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let user = account_by_email(&mut tx, &tenant, email).await?;
        let was_locked = user.locked_until.is_some_and(|t| t > now);
        rows::unlock_user(&mut tx, &tenant.id, &user.id, now).await?;
        audit::append(
            &self.keys,
            &mut tx,
            &tenant.id,
            actor,
            Change {
                action: "admin.unlock",
                target: format!("user:{}", user.id),
                before: Some(json!({
                    "locked_until": user.locked_until.map(rfc3339),
                    "failed_logins": user.failed_logins,
                })),
                after: None,
            },
            now,
            None,
        )
        .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        Ok(Unlocked {
            user_id: user.id,
            email: user.email,
            was_locked,
            failed_logins: user.failed_logins,
        })
    }

    /// `tenantry admin recover`: the break-glass reset of an account (product.md
    /// "Sign-in"); see [`Core::reset_account`].
    pub async fn cli_recover_admin(
        &self,
        tenant_name: &str,
        email: &str,
        actor: &Actor,
    ) -> Result<Recovered> {
        let tenant = self.find_tenant(tenant_name).await?;
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &tenant.id).await? {
            return Err(Error::NotFound);
        }
        let user = account_by_email(&mut tx, &tenant, email).await?;
        let done = self
            .reset_account(&mut tx, &tenant, &user.id, &user.email, actor, None)
            .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        self.send_enrolment(
            &tenant,
            &done.email,
            &done.enrolment_url,
            &done.enrolment_expires_at,
        )
        .await;
        Ok(done)
    }

    /// POST /admins/{id}/recover: allowed by rule 6 exactly as unlocking is.
    pub async fn api_recover_admin(
        &self,
        call: &super::manage::OrgCall,
        id: &str,
    ) -> Result<Recovered> {
        let mut tx = self.store.begin().await?;
        if !tenant_rows::bump_version(&mut tx, &call.org.id).await? {
            return Err(Error::NotFound);
        }
        let (a, res, target_eff) = self.find_admin(&mut tx, call, id).await?;
        super::manage::require_local(call, &a, "MSP staff are recovered in their MSP")?;
        super::manage::require_rule6(
            call,
            &target_eff,
            "recovering an account needs privileges equal to or greater than its admin's",
        )?;
        let done = self
            .reset_account(
                &mut tx,
                &call.org,
                &a.user_id,
                &res.email,
                &call.actor(),
                call.request_id.as_deref(),
            )
            .await?;
        tx.commit().await.map_err(store::db)?;
        self.tenants.invalidate();
        self.send_enrolment(
            &call.org,
            &done.email,
            &done.enrolment_url,
            &done.enrolment_expires_at,
        )
        .await;
        Ok(done)
    }

    /// Reset an account inside the caller's transaction: every passkey removed, every
    /// session ended with its refresh tokens and access tokens revoked (the revocation
    /// cascade), the lock and failure counters cleared, enrolment back to pending, and a
    /// fresh enrolment link (earlier links stop working). Audited as `admin.recover`.
    async fn reset_account(
        &self,
        tx: &mut Tx,
        tenant: &Tenant,
        user: &str,
        email: &str,
        actor: &Actor,
        request_id: Option<&str>,
    ) -> Result<Recovered> {
        let now = self.clock.now();
        let removed = pk_rows::delete_all_of_user(tx, &tenant.id, user).await?;
        super::sessions::end_user(tx, &tenant.id, user, now).await?;
        rows::unlock_user(tx, &tenant.id, user, now).await?;
        pk_rows::mark_pending(tx, &tenant.id, user, now).await?;
        let (url, expires) = self
            .issue_enrolment_link(tx, tenant, &UserId(user.to_string()), now)
            .await?;
        audit::append(
            &self.keys,
            tx,
            &tenant.id,
            actor,
            Change {
                action: "admin.recover",
                target: format!("user:{user}"),
                before: Some(json!({"passkeys": removed})),
                after: Some(json!({"enrolment": "pending", "sessions": "ended"})),
            },
            now,
            request_id,
        )
        .await?;
        Ok(Recovered {
            user_id: user.to_string(),
            email: email.to_string(),
            passkeys_removed: removed,
            enrolment: "pending",
            enrolment_url: url,
            enrolment_expires_at: rfc3339(expires),
        })
    }
}

/// The account an e-mail names in a tenant (compared case-insensitively).
async fn account_by_email(
    conn: &mut Conn,
    tenant: &Tenant,
    email: &str,
) -> Result<rows::FullUserRow> {
    let found = rows::find_user_by_email(conn, &tenant.id, &normalise_email(email)).await?;
    let Some(found) = found else {
        return Err(Error::invalid(
            "unknown_admin",
            format!("{email} is not known in {}", tenant.name),
        ));
    };
    rows::user_by_id(conn, &tenant.id, &found.id)
        .await?
        .ok_or(Error::NotFound)
}

fn email_in_use(email: &str, tenant: &str) -> Error {
    Error::conflict(
        "email_in_use",
        format!(
            "{email} is already known in {tenant}; add access to the existing account instead \
             of creating a second one (PATCH /api/v1/orgs/{tenant}/admins/{{id}})"
        ),
    )
}

/// Network targets must name a network of this tenant; a port privilege must target one
/// network directly, and that network must define it (privileges.md "Levels").
pub(crate) async fn check_grants(conn: &mut Conn, tenant: &Tenant, grants: &[Grant]) -> Result<()> {
    for g in grants {
        if let Target::Network(id) = &g.target {
            if !net_rows::exists(conn, &tenant.id, id).await? {
                return Err(Error::invalid(
                    "unknown_network",
                    format!("{} has no network '{id}'", tenant.name),
                ));
            }
        }
        if let NetworkAccess::Port(name) = &g.access {
            match &g.target {
                Target::Network(id) => {
                    if !net_rows::port_privilege_exists(conn, &tenant.id, id, name).await? {
                        return Err(Error::invalid(
                            "unknown_port_privilege",
                            format!("network '{id}' defines no port privilege '{name}'"),
                        ));
                    }
                }
                _ => {
                    return Err(Error::invalid(
                        "invalid_grant",
                        "a port privilege targets one network (network:ID=port:NAME)",
                    ))
                }
            }
        }
    }
    Ok(())
}
