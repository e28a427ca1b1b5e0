//! Delegations (tenant id = the customer): a technician's privilege bundle in one customer,
//! its approval and its revocation. Rows are never deleted by the API: a revoked
//! delegation keeps its row with state `revoked`. Whether one has expired is computed by
//! core from the clock; the store only keeps `expires_at`. Must not import core, http or axum.

use super::{db, Conn};
use crate::error::Result;
use crate::ids::TenantId;

/// A delegation with the names the API shows: the customer's canonical name and the MSP
/// user's e-mail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DelegationRow {
    pub tenant_id: String,
    pub customer: String,
    pub id: String,
    pub msp_tenant_id: String,
    pub msp_user_id: String,
    pub msp_user_email: String,
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

macro_rules! select_delegations {
    ($rest:literal) => {
        concat!(
            "SELECT d.tenant_id, t.name AS customer, d.id, d.msp_tenant_id, d.msp_user_id, \
             u.email AS msp_user_email, d.bundle, d.state, d.expires_at, d.created_by, \
             d.approved_by, d.approved_at, d.revoked_by, d.revoked_at, d.created_at \
             FROM delegations d JOIN tenants t ON t.id = d.tenant_id \
             JOIN users u ON u.tenant_id = d.msp_tenant_id AND u.id = d.msp_user_id ",
            $rest
        )
    };
}

/// What a new delegation row holds.
#[derive(Debug, Clone)]
pub struct NewDelegation<'a> {
    pub id: &'a str,
    pub msp_tenant_id: &'a TenantId,
    pub msp_user_id: &'a str,
    pub bundle: &'a str,
    pub state: &'a str,
    pub expires_at: Option<i64>,
    pub created_by: &'a str,
    pub approved_by: Option<&'a str>,
    pub approved_at: Option<i64>,
    pub created_at: i64,
}

pub async fn insert(conn: &mut Conn, customer: &TenantId, d: &NewDelegation<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO delegations (tenant_id, id, msp_tenant_id, msp_user_id, bundle, state, expires_at, \
         created_by, approved_by, approved_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(customer.as_str())
    .bind(d.id)
    .bind(d.msp_tenant_id.as_str())
    .bind(d.msp_user_id)
    .bind(d.bundle)
    .bind(d.state)
    .bind(d.expires_at)
    .bind(d.created_by)
    .bind(d.approved_by)
    .bind(d.approved_at)
    .bind(d.created_at)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn get(conn: &mut Conn, customer: &TenantId, id: &str) -> Result<Option<DelegationRow>> {
    sqlx::query_as(select_delegations!("WHERE d.tenant_id = $1 AND d.id = $2"))
        .bind(customer.as_str())
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// Every delegation of one customer, oldest first.
pub async fn list_for_customer(conn: &mut Conn, customer: &TenantId) -> Result<Vec<DelegationRow>> {
    sqlx::query_as(select_delegations!(
        "WHERE d.tenant_id = $1 ORDER BY d.created_at, d.id"
    ))
    .bind(customer.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// Every delegation of an MSP's users across its customers, by customer then age.
pub async fn list_for_msp(conn: &mut Conn, msp: &TenantId) -> Result<Vec<DelegationRow>> {
    sqlx::query_as(select_delegations!(
        "WHERE d.msp_tenant_id = $1 ORDER BY t.name, d.created_at, d.id"
    ))
    .bind(msp.as_str())
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// The not yet revoked delegations of one MSP user, in every customer.
pub async fn open_of_user(
    conn: &mut Conn,
    msp: &TenantId,
    user: &str,
) -> Result<Vec<DelegationRow>> {
    sqlx::query_as(select_delegations!(
        "WHERE d.msp_tenant_id = $1 AND d.msp_user_id = $2 AND d.state <> 'revoked' \
         ORDER BY d.tenant_id, d.created_at, d.id"
    ))
    .bind(msp.as_str())
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(db)
}

/// pending -> approved; false when it was not pending (a concurrent approval or revocation
/// got there first).
pub async fn approve(
    conn: &mut Conn,
    customer: &TenantId,
    id: &str,
    by: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE delegations SET state = 'approved', approved_by = $3, approved_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND state = 'pending'",
    )
    .bind(customer.as_str())
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

/// Anything not yet revoked -> revoked; false when it already was.
pub async fn revoke(
    conn: &mut Conn,
    customer: &TenantId,
    id: &str,
    by: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE delegations SET state = 'revoked', revoked_by = $3, revoked_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND state <> 'revoked'",
    )
    .bind(customer.as_str())
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}
