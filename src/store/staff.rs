//! MSP staff (tenant id = the MSP): the staff role of each user (`technician` for staff
//! without an MSP role), the customers a scoped role covers, and what offboarding removes.
//! Must not import core, http or axum.

use super::{db, flag, Conn};
use crate::error::Result;
use crate::ids::TenantId;

/// One staff member with the user behind it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffMemberRow {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub scope_all: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! select_staff {
    ($rest:literal) => {
        concat!(
            "SELECT r.user_id, u.email, u.display_name, r.role, r.scope_all, r.created_at, \
             r.updated_at FROM msp_staff_roles r JOIN users u ON u.tenant_id = r.tenant_id \
             AND u.id = r.user_id WHERE r.tenant_id = $1 ",
            $rest
        )
    };
}

/// Every staff member of the MSP, ordered by e-mail.
pub async fn list(conn: &mut Conn, msp: &TenantId) -> Result<Vec<StaffMemberRow>> {
    sqlx::query_as(select_staff!("ORDER BY u.email_norm, r.user_id"))
        .bind(msp.as_str())
        .fetch_all(conn)
        .await
        .map_err(db)
}

pub async fn get(conn: &mut Conn, msp: &TenantId, user: &str) -> Result<Option<StaffMemberRow>> {
    sqlx::query_as(select_staff!("AND r.user_id = $2"))
        .bind(msp.as_str())
        .bind(user)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// Set the user's staff role (inserting the row when the user had none).
pub async fn set_role(
    conn: &mut Conn,
    msp: &TenantId,
    user: &str,
    role: &str,
    scope_all: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO msp_staff_roles (tenant_id, user_id, role, scope_all, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, user_id) DO UPDATE SET \
         role = excluded.role, scope_all = excluded.scope_all, updated_at = excluded.updated_at",
    )
    .bind(msp.as_str())
    .bind(user)
    .bind(role)
    .bind(flag(scope_all))
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// (customer id, customer name) of the customers listed in the user's scope.
pub async fn scope(conn: &mut Conn, msp: &TenantId, user: &str) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT s.customer_id, t.name FROM msp_staff_scope s JOIN tenants t ON t.id = s.customer_id \
         WHERE s.tenant_id = $1 AND s.user_id = $2 ORDER BY t.name",
    )
    .bind(msp.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Replace the listed customers of the user's scope (the role row must exist).
pub async fn replace_scope(
    conn: &mut Conn,
    msp: &TenantId,
    user: &str,
    customers: &[TenantId],
) -> Result<()> {
    sqlx::query("DELETE FROM msp_staff_scope WHERE tenant_id = $1 AND user_id = $2")
        .bind(msp.as_str())
        .bind(user)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for c in customers {
        sqlx::query(
            "INSERT INTO msp_staff_scope (tenant_id, user_id, customer_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(msp.as_str())
        .bind(user)
        .bind(c.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Remove the user's staff role and scope; false when there was none.
pub async fn delete_role(conn: &mut Conn, msp: &TenantId, user: &str) -> Result<bool> {
    sqlx::query("DELETE FROM msp_staff_scope WHERE tenant_id = $1 AND user_id = $2")
        .bind(msp.as_str())
        .bind(user)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let done = sqlx::query("DELETE FROM msp_staff_roles WHERE tenant_id = $1 AND user_id = $2")
        .bind(msp.as_str())
        .bind(user)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

/// Unused enrolment links of the user stop working (offboarding).
pub async fn delete_open_enrolment_links(
    conn: &mut Conn,
    tenant: &TenantId,
    user: &str,
) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM enrolment_links WHERE tenant_id = $1 AND user_id = $2 AND consumed_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(user)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected())
}
