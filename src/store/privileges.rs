//! What the privilege engine needs from the database: the org's networks (tags, port
//! privileges) and every source of an admin's grants.

use super::{db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

/// (network id, tag) pairs; (network id, port privilege name, capture 0/1).
pub async fn port_privileges(
    conn: &mut Conn,
    tenant: &TenantId,
) -> Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT network_id, name, allow_capture FROM port_privileges WHERE tenant_id = $1 ORDER BY network_id, name",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MembershipRow {
    pub id: String,
    pub user_id: String,
    pub org_access: String,
    pub org_roles: String,
    pub enrolment: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn membership_of_user(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
) -> Result<Option<MembershipRow>> {
    sqlx::query_as(
        "SELECT id, user_id, org_access, org_roles, enrolment, created_at, updated_at FROM admin_memberships \
         WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(user)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

pub async fn membership(
    conn: &mut Conn,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<MembershipRow>> {
    sqlx::query_as(
        "SELECT id, user_id, org_access, org_roles, enrolment, created_at, updated_at FROM admin_memberships \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)
}

/// (mapping id, mapping name, bundle JSON) of the role mappings that select this user.
pub async fn mapped_roles_of_user(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
) -> Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "SELECT m.id, m.name, m.bundle FROM user_mapped_roles u JOIN role_mappings m \
         ON m.tenant_id = u.tenant_id AND m.id = u.mapping_id \
         WHERE u.tenant_id = $1 AND u.user_id = $2 ORDER BY m.id",
    )
    .bind(tenant.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub user_id: String,
    pub role: String,
    pub scope_all: i64,
}

pub async fn staff_role(conn: &mut Conn, msp: &TenantId, user: &str) -> Result<Option<StaffRow>> {
    sqlx::query_as("SELECT user_id, role, scope_all FROM msp_staff_roles WHERE tenant_id = $1 AND user_id = $2")
        .bind(msp.as_str())
        .bind(user)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

pub async fn staff_scope_contains(
    conn: &mut Conn,
    msp: &TenantId,
    user: &str,
    customer: &TenantId,
) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT customer_id FROM msp_staff_scope WHERE tenant_id = $1 AND user_id = $2 AND customer_id = $3",
    )
    .bind(msp.as_str())
    .bind(user)
    .bind(customer.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(row.is_some())
}

/// Staff of an MSP whose role covers `customer` (all-customers scope or listed).
/// Technicians hold no MSP role: they reach customers only through delegations.
pub async fn staff_in_scope(
    conn: &mut Conn,
    msp: &TenantId,
    customer: &TenantId,
) -> Result<Vec<StaffRow>> {
    sqlx::query_as(
        "SELECT r.user_id, r.role, r.scope_all FROM msp_staff_roles r WHERE r.tenant_id = $1 AND \
         r.role <> 'technician' AND (r.scope_all = 1 OR r.role = 'super-user' OR EXISTS (SELECT 1 FROM msp_staff_scope s \
         WHERE s.tenant_id = r.tenant_id AND s.user_id = r.user_id AND s.customer_id = $2)) ORDER BY r.user_id",
    )
    .bind(msp.as_str())
    .bind(customer.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DelegationRow {
    pub id: String,
    pub msp_tenant_id: String,
    pub msp_user_id: String,
    pub bundle: String,
    pub state: String,
    pub expires_at: Option<i64>,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

pub const DELEGATION_COLUMNS: &str =
    "id, msp_tenant_id, msp_user_id, bundle, state, expires_at, created_by, \
     approved_by, approved_at, revoked_by, revoked_at, created_at";

/// Delegations (not revoked) of one MSP user to one customer.
pub async fn delegations_of(
    conn: &mut Conn,
    customer: &TenantId,
    msp_user: &str,
) -> Result<Vec<DelegationRow>> {
    sqlx::query_as(
        "SELECT id, msp_tenant_id, msp_user_id, bundle, state, expires_at, created_by, approved_by, approved_at, \
         revoked_by, revoked_at, created_at FROM delegations \
         WHERE tenant_id = $1 AND msp_user_id = $2 AND state <> 'revoked' ORDER BY created_at, id",
    )
    .bind(customer.as_str())
    .bind(msp_user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// MSP users holding an approved delegation to this customer (pending and revoked ones
/// give nothing, so they make nobody an admin). The store has no clock: callers that can
/// pass "now" use [`active_delegates`], which also leaves out expired delegations.
pub async fn delegates(conn: &mut Conn, customer: &TenantId) -> Result<Vec<String>> {
    active_delegates(conn, customer, i64::MIN).await
}

/// MSP users holding a delegation to this customer that counts at `now`: approved and
/// not expired (`now >= expires_at` is expired, privileges.md).
pub async fn active_delegates(
    conn: &mut Conn,
    customer: &TenantId,
    now: i64,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT msp_user_id FROM delegations WHERE tenant_id = $1 AND state = 'approved' \
         AND (expires_at IS NULL OR expires_at > $2) ORDER BY msp_user_id",
    )
    .bind(customer.as_str())
    .bind(now)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Users of this tenant with a role mapping but no own membership (directory admins).
pub async fn mapped_users(conn: &mut Conn, tenant: &TenantId) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT user_id FROM user_mapped_roles WHERE tenant_id = $1 ORDER BY user_id",
    )
    .bind(tenant.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
