//! Users, admin memberships with their grants, MSP staff roles, and enrolment links.

use super::{conflict_or, db, Conn};
use crate::error::Result;
use crate::ids::{MembershipId, TenantId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub status: String,
    pub created_at: i64,
}

pub async fn insert_user(
    conn: &mut Conn,
    tenant: &TenantId,
    row: &UserRow,
    email_norm: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (tenant_id, id, email, email_norm, display_name, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(tenant.as_str())
    .bind(&row.id)
    .bind(&row.email)
    .bind(email_norm)
    .bind(&row.display_name)
    .bind(&row.status)
    .bind(row.created_at)
    .execute(conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            "email_in_use",
            format!("{} is already known in this organization", row.email),
        )
    })?;
    Ok(())
}

pub async fn find_user_by_email(
    conn: &mut Conn,
    tenant: &TenantId,
    email_norm: &str,
) -> Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, email, display_name, status, created_at FROM users \
         WHERE tenant_id = $1 AND email_norm = $2",
    )
    .bind(tenant.as_str())
    .bind(email_norm)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn insert_membership(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &MembershipId,
    user: &UserId,
    org_access: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO admin_memberships (tenant_id, id, user_id, org_access, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(user.as_str())
    .bind(org_access)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "already_admin", "this user is already an admin here"))?;
    Ok(())
}

pub async fn insert_grant(
    conn: &mut Conn,
    tenant: &TenantId,
    membership: &MembershipId,
    target: &str,
    network_id: Option<&str>,
    access: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO admin_grants (tenant_id, membership_id, target, network_id, access, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(membership.as_str())
    .bind(target)
    .bind(network_id)
    .bind(access)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminRow {
    pub membership_id: String,
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub org_access: String,
    pub enrolment: String,
}

pub async fn list_admins(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<AdminRow>> {
    sqlx::query_as(
        "SELECT m.id AS membership_id, u.id AS user_id, u.email, u.display_name, m.org_access, m.enrolment \
         FROM admin_memberships m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY u.email_norm",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// (target, access) of one membership, ordered.
pub async fn grants_of(
    conn: &mut Conn,
    tenant: &TenantId,
    membership: &str,
) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT target, access FROM admin_grants WHERE tenant_id = $1 AND membership_id = $2 \
         ORDER BY target, access",
    )
    .bind(tenant.as_str())
    .bind(membership)
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn insert_staff_role(
    conn: &mut Conn,
    msp: &TenantId,
    user: &UserId,
    role: &str,
    scope_all: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO msp_staff_roles (tenant_id, user_id, role, scope_all, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(msp.as_str())
    .bind(user.as_str())
    .bind(role)
    .bind(super::flag(scope_all))
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "already_staff", "this user already has an MSP role"))?;
    Ok(())
}

pub async fn staff_role(conn: &mut Conn, msp: &TenantId, user: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM msp_staff_roles WHERE tenant_id = $1 AND user_id = $2")
            .bind(msp.as_str())
            .bind(user)
            .fetch_optional(conn)
            .await
            .map_err(db)?;
    Ok(row.map(|r| r.0))
}

/// Replace every open enrolment link of the user by a new one (resending invalidates the
/// previous link).
pub async fn replace_enrolment_link(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &UserId,
    link_id: &str,
    token_hash: &str,
    expires_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM enrolment_links WHERE tenant_id = $1 AND user_id = $2 AND consumed_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO enrolment_links (tenant_id, id, user_id, token_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_str())
    .bind(link_id)
    .bind(user.as_str())
    .bind(token_hash)
    .bind(expires_at)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The user an unexpired, unconsumed enrolment link belongs to.
pub async fn enrolment_link_user(
    conn: &mut Conn,
    tenant: &TenantId,
    token_hash: &str,
    now: i64,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT user_id FROM enrolment_links WHERE tenant_id = $1 AND token_hash = $2 \
         AND consumed_at IS NULL AND expires_at > $3",
    )
    .bind(tenant.as_str())
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| r.0))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FullUserRow {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub status: String,
    pub source: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn user_by_id(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<FullUserRow>> {
    sqlx::query_as(
        "SELECT id, email, display_name, status, source, failed_logins, locked_until, created_at, updated_at \
         FROM users WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub membership_id: String,
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub status: String,
    pub locked_until: Option<i64>,
    pub org_access: String,
    pub org_roles: String,
    pub enrolment: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Every admin membership of the tenant with its user, ordered by e-mail.
pub async fn members(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT m.id AS membership_id, u.id AS user_id, u.email, u.display_name, u.status, u.locked_until, \
         m.org_access, m.org_roles, m.enrolment, m.created_at, m.updated_at \
         FROM admin_memberships m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY u.email_norm, m.id",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

pub async fn set_org_access(
    conn: &mut Conn,
    tenant: &TenantId,
    membership: &str,
    access: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE admin_memberships SET org_access = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(membership)
        .bind(access)
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn touch_membership(
    conn: &mut Conn,
    tenant: &TenantId,
    membership: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE admin_memberships SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(membership)
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn delete_grant(
    conn: &mut Conn,
    tenant: &TenantId,
    membership: &str,
    target: &str,
    access: &str,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM admin_grants WHERE tenant_id = $1 AND membership_id = $2 AND target = $3 AND access = $4",
    )
    .bind(tenant.as_str())
    .bind(membership)
    .bind(target)
    .bind(access)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn delete_membership(
    conn: &mut Conn,
    tenant: &TenantId,
    membership: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM admin_memberships WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(membership)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_user(conn: &mut Conn, tenant: &TenantId, user: &str) -> Result<()> {
    sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Lift a lock and forget the failures counted against the account (migrations 0006).
pub async fn unlock_user(conn: &mut Conn, tenant: &TenantId, user: &str, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM account_failures WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Lock a user until `until` (the passkey issue's lockout policy calls this; tests too).
pub async fn lock_user(conn: &mut Conn, tenant: &TenantId, user: &str, until: i64) -> Result<()> {
    sqlx::query("UPDATE users SET locked_until = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(user)
        .bind(until)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Unlocked admins holding org full through their own account (pending enrolment counts):
/// privileges.md rule 4.
pub async fn count_full_admins(conn: &mut Conn, tenant: &TenantId, now: i64) -> Result<i64> {
    let row: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM admin_memberships m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
         WHERE m.tenant_id = $1 AND m.org_access = 'full' AND u.status = 'active' \
         AND (u.locked_until IS NULL OR u.locked_until <= $2)",
    )
    .bind(tenant.as_str())
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(db)?;
    Ok(row.0)
}
